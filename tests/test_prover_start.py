"""A prover the environment will not let start is one clear line and exit 3, not a verdict per
line. Real jails, real resource limits: the memory cap is set with prlimit and, since root may
raise a hard limit, with CAP_SYS_RESOURCE dropped (setpriv), as an unprivileged user would be."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leanfilter.sandbox import JailedProcess, ProverCannotStart, SandboxConfig

HEADER = "Require Import Arith Lia.\n"


def test_a_binary_that_cannot_run_is_cannot_start_not_a_crash() -> None:
    jail = JailedProcess(["/nonexistent/no-such-prover"], SandboxConfig())
    try:
        with pytest.raises(ProverCannotStart, match=r"cannot start: .*No such file"):
            jail.read_until(re.compile("never"), time.monotonic() + 30)
    finally:
        jail.kill()


def test_a_prover_that_exits_at_once_is_still_a_crash() -> None:
    jail = JailedProcess(["sh", "-c", "exit 125"], SandboxConfig())
    try:
        with pytest.raises(Exception) as caught:
            jail.read_until(re.compile("never"), time.monotonic() + 30)
        assert not isinstance(caught.value, ProverCannotStart)
    finally:
        jail.kill()


@pytest.mark.coq
@pytest.mark.skipif(
    not (shutil.which("prlimit") and shutil.which("setpriv")),
    reason="no util-linux prlimit/setpriv",
)
def test_a_memory_cap_below_the_jails_ends_the_run_naming_the_limit(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(
            json.dumps({"name": f"t{i}", "header": HEADER, "proof": "intros; lia.",
                        "formal_statement": f"Theorem t{i} : forall n : nat, n + {i} = {i} + n."})
            + "\n"
            for i in range(50)
        )
    )  # fmt: skip
    db, out = tmp_path / "proofs.db", tmp_path / "out.jsonl"
    capped = ["prlimit", f"--as={2 * 1024**3}", "setpriv", "--bounding-set", "-sys_resource",
              "--inh-caps", "-sys_resource"]  # fmt: skip
    argv = [sys.executable, "-m", "leanfilter", "verify", str(source), "--db", str(db)]
    result = subprocess.run(
        [*capped, *argv, "-o", str(out), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 3, result.stderr
    said = [x for x in result.stderr.splitlines() if "cannot start" in x]
    assert len(said) == 1 and "RLIMIT_AS" in said[0] and str(2 * 1024**3) in said[0]
    assert "Traceback" not in result.stderr
    assert out.read_text() == ""  # not one `error` verdict per line
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM verdicts WHERE run_id != ''").fetchone() == (0,)
        assert conn.execute("SELECT outcome FROM runs").fetchall() == [("failed",)]
