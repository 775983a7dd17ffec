"""The line between trusted and untrusted text, attacked through `leanfilter verify` itself.

Each case in trust_cases.json is one input line that tries to choose the text it is checked
against (its own header or statement for a known problem, a command dressed as an import, an
axiom grant read from a comment, a constant that proves nothing, a NUL that stalls a worker), and
a correct twin that must still be proved. All lines go through the real CLI with real coqtop
sessions under the default policy: once with the shipped miniF2F-rocq problems as `--problems`,
once without for the cases that have no problem.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict

HERE = Path(__file__).parent
TIMEOUT = 30


class Expected(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    status: str
    reason: str


class TrustCase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    item: int
    problems: bool
    why: str
    line: dict
    expect: Expected | Literal["not_proved"]
    twin: dict


SUITE = json.loads((HERE / "trust_cases.json").read_text())
CASES = [TrustCase.model_validate(c) for c in SUITE["cases"]]


def run_verify(tmp: Path, lines: list[dict], problems: Path | None) -> list[dict]:
    """Verdicts of `leanfilter verify` on these lines, in input order."""
    candidates, output = tmp / "candidates.jsonl", tmp / "verdicts.jsonl"
    candidates.write_text("".join(json.dumps(line) + "\n" for line in lines))
    argv = [sys.executable, "-m", "leanfilter", "verify", str(candidates), "-o", str(output)]
    argv += ["--backend", "coq", "--workers", "2", "--timeout", str(TIMEOUT), "--no-progress"]
    if problems is not None:
        argv += ["--problems", str(problems)]
    subprocess.run(argv, check=True, capture_output=True, timeout=20 * TIMEOUT)
    verdicts = [json.loads(line) for line in output.read_text().splitlines()]
    return sorted(verdicts, key=lambda v: v["line"])


@pytest.fixture(scope="module")
def verdicts(benchmark_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """(case id, "attack" | "twin") -> verdict."""
    found: dict[tuple[str, str], dict] = {}
    for with_problems in (True, False):
        cases = [c for c in CASES if c.problems is with_problems]
        lines = [line for c in cases for line in (c.line, c.twin)]
        problems = benchmark_data / SUITE["problems"] if with_problems else None
        answered = run_verify(tmp_path_factory.mktemp("trust"), lines, problems)
        assert len(answered) == len(lines)
        for i, case in enumerate(cases):
            found[case.id, "attack"], found[case.id, "twin"] = answered[2 * i : 2 * i + 2]
    return found


IDS = [c.id for c in CASES]


@pytest.mark.coq
@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_attack_is_not_obeyed(case: TrustCase, verdicts: dict) -> None:
    verdict = verdicts[case.id, "attack"]
    assert verdict["status"] != "proved", case.why
    if case.expect != "not_proved":
        assert (verdict["status"], verdict["reason"]) == (case.expect.status, case.expect.reason)


@pytest.mark.coq
@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_twin_is_proved(case: TrustCase, verdicts: dict) -> None:
    verdict = verdicts[case.id, "twin"]
    assert verdict["status"] == "proved", (verdict["reason"], verdict.get("detail"))


def test_the_two_shipped_problems_that_hold_in_nat_are_attacked() -> None:
    """mathd_algebra_462 and mathd_algebra_55 are statements over R that also hold, by
    computation, in nat: a file that chose its own header counted them solved."""
    attacked = {c.line["name"] for c in CASES if c.item == 6 and c.problems}
    assert {"mathd_algebra_462", "mathd_algebra_55"} <= attacked
