"""Attacks found by review after the second soundness pass, through `leanfilter verify` itself.

Each is one input line, run with real coqtop under the default policy. The quotation chain hides
commands from the splitter inside `ident:{{ … }}`, opens a proof under a name that starts with a
no-break space so that its prompts were not read as prompts, and forges prompts with `idtac` to
make the sentence counts agree: Coq's own prompts, all of them read, must give it away. The
files without a trusted statement are holes still open (docs/soundness.md, "Open"): each is kept
here as a strict expected failure, so the day it is closed the suite says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.coq, pytest.mark.slow]

FORGED_PROMPTS = "<prompt>x < 1 |x| 0 < </prompt>" * 4
HIDING = (
    "(* <infomsg> *) Lemma \u00a0p : True. idtac a:{{{{ (* }}}}. {hidden} idtac b:{{{{ *) }}}}. "
    'idtac "x". exact I. Qed.\n'
)
QUOTATION_CHAIN = {  # hidden command, trusted statement, proof
    "vm-cast": (
        "Definition v : 1 + 1 = 2 := (@eq_refl nat 2 <: 1 + 1 = 2).",
        "Theorem t : 1 + 1 = 2.",
        "exact v.",
    ),
    "axiom": ("Axiom cheat : False.", "Theorem t : 1 = 2.", "destruct cheat."),
    "guard-checking": ("Unset Guard Checking.", "Theorem t : 1 + 1 = 2.", "reflexivity."),
}
NO_STATEMENT = {
    "notation-redefines-eq": (
        'Notation "x = y" := (x <> y) : type_scope.\nTheorem t : 1 = 2.\n'
        "Proof. discriminate. Qed.\n"
    ),
    "section-variable": (
        "Section S.\nVariable h : False.\nTheorem t : 1 = 2.\nProof. destruct h. Qed.\nEnd S.\n"
    ),
    "section-hypothesis": (
        "Section S.\nHypothesis h : False.\nTheorem t : False.\nProof. exact h. Qed.\nEnd S.\n"
    ),
}


def verify(tmp_path: Path, line: dict, problem: dict | None = None) -> dict:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(line) + "\n")
    out = tmp_path / "out.jsonl"
    argv = [sys.executable, "-m", "leanfilter", "verify", str(source), "-o", str(out)]
    if problem is not None:
        problems = tmp_path / "problems.jsonl"
        problems.write_text(json.dumps(problem) + "\n")
        argv += ["--problems", str(problems)]
    subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    return json.loads(out.read_text())


@pytest.mark.parametrize("case", sorted(QUOTATION_CHAIN))
def test_commands_hidden_in_quotations_behind_unread_prompts_are_not_proved(tmp_path, case):
    hidden, statement, proof = QUOTATION_CHAIN[case]
    code = (
        HIDING.format(hidden=hidden)
        + f'{statement}\nProof. idtac "{FORGED_PROMPTS}". {proof} Qed.\n'
    )
    problem = {"name": "t", "backend": "coq", "header": "", "statement": statement}
    verdict = verify(tmp_path, {"name": "t", "code": code}, problem)
    assert verdict["status"] != "proved", verdict


@pytest.mark.xfail(
    strict=True,
    reason="open: a whole file without a trusted statement is checked against its own text, "
    "whose meaning the file itself can change (notations, section hypotheses)",
)
@pytest.mark.parametrize("case", sorted(NO_STATEMENT))
def test_a_file_without_a_trusted_statement_cannot_prove_a_falsehood(tmp_path, case):
    verdict = verify(tmp_path, {"name": "t", "code": NO_STATEMENT[case]})
    assert verdict["status"] != "proved", verdict
