"""Reading problems and candidates: every shipped dataset, every input form, every bad line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leanfilter.backends.coq_imports import required_libraries
from leanfilter.backends.coq_statement import parse_signature
from leanfilter.backends.coq_syntax import strip_comments
from leanfilter.inputs import (
    UNTRUSTED,
    InputError,
    candidate_from_record,
    detect_backend,
    load_problems,
    problem_from_record,
    read_candidates,
    split_coq_file,
)
from leanfilter.policy.config import CoqPolicy
from leanfilter.records import BackendName, Candidate, Problem

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
            assert "Admitted" not in strip_comments(f"{problem.statement}\n{problem.header}")
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


# -- the trust boundary: a known problem's header and statement are never the line's ------------

REALS_PROBLEM = Problem(
    name="fake_half",
    backend=BackendName.COQ,
    header="Require Import Reals.\nOpen Scope R_scope.\n",
    statement="Theorem fake_half : 1 / 2 = 0.",
)
LEAN_PROBLEM = Problem(
    name="t",
    backend=BackendName.LEAN,
    header="import Mathlib\nimport Aesop\nset_option maxHeartbeats 400000\nopen Real\n",
    statement="theorem t : (1 : Real) / 2 = 0 := by",
)
PROBLEMS = {p.name: p for p in (REALS_PROBLEM, LEAN_PROBLEM)}


def read_one(tmp_path: Path, record: dict) -> Candidate | InputError:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(record) + "\n")
    [(_, entry)] = list(read_candidates(path, PROBLEMS))
    return entry


@pytest.mark.parametrize(
    "record",
    [
        {"name": "fake_half", "code": "Require Import Arith.\nTheorem fake_half : 1 / 2 = 0.\n"},
        {
            "name": "fake_half",
            "code": "Require Import Reals.\nRequire Import Arith.\nOpen Scope nat_scope.\n",
        },
        {"name": "fake_half", "code": "Theorem fake_half : True.\nexact I. Qed.", "header": ""},
        {
            "name": "fake_half",
            "code": "Theorem fake_half : True. Proof. exact I. Qed.",
            "formal_statement": "Theorem fake_half : True.",
        },
        {"name": "fake_half", "formal_statement": "Theorem fake_half : 1 = 1.", "proof": "auto."},
        {"name": "fake_half", "header": "Require Import Arith.", "proof": "reflexivity."},
        {"name": "t", "code": "import Mathlib.Tactic\ntheorem t : (1 : Nat) / 2 = 0 := by rfl"},
    ],
    ids=["coq-own-import", "coq-diverging-header", "header-field", "code-statement-field",
         "proof-statement-field", "proof-header-field", "lean-own-import"],
)  # fmt: skip
def test_a_known_problems_text_cannot_be_replaced(tmp_path: Path, record: dict) -> None:
    entry = read_one(tmp_path, record)
    assert isinstance(entry, InputError)
    assert entry.reason == UNTRUSTED, entry.message


@pytest.mark.parametrize(
    ("record", "body_start"),
    [
        (
            {
                "name": "fake_half",
                "code": "Require  Import Reals. (* as given *)\nOpen Scope R_scope.\n"
                "Require Import Lra.\nTheorem fake_half : 1 / 2 = 0.\nProof. lra. Qed.\n",
                "formal_statement": "Theorem fake_half :\n 1 / 2 = 0.",
            },
            "\nRequire Import Lra.",
        ),
        ({"name": "fake_half", "code": "Require Import Reals.\nTheorem fake_half."}, "\nTheorem"),
        ({"name": "fake_half", "code": "Theorem fake_half : 1 / 2 = 0. Qed."}, "Theorem"),
        (
            {
                "name": "t",
                "code": "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n"
                "open Real\n\ntheorem t : (1 : Real) / 2 = 0 := by norm_num",
            },
            "\ntheorem t",
        ),
    ],
    ids=["coq-restated", "coq-prefix", "coq-bare", "lean-restated"],
)
def test_a_restated_header_is_dropped_and_the_trusted_one_used(
    tmp_path: Path, record: dict, body_start: str
) -> None:
    entry = read_one(tmp_path, record)
    assert isinstance(entry, Candidate), entry
    problem = PROBLEMS[record["name"]]
    assert (entry.header, entry.statement) == (problem.header, problem.statement)
    assert entry.proof.startswith(body_start)


def test_a_code_line_with_a_statement_and_no_problem_is_checked_against_it() -> None:
    record = {"name": "t", "code": "Theorem t : True. Proof. exact I. Qed.",
              "formal_statement": "Theorem t : 1 = 0."}  # fmt: skip
    candidate = candidate_from_record(record, {}, BackendName.COQ)
    assert candidate.statement == "Theorem t : 1 = 0."


def test_only_pure_library_loads_form_a_files_own_header() -> None:
    code = "Require Import Arith.\nExport Unset Guard Checking.\nTheorem t : True. exact I. Qed."
    header, body = split_coq_file(code)
    assert header == "Require Import Arith.\n"
    assert body.startswith("Export Unset Guard Checking.")


@given(
    field=st.sampled_from(["name", "header", "formal_statement", "proof", "model", "extra"]),
    char=st.sampled_from([chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32), 127]]),
)
def test_a_control_character_in_any_field_is_refused(field: str, char: str) -> None:
    record = {"name": "t", "header": "", "formal_statement": "Theorem t : True.", "proof": "auto."}
    record[field] = record.get(field, "x") + char
    with pytest.raises(ValueError, match="control character"):
        candidate_from_record(record, {}, BackendName.COQ)


def test_a_control_character_in_a_problem_is_refused() -> None:
    with pytest.raises(ValueError, match="control character"):
        problem_from_record({"name": "t", "header": "\x00", "statement": "Theorem t : True."})


# -- library loads, read as Coq reads them ------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "libraries"),
    [
        ("From Coq Require Import Reals.\n", {"Coq.Reals"}),
        ("Require Import Coq.Reals.Reals Lia.\nOpen Scope R_scope.", {"Coq.Reals.Reals", "Lia"}),
        ("(* Require Reals *)\nRequire Import Coq.Logic.Classical.", {"Coq.Logic.Classical"}),
        ('Require Import Arith.\nCheck "Require Reals."%string.', {"Arith"}),
        ("Require Import Reals", set()),  # no sentence ends: Coq loads nothing
    ],
)
def test_required_libraries_are_read_from_sentences(header: str, libraries: set[str]) -> None:
    assert required_libraries(header) == libraries


def test_the_reals_grant_follows_a_require_not_a_comment() -> None:
    [grant] = CoqPolicy().axioms
    assert grant.applies_to("Require Import Reals.\n")
    assert grant.applies_to("From Coq Require Rbase.\nFrom Coq.Reals Require Rbase.\n")
    assert not grant.applies_to("(* Require Reals *)\nRequire Import Coq.Logic.Classical.\n")
    assert not grant.applies_to("Require Import Arith. (* Reals *)\n")


@given(
    comment=st.text(alphabet=st.characters(blacklist_characters='(*)"'), max_size=30),
    where=st.integers(min_value=0, max_value=2),
)
def test_a_comment_anywhere_changes_no_library(comment: str, where: int) -> None:
    sentences = ["Require Import Arith.", "From Coq Require Import Lia.", "Open Scope Z_scope."]
    sentences.insert(where, f"(* Require Import Reals. {comment} *)")
    assert required_libraries("\n".join(sentences)) == {"Arith", "Coq.Lia"}
