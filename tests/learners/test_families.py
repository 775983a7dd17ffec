"""The generated Coq families: splits, files, and labels that real Coq confirms."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leanfilter.inputs import load_problems
from leanfilter.records import BackendName, Status
from learners.families import (
    FAMILIES,
    HEADER,
    FamilyProblem,
    Script,
    check_labels,
    generate,
    write_split_files,
)

DATA = Path(__file__).parents[2] / "data" / "compare"
requires_coq = pytest.mark.skipif(shutil.which("coqtop") is None, reason="coqtop is not on PATH")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), train=st.integers(6, 30), eval=st.integers(6, 18))
def test_splits_are_disjoint_balanced_and_labelled_both_ways(seed, train, eval):
    first, second = generate(train, eval, seed)
    assert (len(first), len(second)) == (train, eval)
    propositions = [p.statement.split(" : ", 1)[1] for p in first + second]
    assert len(set(propositions)) == len(propositions)
    assert {p.family for p in second} == set(FAMILIES)
    assert len({p.name for p in first + second}) == train + eval
    for problem in first + second:
        assert problem.statement.startswith(f"Theorem {problem.name} : ")
        assert sum(s.correct for s in problem.scripts) >= 2
        assert sum(not s.correct for s in problem.scripts) >= 2
        assert len({s.text for s in problem.scripts}) == len(problem.scripts)


def test_generation_is_a_function_of_the_seed():
    assert generate(12, 6, seed=5) == generate(12, 6, seed=5)
    assert generate(12, 6, seed=5) != generate(12, 6, seed=6)


def test_the_committed_files_are_what_the_command_writes(tmp_path):
    """data/compare/README.md names the command; its defaults must still give these bytes."""
    write_split_files(tmp_path, *generate(240, 60, seed=0))
    for name in ("train.jsonl", "eval.jsonl", "corpus.jsonl"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_the_engine_reads_the_problem_files():
    train, eval = load_problems(DATA / "train.jsonl"), load_problems(DATA / "eval.jsonl")
    assert (len(train), len(eval)) == (240, 60)
    assert not train.keys() & eval.keys()
    assert not {p.statement.split(" : ", 1)[1] for p in train.values()} & {
        p.statement.split(" : ", 1)[1] for p in eval.values()
    }
    for problem in [*train.values(), *eval.values()]:
        assert problem.backend is BackendName.COQ
        assert problem.header == HEADER


@pytest.mark.coq
@pytest.mark.slow
@requires_coq
@pytest.mark.parametrize("seed", [1, 2])
def test_real_coq_proves_every_correct_script_and_no_planted_wrong_one(seed):
    train, eval = generate(12, 6, seed)
    sample = train + eval
    assert any(s.correct for p in sample for s in p.scripts)
    assert any(not s.correct for p in sample for s in p.scripts)
    assert check_labels(sample) == []


@pytest.mark.coq
@requires_coq
def test_a_label_that_coq_contradicts_is_reported():
    (problem,), _ = generate(1, 0, seed=3)
    flipped = (Script(text=problem.scripts[0].text, correct=False), *problem.scripts[1:])
    swapped = FamilyProblem(**(problem.model_dump() | {"scripts": flipped}))
    (mismatch,) = check_labels([swapped])
    assert mismatch.script == problem.scripts[0].text
    assert not mismatch.labelled_correct and mismatch.status is Status.PROVED
