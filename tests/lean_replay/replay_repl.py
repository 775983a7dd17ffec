"""Replay double of the Lean REPL: speaks its stdin/stdout protocol, answers from a script.

NOT Lean. It stands in for `lake env repl` so that the real LeanReplBackend (process handling,
JSON framing, parsing, timeouts, crash handling) runs against answers Lean really gave (the
REPL's recorded test transcripts) or answers written by hand in Lean's exact format (see
`handwritten.json`), and so that faults can be injected.

Usage: replay_repl.py SCRIPT.json. The script holds `rules`, tried in order against each
command's `cmd` text; the first whose `match` regex matches gives the answer:
- `answer`: JSON text; `$ENV` becomes the next environment id, `$1`… the regex's groups;
- `recorded`: "NAME#i", the i-th recorded answer of NAME.expected.out under `transcripts`,
  verbatim except that its `"env": n` becomes the next environment id;
- `prefix`: text written before the answer (a forged answer, say);
- `limit`: how many commands the rule may answer (afterwards the next rules are tried);
- `fault`: "hang" (never answer), "crash" (half an answer, then exit), "garbage" (not JSON),
  "flood" (allocate until the address-space limit refuses, then die with the words Lean's
  runtime writes: "INTERNAL PANIC: out of memory", exit 1), "stack" (die as Lean does on a
  stack overflow: "Stack overflow detected. Aborting.", SIGABRT), "spew" (endless output).

Framing follows the REPL's `Main.lean`: input lines are joined (each right-trimmed) until a
blank line; queries starting with `#` or `--` are skipped; a query that is not JSON ends the
process, as a malformed request ends the real REPL. Answers end with a blank line.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

_RECORDED_ENV = re.compile(r'"env": \d+\}\s*\Z')


def read_query() -> str | None:
    parts: list[str] = []
    while True:
        line = sys.stdin.readline()
        if line == "":
            return "".join(parts) if parts else None
        if line.strip() == "":
            return "".join(parts)
        parts.append(line.rstrip())


def recorded_answer(transcripts: Path, ref: str) -> str:
    name, index = ref.rsplit("#", 1)
    text = (transcripts / f"{name}.expected.out").read_text()
    return [a for a in text.split("\n\n") if a.strip()][int(index)]


def die_like_lean_of_memory() -> None:
    """Allocate until the address-space limit refuses, then die as Lean's runtime does."""
    hoard = []
    try:
        while True:
            hoard.append(bytearray(64 * 2**20))
    except MemoryError:
        hoard.clear()
    sys.stderr.write("INTERNAL PANIC: out of memory\n")
    sys.stderr.flush()
    os._exit(1)


def die_like_lean_of_stack() -> None:
    sys.stderr.write("\nStack overflow detected. Aborting.\n")
    sys.stderr.flush()
    os.abort()


def fault(kind: str) -> None:
    if kind == "hang":
        time.sleep(3600)
    elif kind == "crash":
        sys.stdout.write('{"messages":\n [{"severity": "error",\n')
        sys.stdout.flush()
        os._exit(134)
    elif kind == "garbage":
        sys.stdout.write("PANIC at Lean.Environment: unreachable code\n\n")
        sys.stdout.flush()
    elif kind == "flood":
        die_like_lean_of_memory()
    elif kind == "stack":
        die_like_lean_of_stack()
    elif kind == "spew":
        while True:
            sys.stdout.write("x" * 2**20)
    else:
        raise SystemExit(f"replay: unknown fault {kind!r}")


def answer_for(rule: dict, found: re.Match[str], env: int, transcripts: Path) -> tuple[str, bool]:
    if "recorded" in rule:
        text = recorded_answer(transcripts, rule["recorded"])
        uses_env = bool(_RECORDED_ENV.search(text))
        return _RECORDED_ENV.sub(f'"env": {env}}}', text), uses_env
    text = rule["answer"]
    for i, group in enumerate(found.groups(), start=1):
        text = text.replace(f"${i}", json.dumps(group or "")[1:-1])
    return text.replace("$ENV", str(env)), "$ENV" in rule["answer"]


def main() -> None:
    script = json.loads(Path(sys.argv[1]).read_text())
    transcripts = Path(script.get("transcripts", "."))
    env = 0
    uses = [0] * len(script["rules"])
    while True:
        query = read_query()
        if query is None:
            return
        if query == "" or query.startswith(("#", "--")):
            continue
        request = json.loads(query)  # like the REPL: a malformed request ends the process
        cmd = request.get("cmd", "")
        if request.get("env", 0) >= env and "env" in request:
            sys.stdout.write('{"message": "Unknown environment."}\n\n')
            sys.stdout.flush()
            continue
        for i, rule in enumerate(script["rules"]):
            found = re.search(rule["match"], cmd, re.S)
            if found and uses[i] < rule.get("limit", uses[i] + 1):
                uses[i] += 1
                break
        else:
            sys.exit(f"replay: no rule answers {cmd[:200]!r}")
        if "fault" in rule:
            fault(rule["fault"])
            continue
        text, uses_env = answer_for(rule, found, env, transcripts)
        sys.stdout.write(rule.get("prefix", "").replace("$ENV", str(env)))
        sys.stdout.write(text.rstrip("\n") + "\n\n")
        sys.stdout.flush()
        env += uses_env


if __name__ == "__main__":
    main()
