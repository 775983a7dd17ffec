"""Reading `Print Universes` and telling whether loaded proofs order the header's universes anew
(no prover needed)."""

from __future__ import annotations

from leanfilter.backends.coq import _new_order
from leanfilter.backends.coq_protocol import universe_constraints

HEADER_GRAPH = """Set < Coq.Init.Logic.10
    < eq.u0
< list.u0
eq.u0 <= Coq.Init.Logic.8
lonely.u0
"""


def test_the_graph_is_read_line_by_line_whatever_the_indentation() -> None:
    assert universe_constraints(HEADER_GRAPH) == {
        ("Set", "<", "Coq.Init.Logic.10"),
        ("Set", "<", "eq.u0"),
        ("Set", "<", "list.u0"),
        ("eq.u0", "<=", "Coq.Init.Logic.8"),
        ("lonely.u0", "", ""),
    }


def test_an_unreadable_line_makes_the_whole_graph_unreadable() -> None:
    assert universe_constraints(HEADER_GRAPH + "x ~ y\n") is None
    assert universe_constraints("    < eq.u0\n") is None


def graph(extra: str) -> set[tuple[str, str, str]]:
    read = universe_constraints(HEADER_GRAPH + extra)
    assert read is not None
    return read


BASE = graph("")


def test_fresh_universes_between_ordered_ones_order_nothing_new() -> None:
    fresh = "Set < lf_ref_1.u0\nlf_ref_1.u0 <= eq.u0\n    <= list.u0\nlf_m_1.t.u0 = lf_ref_1.u0\n"
    assert _new_order(BASE, BASE) is False
    assert _new_order(BASE, graph(fresh)) is False


def test_a_constraint_between_two_header_universes_is_new() -> None:
    assert _new_order(BASE, graph("Coq.Init.Logic.10 < eq.u0\n")) is True


def test_a_path_through_fresh_universes_is_new_unless_the_header_had_it() -> None:
    assert _new_order(BASE, graph("Coq.Init.Logic.10 <= x.1\nx.1 < eq.u0\n")) is True
    assert _new_order(BASE, graph("eq.u0 <= x.1\nx.1 <= Coq.Init.Logic.8\n")) is False
    assert _new_order(BASE, graph("eq.u0 < x.1\nx.1 <= Coq.Init.Logic.8\n")) is True  # strict
    assert _new_order(BASE, graph("Set <= x.1\nx.1 <= x.2\nx.2 <= eq.u0\n")) is False
