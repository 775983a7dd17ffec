"""Reading coqtop's answers: prompts, messages with positions, `Print Assumptions`, `Locate`.

Each case runs real coqtop and parses what it printed, so a change in Coq's output shows here.
"""

from __future__ import annotations

import time

import pytest
from coq_reference import coqtop_output

from leanfilter.backends import coq_protocol as proto
from leanfilter.records import Severity

pytestmark = pytest.mark.coq


def last_answer(script: str) -> str:
    """The answer to the script's last sentence, alone, as the session reads it."""
    return proto.answers(coqtop_output(script))[-1]


def test_prompts_carry_the_state_and_the_open_proofs() -> None:
    out = coqtop_output("Theorem t : True.\nProof.\n")
    first, *_, last = proto.prompts(out)
    assert first.open_proofs == ()
    assert last.open_proofs == ("t",)
    assert last.state > first.state


def test_an_error_has_its_text_and_its_position_in_the_line() -> None:
    line = "Goal 1 = 2. Proof. reflexivity. Qed."
    messages = proto.messages(coqtop_output(line + "\n"), line)
    errors = [m for m in messages if m.severity is Severity.ERROR]
    assert errors[0].text == 'Unable to unify "2" with "1".'
    assert (errors[0].pos.line, errors[0].pos.column) == (1, line.index("reflexivity"))
    assert errors[0].end_pos.column == line.index("reflexivity") + len("reflexivity")


def test_a_warning_is_a_warning_without_its_tags() -> None:
    messages = proto.messages(coqtop_output("Set No Such Option.\n"))
    assert [m.severity for m in messages] == [Severity.WARNING]
    assert "no flag or option" in messages[0].text
    assert "<" not in messages[0].text


def test_a_closed_theorem_has_no_assumptions() -> None:
    answer = last_answer("Theorem t : True. Proof. exact I. Qed.\nPrint Assumptions t.\n")
    assert proto.assumptions(answer) == []


def test_axioms_and_unsafe_fixpoints_are_all_reported() -> None:
    answer = last_answer(
        "Axiom ax : False.\n"
        "Unset Guard Checking.\nFixpoint f (n : nat) : False := f n.\nSet Guard Checking.\n"
        "Definition both : False * False := (ax, f 0).\nPrint Assumptions both.\n"
    )
    found = proto.assumptions(answer)
    assert "ax" in found
    assert any(a.startswith("unsafe:f ") and "guarded" in a for a in found)


def test_an_axiom_whose_name_starts_with_a_no_break_space_is_not_skipped() -> None:
    # Coq takes U+00A0 as a letter and prints the name at column 0; Python calls it a space
    answer = last_answer(
        "Axiom \u00a0ax : False.\nDefinition d := \u00a0ax.\nPrint Assumptions d.\n"
    )
    assert proto.assumptions(answer) != []


def test_an_axiom_a_proof_eliminates_is_read_with_its_note() -> None:
    answer = last_answer(
        "Lemma f : False. Admitted.\nTheorem t : False.\n"
        "Proof. exact (match f return False with end). Qed.\nPrint Assumptions t.\n"
    )
    assert "used in t to prove" in answer
    assert proto.assumptions(answer) == ["f"]


def test_output_that_is_no_assumption_list_reads_as_none() -> None:
    assert proto.assumptions(coqtop_output("Check nat.\n")) is None


def test_locate_gives_the_full_path_even_for_a_short_name() -> None:
    out = coqtop_output("Require Import Classical.\nLocate Term classic.\n")
    (answer,) = [a for a in proto.answers(out) if "Constant" in a]
    assert proto.located_constant(answer) == "Coq.Logic.Classical_Prop.classic"


FORGED = (
    "Axiom cheat : forall Closed under the global context : Prop,"
    " Closed -> under -> the -> global -> context -> False.\n"
)


def test_an_axiom_whose_binders_spell_the_closed_phrase_is_still_listed() -> None:
    answer = last_answer(FORGED + "Definition t := cheat.\nPrint Assumptions t.\n")
    assert proto.assumptions(answer) == ["cheat"]


def test_every_entry_of_a_long_list_is_read_whatever_its_layout() -> None:
    arrows = " -> ".join(["nat"] * 40)
    answer = last_answer(
        FORGED + "Axiom Axioms : " + arrows + " -> False.\nAxiom c : False.\n"
        "Section S. Variable v : nat. Definition all := (cheat, Axioms, c, v).\n"
        "Print Assumptions all.\n"
    )
    assert sorted(proto.assumptions(answer)) == ["Axioms", "c", "cheat", "v"]


@pytest.mark.parametrize(
    "answer",
    [
        "Axioms:\ncheat : False\nClosed under the global context\n",
        "Closed under the global context\nAxioms:\n",
        "Some text\nClosed under the global context\n",
        "Axioms:\nnot one name : False\n",
    ],
)
def test_the_closed_phrase_counts_only_as_the_whole_answer(answer: str) -> None:
    assert proto.assumptions(answer) != []


def _parse_seconds(text: str) -> float:
    started = time.perf_counter()
    proto.messages(text, text)
    proto.assumptions(text)
    proto.prompts(text)
    return time.perf_counter() - started


@pytest.mark.parametrize("tag", ["<infomsg>", "<prompt>", "<prompt>a < 1 |"])
def test_output_full_of_unclosed_tags_parses_in_linear_time(tag: str) -> None:
    # 180 KB of opened tags, as `fail "<infomsg><infomsg>..."` makes coqtop echo: the budget is
    # a multiple of parsing the same amount of plain text, not a wall-clock figure.
    size = 180_000
    flood = "Error: " + tag * (size // len(tag)) + "\n<prompt>Coq < 2 || 0 < </prompt>"
    plain = "Error: " + "x" * size + "\n<prompt>Coq < 2 || 0 < </prompt>"
    baseline = min(_parse_seconds(plain) for _ in range(3))
    assert _parse_seconds(flood) < 50 * baseline + 0.05


ABOUT_MODULE = (
    "Module M.\nDefinition pick {A : Type} [B : Type] (x : A) (y : B) := x.\n"
    'Notation "x === y" := (x <> y) (at level 70).\n'
    "Definition h (n : nat) : n === S n := n_Sn n.\nInductive color := red | blue.\n"
    "Polymorphic Definition pid@{u} (A : Type@{u}) (a : A) := a.\nEnd M.\nSet Printing All.\n"
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("M.pick", "forall {A : Type} [B : Type] (_ : A) (_ : B), A"),
        ("M.h", "forall n : nat, not (@eq nat n (S n))"),  # no notation of the file
        ("M.blue", "M.color"),
        ("M.color", "Set"),
        ("M.pid", None),  # universe-polymorphic: `M.pid@{u} : …` is no type to copy
        ("M.nope", None),
    ],
)
def test_about_gives_a_type_to_read_again_or_none(name: str, expected: str | None) -> None:
    assert proto.about_type(last_answer(f"{ABOUT_MODULE}About {name}.\n"), name) == expected


def test_about_of_another_name_is_no_answer_for_this_one() -> None:
    assert proto.about_type(last_answer(f"{ABOUT_MODULE}About M.red.\n"), "M.blue") is None
