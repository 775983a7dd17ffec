"""Whole Coq files without a problem, through `leanfilter verify` with real coqtop: what the
verdict says when the file's own text cannot be read, and when the jail, not the proof, fails.

A file's imports and statement are its author's text, so a `Require` of a library that does not
exist is `failed` (and counts), not the engine's `error`; a statement that reads only after the
file's own notations is refused; a lemma left `Admitted` is an assumption the audit reads, so
it refuses only a theorem that uses it; and `par:`, which the jail's one-process limit stops, is an
`error` that says so, never the proof's failure.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.coq, pytest.mark.slow]

FILES = {  # id: (file, expected status, expected reason)
    "missing-import": (
        "Require Import NoSuchLibraryAnywhere.\nTheorem t : True.\nProof. exact I. Qed.\n",
        "failed",
        "prover.header",
    ),
    "statement-on-own-definitions": (
        "Definition two := 2.\nTheorem t : two = 2.\nProof. reflexivity. Qed.\n",
        "proved",
        None,
    ),
    "statement-with-a-notation-of-the-file": (
        'Definition two := 2.\nNotation "x =!= y" := (x = y) (at level 70).\n'
        "Theorem t : two =!= 2.\nProof. reflexivity. Qed.\n",
        "rejected",
        "statement.unreadable",
    ),
    "second-of-mutual-lemmas": (  # `Lemma s … with t …`: t's statement is its own part
        "Inductive even : nat -> Prop := ev0 : even 0 | evS n : odd n -> even (S n)\n"
        "with odd : nat -> Prop := odS n : even n -> odd (S n).\n"
        "Lemma s n (e : even n) : even (S (S n)) with t n (o : odd n) : odd (S (S n)).\n"
        "Proof.\n- apply evS, odS, e.\n- apply odS, evS, o.\nQed.\n",
        "proved",
        None,
    ),
    "admitted-lemma-the-theorem-uses": (  # the audit lists it: no text rule is needed
        "Lemma a : 1 = 2.\nAdmitted.\nTheorem t : 1 = 2.\nProof. exact a. Qed.\n",
        "rejected",
        "axiom.disallowed",
    ),
    "admitted-theorem": (
        "Theorem t : 1 = 2.\nProof. admit. Admitted.\n",
        "rejected",
        "axiom.disallowed",
    ),
    "admitted-lemma-the-theorem-does-not-use": (
        "Lemma a : 1 = 2.\nAdmitted.\nTheorem t : 1 + 1 = 2.\nProof. reflexivity. Qed.\n",
        "proved",
        None,
    ),
    "par-in-the-jail": (
        "Theorem t : True /\\ True.\nProof. split. par: exact I. Qed.\n",
        "error",
        "sandbox.threads",
    ),
    "par-message-forged-by-fail": (
        'Theorem t : True.\nProof. fail "System error: ""Thread.create: Resource temporarily'
        ' unavailable""". Qed.\n',
        "failed",
        "prover.error",
    ),
    "same-file-without-par": (
        "Theorem t : True /\\ True.\nProof. split; exact I. Qed.\n",
        "proved",
        None,
    ),
}


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("whole")
    source, out = tmp / "in.jsonl", tmp / "out.jsonl"
    source.write_text(
        "".join(json.dumps({"name": "t", "code": f}) + "\n" for f, _, _ in FILES.values())
    )
    argv = [sys.executable, "-m", "leanfilter", "verify", str(source), "-o", str(out)]
    subprocess.run([*argv, "--backend", "coq", "--no-progress"], timeout=600, check=False)
    answered = sorted(map(json.loads, out.read_text().splitlines()), key=lambda v: v["line"])
    return dict(zip(FILES, answered, strict=True))


@pytest.mark.parametrize("case", sorted(FILES))
def test_the_verdict_names_what_went_wrong(verdicts: dict[str, dict], case: str) -> None:
    _, status, reason = FILES[case]
    verdict = verdicts[case]
    assert (verdict["status"], verdict["reason"]) == (status, reason), verdict.get("detail")


def test_a_files_own_assumption_is_named_the_same_in_every_run(verdicts: dict[str, dict]) -> None:
    """The engine wraps the file in a module whose name holds a nonce; the verdict does not."""
    assert verdicts["admitted-lemma-the-theorem-uses"]["axioms"] == ["<candidate>.a"]
