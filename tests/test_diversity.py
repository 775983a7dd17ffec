from __future__ import annotations

import json
import math
from collections import Counter

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leanfilter.diversity import (
    ProofRecord,
    build_graph,
    diversity_table,
    premises,
    shannon,
    simpson,
    tactics,
    write_graphml,
)
from leanfilter.normalize import normalize_proof
from leanfilter.records import BackendName

COQ, LEAN = BackendName.COQ, BackendName.LEAN


def coq(proof: str, statement: str | None = None, problem: str = "p") -> ProofRecord:
    return ProofRecord(problem=problem, backend=COQ, proof=proof, statement=statement)


def lean(proof: str, statement: str | None = None, problem: str = "p") -> ProofRecord:
    return ProofRecord(problem=problem, backend=LEAN, proof=proof, statement=statement)


# -- the indices ------------------------------------------------------------------------------


def test_indices_of_known_distributions():
    assert shannon(Counter({"a": 2, "b": 2})) == pytest.approx(math.log(2))
    assert simpson(Counter({"a": 2, "b": 2})) == pytest.approx(0.5)
    assert shannon(Counter({"a": 5})) == 0.0 == simpson(Counter({"a": 5}))
    assert shannon(Counter()) == 0.0 == simpson(Counter())
    assert simpson(Counter({"a": 1, "b": 1, "c": 2})) == pytest.approx(1 - (1 + 1 + 4) / 16)


@given(st.lists(st.integers(1, 50), min_size=1, max_size=12), st.integers(1, 5))
def test_indices_are_bounded_and_scale_free(counts, factor):
    dist = Counter({f"t{i}": c for i, c in enumerate(counts)})
    k = len(counts)
    assert -1e-12 <= shannon(dist) <= math.log(k) + 1e-12
    assert -1e-12 <= simpson(dist) <= 1 - 1 / k + 1e-12
    scaled = Counter({t: c * factor for t, c in dist.items()})
    assert shannon(scaled) == pytest.approx(shannon(dist))
    assert simpson(scaled) == pytest.approx(simpson(dist))
    if len(set(counts)) == 1:
        assert shannon(dist) == pytest.approx(math.log(k))


# -- reading tactics and premises -------------------------------------------------------------


@pytest.mark.parametrize(
    ("proof", "expected"),
    [
        (
            "intros n. induction n; simpl; auto.",
            {"intros": 1, "induction": 1, "simpl": 1, "auto": 1},
        ),
        (
            "try (split; [lia | nia]). repeat rewrite H.",
            {"split": 1, "lia": 1, "nia": 1, "rewrite": 1},
        ),
        (
            "assert (H : 0 < 1) by lia. 2: exact H. - auto.",
            {"assert": 1, "lia": 1, "exact": 1, "auto": 1},
        ),
        ("do 3 constructor. all: apply (f x).", {"constructor": 1, "apply": 1}),
        ('(* lia. *) idtac "nia.". exact I.', {"idtac": 1, "exact": 1}),
        ("Theorem t : True. Proof. exact I. Qed.", {"exact": 1}),
    ],
)
def test_coq_tactics(proof, expected):
    assert tactics(coq(proof)) == Counter(expected)


def test_coq_premises_leave_out_locals_and_named_arguments():
    proof = (
        "intros x y H. assert (H2 : x <= y) by lia. "
        "apply Nat.le_trans with (m := y); [exact H2 | apply le_n]. rewrite Nat.add_comm in H."
    )
    found = premises(coq(proof, "Theorem t : forall x y : nat, x < y -> x <= y."))
    assert found == Counter({"Nat.le_trans": 1, "le_n": 1, "Nat.add_comm": 1})


def test_lean_tactics_and_premises_of_a_real_proof(benchmark_data):
    few_shot = benchmark_data / "minif2f_lean" / "minif2f_valid_few_shot.jsonl"
    records = {json.loads(line)["name"]: json.loads(line) for line in few_shot.open()}
    row = records["mathd_algebra_116"]
    record = lean(row["formal_proof"], row["formal_statement"])
    assert tactics(record) == Counter({"rw": 6, "norm_num": 1, "ring": 1, "linarith": 1})
    assert set(premises(record)) == {
        "eq_comm.mp",
        "add_eq_zero_iff_neg_eq.mp",
        "pow_two",
        "mul_sub",
        "sub_mul",
        "Real.mul_self_sqrt",
    }
    calc = records["amc12_2001_p9"]  # calc lines are terms, not tactics
    assert tactics(lean(calc["formal_proof"], calc["formal_statement"])) == Counter(
        {"specialize": 1, "linarith": 2, "calc": 1, "congr": 1, "norm_num": 2, "rw": 2}
    )


