"""A whole file's own statement, found by its text, and binders typed by its constants: pure
text, no Coq (what Coq makes of them is in tests/adversarial and tests/test_coq_whole_files.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from leanfilter.backends.coq_statement import (
    abstracted,
    before_statement,
    module_names,
    own_statement,
    typed,
)

M = "lf_m_ab12"


def test_names_a_type_uses_come_back_once_each_in_order() -> None:
    assert module_names(f"forall (_ : {M}.color) (_ : {M}.color), {M}.size", M) == [
        "color",
        "size",
    ]
    assert module_names(f"forall _ : x{M}.color, nat", M) == []  # another module's name


def test_a_constant_inside_a_submodule_cannot_be_bound() -> None:
    assert module_names(f"{M}.Sub.t", M) is None
    assert typed(["x"], {"x": f"{M}.Sub.t"}, M, "lf_t_") is None


def test_a_name_only_a_type_uses_gets_a_fresh_binder_before_its_users() -> None:
    binders = typed(["red"], {"red": f"{M}.False", "False": "Set"}, M, "lf_t_")
    assert binders is not None
    assert [(b.name, b.type, b.argument) for b in binders] == [
        ("lf_t_1", "Set", f"@{M}.False"),
        ("red", "lf_t_1", f"@{M}.red"),
    ]
    assert abstracted("red = red", binders) == "fun (lf_t_1 : Set) (red : lf_t_1) => red = red"


def test_types_that_name_each_other_cannot_be_ordered() -> None:
    assert typed(["a", "b"], {"a": f"{M}.b", "b": f"{M}.a"}, M, "lf_t_") is None


@given(st.permutations(["a", "b", "c", "d"]))
def test_every_binder_comes_after_the_binders_its_type_names(order: list[str]) -> None:
    types = {"a": "Set", "b": f"{M}.a", "c": f"forall _ : {M}.b, {M}.a", "d": f"{M}.c"}
    binders = typed(["b", "c", "d"], {n: types[n] for n in order}, M, "lf_t_")
    assert binders is not None
    seen: set[str] = set()
    for b in binders:
        assert set(module_names(types[b.argument.rsplit(".", 1)[1]], M) or []) <= seen
        seen.add(b.argument.rsplit(".", 1)[1])


MUTUAL = "Lemma a (n : nat) : n = n with b (m : nat) : m + 0 = m.\nProof. Admitted.\n"


def test_each_of_mutual_lemmas_states_its_own_part() -> None:
    assert own_statement(MUTUAL, "a") == "Lemma a (n : nat) : n = n."
    assert own_statement(MUTUAL, "b") == "Lemma b (m : nat) : m + 0 = m."


def test_a_with_inside_a_term_cuts_nothing() -> None:
    code = "Lemma a (n : nat) : match n with 0 => True | S _ => n = n end.\n"
    assert own_statement(code, "a") == code.strip()


def test_what_a_statement_can_name_is_the_text_before_its_last_sentence() -> None:
    code = (
        "Definition two := 2.\nTheorem t : two = 2.\nProof. Abort.\nTheorem t : two = 2.\nAdmitted."
    )
    assert before_statement(code, "t") == code[: code.rindex("Theorem")]
    assert before_statement(code, "u") is None
