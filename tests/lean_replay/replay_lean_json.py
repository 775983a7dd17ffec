"""Replay double of `lean --json --stdin`: reads a whole file, prints messages from a script.

NOT Lean. It stands in for one `lake env lean --json --stdin` process so that the real
LeanFileBackend (one sandboxed process per check, the file it writes, reading to end of output,
exit codes, attributing messages to parts of the file) runs without a toolchain.

Output format, HAND-WRITTEN after Lean's `--json` (src/util/shell.cpp: "report Lean output (e.g.,
messages) as JSON (one per line)") and published verbatim output of Lean v4.32 (keys caption,
data, endPos, fileName, isSilent, keepFullRange, kind, pos, severity; severity is
`information|warning|error`; a sorry warning has kind `hasSorry`).

Usage: replay_lean_json.py SCRIPT.json. For each rule (`match`: a regex over the file, multiline)
and each place it matches, one message at the line and column of the match: `severity`, `data`
(with `$1`… the regex's groups), optional `kind`. A rule with `fault` ("hang", "abort",
"garbage"; "flood" and "stack" as in replay_repl.py) acts instead. As in Lean, nothing after a
line starting with `#exit` is elaborated.
Exit code 1 when an error was printed, else 0, as `lean` does.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run with -I: no script dir on the path
from replay_repl import die_like_lean_of_memory, die_like_lean_of_stack


def message(text: str, found: re.Match[str], rule: dict) -> tuple[int, int, str]:
    line = text.count("\n", 0, found.start()) + 1
    column = found.start() - (text.rfind("\n", 0, found.start()) + 1)
    data = rule["data"]
    for i, group in enumerate(found.groups(), start=1):
        data = data.replace(f"${i}", group or "")
    record = {
        "caption": "",
        "data": data,
        "endPos": {"column": column + len(found.group(0).split("\n")[0]), "line": line},
        "fileName": "<stdin>",
        "isSilent": False,
        "keepFullRange": False,
        "kind": rule.get("kind", "[anonymous]"),
        "pos": {"column": column, "line": line},
        "severity": rule["severity"],
    }
    return line, column, json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def fault(kind: str) -> None:
    if kind == "hang":
        time.sleep(3600)
    elif kind == "abort":
        sys.stdout.write('{"caption":"","data":"unsolved')
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGABRT)
    elif kind == "garbage":
        print("Stack overflow detected. Aborting.", flush=True)  # on stdout: not Lean's words
    elif kind == "flood":
        die_like_lean_of_memory()
    elif kind == "stack":
        die_like_lean_of_stack()


def main() -> None:
    script = json.loads(Path(sys.argv[1]).read_text())
    text = re.split(r"^#exit\b", sys.stdin.read(), maxsplit=1, flags=re.M)[0]
    printed = []
    for rule in script["rules"]:
        for found in re.finditer(rule["match"], text, re.M):
            if "fault" in rule:
                fault(rule["fault"])
                continue
            printed.append((*message(text, found, rule), rule["severity"]))
    for _, _, line, _ in sorted(printed):
        print(line)
    sys.exit(1 if any(severity == "error" for *_, severity in printed) else 0)


if __name__ == "__main__":
    main()