def test_lean_tactics_of_a_whole_file_skip_the_declaration():
    text = "import Mathlib\n\ntheorem t (a b : ℕ) (h : a = b) : b = a := by\n  rw [h]\n  -- simp\n"  # noqa: RUF001
    assert tactics(lean(text)) == Counter({"rw": 1})
    assert premises(lean(text)) == Counter()


def test_the_provers_own_premises_win():
    record = lean("by simp [foo]").model_copy(update={"used_constants": ["Nat.add_comm", "Eq"]})
    assert premises(record) == Counter({"Nat.add_comm": 1, "Eq": 1})


lean_lines = st.lists(
    st.sampled_from(["simp", "norm_num [pow_two]", "nlinarith [sq_nonneg (a - b),\n    h₀]",
                     "exact foo h", "· linarith", "rw [h₀] at h₁"]),
    min_size=1,
    max_size=5,
)  # fmt: skip
comments = st.sampled_from(["-- omega", "/- nlinarith [x] -/", '-- "quote', "/- /- nested -/ -/"])


@given(lean_lines, st.lists(comments, min_size=1, max_size=5))
def test_lean_comments_name_no_tactic_and_no_premise(lines, notes):
    plain = "\n  ".join(lines)
    noted = "\n  ".join(f"{line} {note}" for line, note in zip(lines, notes * 5, strict=False))
    assert tactics(lean(plain)) == tactics(lean(noted))
    assert premises(lean(plain)) == premises(lean(noted))


coq_sentences = st.lists(
    st.sampled_from(["intros x H.", "induction x as [|x IH]; simpl.", "apply Nat.le_trans.",
                     "try (rewrite IH; lia).", "- exact H.", "assert (H2 : x = x) by auto."]),
    min_size=1,
    max_size=6,
)  # fmt: skip
layouts = st.sampled_from([" ", "\n", "\n  ", " (* note *) ", "\t"])


@given(coq_sentences, st.lists(layouts, min_size=6, max_size=6))
def test_coq_reading_ignores_layout(parts, gaps):
    plain = " ".join(parts)
    spaced = "".join(p + g for p, g in zip(parts, gaps, strict=False))
    assert tactics(coq(plain)) == tactics(coq(spaced)) == tactics(coq(normalize_proof(COQ, spaced)))
    assert premises(coq(plain)) == premises(coq(spaced))


# -- the graph --------------------------------------------------------------------------------


STATEMENT = "theorem t (a b : Int) : 0 <= (a - b) ^ 2 :="


def test_the_graph_counts_distinct_proofs_and_their_uses(tmp_path):
    records = [
        coq("intros. lia.", problem="a"),
        coq("intros.\n  lia.", problem="a"),  # the same proof, laid out differently
        coq("intros. nia.", problem="a"),
        coq("intros. lia.", problem="b"),
        lean("by\n  nlinarith [sq_nonneg (a - b)]", STATEMENT, problem="c"),
        lean("by\n  nlinarith [sq_nonneg (a - b)]", STATEMENT, problem="c"),
    ]
    graph = build_graph(records)
    table = diversity_table(graph)
    assert table == diversity_table(records)
    a = table["a"]
    assert (a.accepted, a.distinct_proofs, a.tactics) == (3, 2, 3)
    assert a.tactic_shannon == pytest.approx(shannon(Counter({"intros": 2, "lia": 1, "nia": 1})))
    assert a.tactic_simpson == pytest.approx(1 - (4 + 1 + 1) / 16)
    assert (table["b"].distinct_proofs, table["b"].tactic_simpson) == (1, 0.5)
    assert (table["c"].accepted, table["c"].distinct_proofs, table["c"].premises) == (2, 1, 1)

    path = tmp_path / "proofs.graphml"
    write_graphml(graph, path)
    again = nx.read_graphml(path)
    assert sorted(again.nodes) == sorted(graph.nodes)
    assert again.nodes["tactic:lia"]["kind"] == "tactic"
    assert again.edges["problem:a", next(iter(graph["problem:b"]))]["weight"] == 2
    assert diversity_table(again) == table
