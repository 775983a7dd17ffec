"""LeanDojo Benchmark 4 files as problems: loading, every bad record, candidates matched by
`full_name`, and a check through the Lean REPL replay double (never real Lean)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lean_replay.world import EXISTS, HEADER, INTEGRITY, ReplayWorld, recorded

from leanfilter.backends.lean_common import parse_statement
from leanfilter.backends.lean_repl import LeanReplBackend
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.inputs import UntrustedInput, candidate_from_record, load_problems
from leanfilter.leandojo import DEFAULT_HEADER
from leanfilter.pool import PoolConfig
from leanfilter.records import BackendName, Status

FIXTURE = Path(__file__).resolve().parent / "data" / "leandojo_benchmark_4" / "random" / "test.json"
RECORDS: list[dict] = json.loads(FIXTURE.read_text())
FIXTURE_REPO = "https://github.com/leanfilter/leandojo-fixture"


def test_a_leandojo_file_loads_as_trusted_lean_problems_named_by_full_name() -> None:
    problems = load_problems(FIXTURE)
    assert list(problems) == [
        "Fixture.two_add_two",
        "Fixture.add_swap",
        "Fixture.le_add_right_self",
    ]
    for problem in problems.values():
        assert problem.backend is BackendName.LEAN
        assert problem.header == DEFAULT_HEADER
        assert problem.statement.endswith(":=")
        assert problem.split == "test"
        assert problem.source is not None and problem.source.startswith(FIXTURE_REPO + "@")
    # The engine checks the name the statement declares, not the record's `full_name`.
    names = [parse_statement(p.statement).name for p in problems.values()]
    assert names == ["two_add_two", "add_swap", "le_add_right_self"]


def test_detection_reads_the_first_character_whatever_comes_before(tmp_path: Path) -> None:
    path = tmp_path / "leading_space.json"
    path.write_text("\n  " + json.dumps(RECORDS[:1]))
    assert list(load_problems(path)) == ["Fixture.two_add_two"]


def with_record(tmp_path: Path, record: object) -> Path:
    """The fixture with its second record replaced."""
    path = tmp_path / "test.json"
    path.write_text(json.dumps([RECORDS[0], record, RECORDS[2]]))
    return path


def without(field: str) -> dict:
    return {k: v for k, v in RECORDS[1].items() if k != field}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            without("theorem_statement"),
            "field 'theorem_statement' is missing: .*cannot be used alone",
        ),
        ({**RECORDS[1], "theorem_statement": None}, "field 'theorem_statement' is null: .*alone"),
        ({**RECORDS[1], "theorem_statement": 3}, "field 'theorem_statement' must be a non-empty"),
        (
            {**RECORDS[1], "theorem_statement": "  "},
            "field 'theorem_statement' must be a non-empty",
        ),
        (without("full_name"), "field 'full_name' is missing or not a string"),
        ({**RECORDS[1], "full_name": ["Fixture", "x"]}, "field 'full_name' is missing or not a"),
        ("theorem", "expected a JSON object"),
        (
            {**RECORDS[1], "theorem_statement": "theorem x : True :=\x00"},
            "field 'statement' holds binary data",
        ),
    ],
)
def test_a_bad_record_is_refused_naming_file_index_and_field(
    tmp_path: Path, record: object, message: str
) -> None:
    path = with_record(tmp_path, record)
    with pytest.raises(ValueError, match=rf"\A{path}: record 1: {message}"):
        load_problems(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [("[{", "malformed JSON"), ("[1,\n", "malformed JSON")],
)
def test_a_file_that_is_no_json_list_is_refused_in_one_line(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"\A{path}: {message}"):
        load_problems(path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'[{"full_name": "caf\xe9"}]')
    with pytest.raises(ValueError, match=rf"\A{path}: the file is not UTF-8 text"):
        load_problems(path)


def test_a_candidate_names_its_problem_by_full_name_and_gets_the_trusted_text() -> None:
    problems = load_problems(FIXTURE)
    candidate = candidate_from_record({"name": "Fixture.add_swap", "proof": "by omega"}, problems)
    assert candidate.statement == problems["Fixture.add_swap"].statement
    assert candidate.header == DEFAULT_HEADER
    with pytest.raises(UntrustedInput):
        candidate_from_record(
            {
                "name": "Fixture.add_swap",
                "formal_statement": "theorem add_swap : True :=",
                "proof": "by trivial",
            },
            problems,
        )
    with pytest.raises(ValueError, match="unknown problem 'add_swap'"):
        candidate_from_record({"name": "add_swap", "proof": "by omega"}, problems)


def test_a_proof_of_a_leandojo_problem_is_checked_against_its_statement() -> None:
    """The reference Lean elaborates is the record's statement, under the default header."""
    problems = load_problems(FIXTURE)
    candidate = candidate_from_record(
        {"name": "Fixture.add_swap", "proof": "by exact Nat.add_comm a b"}, problems
    )
    reference = recorded(
        r"\Atheorem lf_ref_[0-9a-f]+ \(a b : \u2115\) : a \+ b = b \+ a := sorry\Z", "term_sorry#0"
    )
    proof = recorded(
        r"\A/-- Addition[^\n]*-/\ntheorem add_swap \(a b : \u2115\) : a \+ b = b \+ a := by exact",
        "trace_simp#1",
    )
    backend = LeanReplBackend(
        ReplayWorld().repl_settings([HEADER, reference, EXISTS, INTEGRITY, proof])
    )
    config = VerifierConfig(pool=PoolConfig(workers=1), timeout=30)
    with Verifier(config, backends={BackendName.LEAN: backend}) as verifier:
        (verdict,) = verifier.verify_all([candidate])
    assert verdict.name == "Fixture.add_swap"
    assert verdict.status is Status.PROVED, verdict
