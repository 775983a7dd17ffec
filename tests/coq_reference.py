"""The plain way to check one Coq proof: a file, one `coqc` process, `Print Assumptions`.

It shares no code with the engine on purpose, so that agreeing with it means something. The
benchmark uses it as the naive baseline.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

COQC_FLAGS = ["-q", "-native-compiler", "no", "-w", "-deprecated-native-compiler-option"]


def coqtop_output(script: str, timeout: float = 120) -> str:
    """A bare `coqtop -emacs` run over `script`: prompts (on stderr) and answers in one stream,
    as a session reads them."""
    done = subprocess.run(
        ["coqtop", "-emacs", "-q"],
        input=script,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    return done.stdout


def coqc_file(header: str, statement: str, tactics: str) -> str:
    name = re.match(r"\s*\w+\s+([\w']+)", statement).group(1)  # type: ignore[union-attr]
    return f"{header}\n{statement}\nProof.\n{tactics}\nQed.\nPrint Assumptions {name}.\n"


def coqc_accepts(text: str, allowed_short_names: frozenset[str], timeout: float = 120) -> bool:
    """True when coqc compiles the file and every assumption printed is allowed."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Candidate.v"
        path.write_text(text)
        try:
            done = subprocess.run(
                ["coqc", *COQC_FLAGS, str(path)],
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=tmp,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False
    if done.returncode != 0:
        return False
    if "Closed under the global context" in done.stdout:
        return True
    axioms = [
        line.split(" : ")[0].strip()
        for line in done.stdout.split("Axioms:", 1)[-1].splitlines()
        if line and not line[0].isspace()
    ]
    return bool(axioms) and all(a.split(".")[-1] in allowed_short_names for a in axioms)
