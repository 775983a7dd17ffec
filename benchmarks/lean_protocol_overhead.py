"""Engine-side cost of the Lean REPL session's audit protocol, without Lean's own work.

The REPL replay double (tests/lean_replay) answers instantly, so what is timed is the backend:
sandboxed process I/O, JSON framing and parsing, and the extra commands of the audit. Three ways
of checking the same number of candidates, in one run:
- `raw`: one command per candidate straight over the jailed pipe (no audit, no parsing);
- `whole file`: the session with existence + axioms and the proposition check (3 per check);
- `statement`: the session with reference (once), existence + axioms and integrity (3 per check).
With real Lean each extra command also costs its elaboration (milliseconds for `#print axioms`).

Run: python3 benchmarks/lean_protocol_overhead.py [N]
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from lean_replay.world import (
    EXISTS,
    HEADER,
    INTEGRITY,
    PROPOSITION,
    PROVED,
    REFERENCE,
    ReplayWorld,
)

from leanfilter.backends.lean_repl import LeanReplBackend
from leanfilter.records import BackendName, Candidate
from leanfilter.sandbox import JailedProcess

HEADER_TEXT = "import Mathlib\n"
STATEMENT = "theorem foo : 1 + 1 = 2 := by"


def session_rate(world: ReplayWorld, n: int, statement: str | None) -> float:
    backend = LeanReplBackend(
        world.repl_settings([HEADER, REFERENCE, EXISTS, INTEGRITY, PROPOSITION, PROVED])
    )
    proof = "\n  norm_num" if statement else f"{STATEMENT}\n  norm_num"
    candidate = Candidate(
        name="foo",
        backend=BackendName.LEAN,
        statement=statement,
        proof=proof,
        whole_file=statement is None,
    )
    session = backend.open_session(HEADER_TEXT, 0)
    try:
        started = time.perf_counter()
        for tag in range(n):
            session.check(backend.assemble(candidate, tag), timeout=30)
        return n / (time.perf_counter() - started)
    finally:
        session.close()


def raw_rate(world: ReplayWorld, n: int) -> float:
    settings = world.repl_settings([HEADER, PROVED])
    process = JailedProcess(settings.repl_command or [], settings.sandbox, 0, merge_stderr=False)
    end = re.compile(r"\n\n")
    try:
        process.write(json.dumps({"cmd": HEADER_TEXT}) + "\n\n")
        process.read_until(end, time.monotonic() + 30)
        started = time.perf_counter()
        for _ in range(n):
            process.write(json.dumps({"cmd": f"{STATEMENT}\n  norm_num", "env": 0}) + "\n\n")
            process.read_until(end, time.monotonic() + 30)
        return n / (time.perf_counter() - started)
    finally:
        process.kill()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    world = ReplayWorld()
    raw = raw_rate(world, n)
    whole = session_rate(world, n, None)
    stated = session_rate(world, n, STATEMENT)
    print(f"checks per way: {n}")
    print(f"raw (1 command, no audit):         {raw:8.0f} checks/s")
    print(
        f"session, whole file (3 commands):  {whole:8.0f} checks/s  ({raw / whole:.2f}x raw time)"
    )
    print(
        f"session, statement (3 commands):   {stated:8.0f} checks/s  ({raw / stated:.2f}x raw time)"
    )
    print(f"per-check engine overhead, statement: {1000 / stated - 1000 / raw:.2f} ms over raw")


if __name__ == "__main__":
    main()
