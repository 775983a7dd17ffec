"""Reading problems and candidates: every shipped dataset, every input form, every bad line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leanfilter.backends.coq import parse_signature
from leanfilter.backends.coq_syntax import strip_comments
from leanfilter.inputs import (
    InputError,
    candidate_from_record,
    detect_backend,
    load_problems,
    read_candidates,
)
from leanfilter.records import BackendName

DATASETS = {
    "minif2f_lean/minif2f.jsonl": (BackendName.LEAN, 488),
    "proofnet_lean/proofnet.jsonl": (BackendName.LEAN, None),
    "minicodeprops_lean/minicodeprops_bench_ps.jsonl": (BackendName.LEAN, 201),
    "minif2f_rocq/minif2f_rocq.jsonl": (BackendName.COQ, 488),
}


@pytest.mark.parametrize("relative", sorted(DATASETS))
def test_every_dataset_loads_with_trusted_statements(benchmark_data: Path, relative: str) -> None:
    backend, count = DATASETS[relative]
    problems = load_problems(benchmark_data / relative)
    if count is not None:
        assert len(problems) == count
    for problem in problems.values():
        assert problem.backend is backend
        assert problem.name in problem.statement
        assert "sorry" not in problem.statement
        if backend is BackendName.COQ:
            assert parse_signature(problem.statement).name == problem.name
            assert "Admitted" not in strip_comments(problem.statement + problem.header)
        else:
            assert problem.statement.rstrip().endswith((":= by", ":="))


def test_coq_definitions_before_a_statement_are_part_of_its_trusted_header(
    benchmark_data: Path,
) -> None:
    problems = load_problems(benchmark_data / "minif2f_rocq" / "minif2f_rocq.jsonl")
    with_definitions = [p for p in problems.values() if "Fixpoint" in p.header]
    assert with_definitions
    for problem in with_definitions:
        assert problem.statement.startswith(("Theorem", "Lemma"))


def test_a_whole_lean_file_splits_at_its_imports() -> None:
    code = "import Mathlib\nimport Aesop\n\nopen Nat\n\ntheorem t : 1 = 1 := rfl\n"
    candidate = candidate_from_record({"name": "t", "code": code}, {})
    assert candidate.backend is BackendName.LEAN
    assert candidate.whole_file
    assert candidate.header == "import Mathlib\nimport Aesop\n"
    assert candidate.proof.startswith("\nopen Nat")


def test_a_whole_coq_file_splits_at_its_requires() -> None:
    code = "Require Import Arith.\nOpen Scope nat_scope.\nTheorem t : 1 = 1.\nProof. auto. Qed.\n"
    candidate = candidate_from_record({"name": "t", "code": code}, {})
    assert candidate.backend is BackendName.COQ
    assert candidate.header == "Require Import Arith.\nOpen Scope nat_scope.\n"
    assert candidate.proof.startswith("Theorem t")


def test_sampler_metadata_is_carried() -> None:
    record = {
        "name": "t",
        "formal_statement": "theorem t : True := by",
        "proof": " trivial",
        "model": "m",
        "temperature": 1.0,
        "logp_policy": -3.5,
        "step": 7,
    }
    candidate = candidate_from_record(record, {})
    assert candidate.sampler is not None
    assert (candidate.sampler.model, candidate.sampler.step) == ("m", 7)
    assert candidate.sampler.logp_policy == -3.5


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (("import Mathlib", "theorem x : True := by"), BackendName.LEAN),
        (("Require Import Arith.", "Theorem x : True."), BackendName.COQ),
        (("", "x"), None),
    ],
)
def test_backend_detection(texts: tuple[str, str], expected: BackendName | None) -> None:
    assert detect_backend(*texts) is expected


def test_a_bad_problems_file_names_its_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "problems.jsonl"
    path.write_text(json.dumps({"name": "a", "statement": "theorem a : True := by"}) + "\n{}\n")
    with pytest.raises(ValueError, match=rf"{path}:2: field 'statement' is missing"):
        load_problems(path)


def test_every_line_of_a_candidate_file_is_answered(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(
        b'{"name": "a", "formal_statement": "theorem a : True := by", "proof": "trivial"}\n'
        b"not json\n\n"
        b'{"name": "a", "proof": "trivial"}\n'
    )
    entries = list(read_candidates(path))
    assert [line for line, _ in entries] == [1, 2, 3, 4]
    assert not isinstance(entries[0][1], InputError)
    assert all(isinstance(e, InputError) for _, e in entries[1:])
    assert "formal_statement" in entries[3][1].message
