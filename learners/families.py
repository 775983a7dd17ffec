"""Families of Coq problems, each with several correct proof scripts and plausible wrong ones.

They are the corpus a small base model is pretrained on (learners/pretrain.py): a model fitted to
a mix of proofs in different styles and near misses (`reflexivity.` where `lia` is needed, `apply`
of a lemma whose sides are swapped, a hypothesis destructed one level too little) samples a
diverse, imperfect distribution over proofs, which is what comparing objectives needs.

Labels are the generator's intent; `python -m learners.families` checks every script with real
Coq through the engine and refuses to write files where Coq disagrees with a label.

    python -m learners.families --out data/compare [--train 240 --eval 60 --seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from leanfilter.records import BackendName, Problem, Status

HEADER = "Require Import Arith Lia List Bool.\nImport ListNotations.\n"
NAT_VARS = ["a", "b", "c", "k", "m", "n", "p", "x", "y", "z"]
BOOL_VARS = ["a", "b", "c", "p", "q", "x", "y"]
LIST_VARS = ["l", "l1", "l2", "s", "t", "xs", "ys"]
PROP_VARS = ["A", "B", "C", "P", "Q", "R"]


class Script(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    correct: bool


class Draft(BaseModel):
    """A family's output: the proposition (after `Theorem name :`) and its labelled scripts."""

    model_config = ConfigDict(frozen=True)

    family: str
    proposition: str
    scripts: tuple[Script, ...]


class FamilyProblem(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    family: str
    split: str
    statement: str
    scripts: tuple[Script, ...]

    def problem(self) -> Problem:
        return Problem(
            name=self.name,
            backend=BackendName.COQ,
            header=HEADER,
            statement=self.statement,
            split=self.split,
            source="learners.families",
        )

    def record(self) -> dict[str, str]:
        """A line of a problems file in the engine's own format (leanfilter.inputs)."""
        return self.problem().model_dump(mode="json", exclude_none=True) | {"family": self.family}


def _draft(family: str, proposition: str, correct: Iterable[str], wrong: Iterable[str]) -> Draft:
    scripts = [Script(text=t, correct=True) for t in correct]
    scripts += [Script(text=t, correct=False) for t in wrong]
    return Draft(family=family, proposition=proposition, scripts=tuple(scripts))


def _binders(names: list[str], kind: str) -> str:
    return f"forall {' '.join(names)} : {kind}"


def _sum(terms: list[str], rng: random.Random) -> str:
    """The terms added in their order, associated to the left or nested to the right."""
    if rng.random() < 0.5:
        return " + ".join(terms)
    text = terms[-1]
    for term in reversed(terms[:-1]):
        text = f"{term} + ({text})"
    return text


# -- families ----------------------------------------------------------------------------


def nat_reorder(rng: random.Random) -> Draft:
    """An identity of sums over nat whose variables appear in another order on the right."""
    names = rng.sample(NAT_VARS, rng.choice([2, 3]))
    constants = [str(rng.randint(1, 9)) for _ in range(rng.choice([1, 2]))]
    left = names + constants
    rng.shuffle(left)
    right = list(reversed(left))
    binders = rng.sample(names, len(names))
    spelled = " ".join(binders)
    return _draft(
        "nat_reorder",
        f"{_binders(binders, 'nat')}, {_sum(left, rng)} = {_sum(right, rng)}",
        ["intros. lia.", f"intros {spelled}. lia.", "intros; lia.", "lia.", "intros. ring.",
         f"intros {spelled}. ring."],
        ["reflexivity.", "intros. reflexivity.", "intros; simpl; auto.",
         "intros. simpl. reflexivity.", "intros. omega.", "auto."],
    )  # fmt: skip


def nat_ring(rng: random.Random) -> Draft:
    """A polynomial identity over nat: distributivity, commutativity of products, squares."""
    x, y = rng.sample(NAT_VARS, 2)
    c, d = rng.randint(2, 9), rng.randint(1, 9)
    proposition = rng.choice(
        [
            f"{c} * ({x} + {y}) = {c} * {x} + {c} * {y}",
            f"({x} + {c}) * {y} = {x} * {y} + {c} * {y}",
            f"{x} * ({y} + {c}) = {c} * {x} + {x} * {y}",
            f"({x} + {y}) * ({x} + {y}) = {x} * {x} + 2 * {x} * {y} + {y} * {y}",
            f"{x} * {y} * {c} = {c} * ({y} * {x})",
            f"({x} + {c}) * ({y} + {d}) = {x} * {y} + {d} * {x} + {c} * {y} + {c * d}",
        ]
    )
    binders = rng.sample([x, y], 2)
    spelled = " ".join(binders)
    return _draft(
        "nat_ring",
        f"{_binders(binders, 'nat')}, {proposition}",
        ["intros. ring.", f"intros {spelled}. ring.", "intros. nia.", "intros. lia.",
         "intros; ring."],
        ["intros. reflexivity.", "intros. simpl. reflexivity.", "intros. auto.", "intros. omega.",
         "reflexivity."],
    )  # fmt: skip


def nat_inequality(rng: random.Random) -> Draft:
    """A linear inequality over nat, some under hypotheses."""
    x, y, z = rng.sample(NAT_VARS, 3)
    c1, c2 = sorted(rng.sample(range(1, 10), 2))
    templates = [
        ([x], [], f"{x} < {x} + {c1}"),
        ([x, y], [f"{x} <= {y}"], f"{x} + {c1} <= {y} + {c2}"),
        ([x, y], [f"{x} < {y}"], f"{c1 + 1} * {x} < {c1 + 1} * {y}"),
        ([x, y, z], [f"{x} <= {y}", f"{y} <= {z}"], f"{x} + {c1} <= {z} + {c1}"),
        ([x, y], [f"{x} + {c1} <= {y}"], f"{x} < {y}"),
    ]
    names, hypotheses, goal = rng.choice(templates)
    binders = rng.sample(names, len(names))
    hyp_names = [f"H{i}" for i in range(len(hypotheses))]
    spelled = " ".join(binders + hyp_names)
    wrong = ["intros. auto.", "intros. reflexivity.", "intros. omega.", "auto."]
    wrong.append(f"intros {spelled}. apply H0." if hypotheses else "intros. apply le_n.")
    return _draft(
        "nat_inequality",
        f"{_binders(binders, 'nat')}, {' -> '.join([*hypotheses, goal])}",
        ["intros. lia.", "intros; lia.", "lia.", f"intros {spelled}. lia."],
        wrong,
    )


# (statement over {a} {b} {c}, its lemma in Coq's library, whether destructing {a} alone proves it)
_BOOL_LAWS = [
    ("negb (negb {a}) = {a}", "negb_involutive", True),
    ("andb {a} true = {a}", "andb_true_r", True),
    ("orb {a} false = {a}", "orb_false_r", True),
    ("andb {a} false = false", "andb_false_r", True),
    ("orb {a} true = true", "orb_true_r", True),
    ("andb {a} (negb {a}) = false", "andb_negb_r", True),
    ("orb {a} (negb {a}) = true", "orb_negb_r", True),
    ("andb {a} {b} = andb {b} {a}", "andb_comm", False),
    ("orb {a} {b} = orb {b} {a}", "orb_comm", False),
    ("negb (andb {a} {b}) = orb (negb {a}) (negb {b})", "negb_andb", True),
    ("negb (orb {a} {b}) = andb (negb {a}) (negb {b})", "negb_orb", True),
    ("andb {a} (andb {b} {c}) = andb (andb {a} {b}) {c}", "andb_assoc", True),
]


def bool_law(rng: random.Random) -> Draft:
    """A law of bool, proved by case analysis or by the library's lemma."""
    law, lemma, first_case_enough = rng.choice(_BOOL_LAWS)
    count = sum(f"{{{v}}}" in law for v in "abc")
    names = rng.sample(BOOL_VARS, count)
    proposition = law.format(**dict(zip("abc", names, strict=False)))
    spelled, cases = " ".join(names), ", ".join(names)
    one_case = f"intros {spelled}. destruct {names[0]}; reflexivity."
    correct = [
        f"intros {spelled}. destruct {cases}; reflexivity.",
        f"destruct {cases}; reflexivity.",
        f"intros {' '.join(['[]'] * count)}; reflexivity.",
        f"intros. apply {lemma}.",
        f"intros {spelled}. destruct {cases}; simpl; reflexivity.",
        f"intros. rewrite {lemma}. reflexivity.",
    ]
    wrong = ["reflexivity.", "intros. reflexivity.", "intros. simpl. auto.", "auto."]
    if count > 1:
        (correct if first_case_enough else wrong).append(one_case)
    return _draft("bool_law", f"{_binders(names, 'bool')}, {proposition}", correct, wrong)


def list_lemma(rng: random.Random) -> Draft:
    """A lemma about lists of nat: append, length, rev, map, membership."""
    ls, l1, l2 = rng.sample(LIST_VARS, 3)
    c = rng.sample(range(10), 3)
    size = rng.randint(1, 3)
    prefix = "; ".join(map(str, c[:size]))
    one, two = f"forall {ls} : list nat", f"forall {l1} {l2} : list nat"
    choices = [
        (f"{one}, {ls} ++ [] = {ls}",
         ["intros. apply app_nil_r.", f"intros {ls}. rewrite app_nil_r. reflexivity.",
          f"intros {ls}. induction {ls}; simpl; congruence.",
          f"induction {ls} as [|h t IH]; simpl; [reflexivity | rewrite IH; reflexivity]."],
         ["intros. simpl. reflexivity.", f"intros {ls}. induction {ls}; reflexivity.", "auto.",
          "reflexivity."]),
        (f"{two}, length ({l1} ++ {l2}) = length {l1} + length {l2}",
         ["intros. apply app_length.", f"induction {l1}; simpl; congruence.",
          "intros. rewrite app_length. reflexivity.", f"induction {l1}; simpl; auto."],
         ["intros. reflexivity.", "intros. simpl. reflexivity.", "intros. lia."]),
        (f"{two}, length ({l1} ++ {l2}) = length {l2} + length {l1}",
         ["intros. rewrite app_length. lia.", "intros. rewrite app_length. apply Nat.add_comm.",
          "intros. rewrite app_length. ring."],
         ["intros. apply app_length.", "intros. rewrite app_length. reflexivity.",
          "intros. lia."]),
        (f"{one}, rev (rev {ls}) = {ls}",
         ["intros. apply rev_involutive.", f"intros {ls}. rewrite rev_involutive. reflexivity."],
         [f"induction {ls}; simpl; auto.", "intros. reflexivity.", "intros. simpl. reflexivity."]),
        (f"{one}, length (rev {ls}) = length {ls}",
         ["intros. apply rev_length.", "intros. rewrite rev_length. reflexivity."],
         ["intros. reflexivity.", "intros. apply rev_involutive.",
          "intros. simpl. reflexivity."]),
        (f"{one}, length ([{prefix}] ++ {ls}) = {size} + length {ls}",
         ["intros. reflexivity.", "intros. simpl. reflexivity.", "intros. simpl. lia.",
          "reflexivity."],
         ["intros. lia.", "intros. rewrite app_nil_r. reflexivity.", "intros. omega."]),
        (f"{two}, In {c[0]} ({l1} ++ {c[0]} :: {l2})",
         ["intros. apply in_elt.", "intros. apply in_or_app. right. left. reflexivity.",
          "intros. apply in_or_app. right. simpl. auto.", "intros. auto with datatypes."],
         ["intros. left. reflexivity.", "intros. simpl. auto.",
          "intros. apply in_or_app. left. reflexivity.", "intros. apply in_eq."]),
        (f"forall (f : nat -> nat) ({ls} : list nat), length (map f {ls}) = length {ls}",
         ["intros. apply map_length.", "intros. rewrite map_length. reflexivity.",
          f"induction {ls}; simpl; congruence."],
         ["intros. reflexivity.", "intros. apply rev_length.", "intros. simpl. reflexivity."]),
    ]  # fmt: skip
    proposition, correct, wrong = rng.choice(choices)
    return _draft("list_lemma", proposition, correct, wrong)


def propositional(rng: random.Random) -> Draft:
    """A propositional tautology over Prop variables, by tauto or by hand."""
    p, q, r = rng.sample(PROP_VARS, 3)
    two, three = f"forall {p} {q} : Prop", f"forall {p} {q} {r} : Prop"
    choices = [
        (f"{two}, {p} /\\ {q} -> {q} /\\ {p}",
         ["tauto.", "intuition.", "firstorder.", f"intros {p} {q} [H1 H2]. split; assumption.",
          f"intros {p} {q} [H1 H2]. split; [exact H2 | exact H1]."],
         ["auto.", f"intros {p} {q} H. split; assumption.", "intros. assumption."]),
        (f"{two}, {p} \\/ {q} -> {q} \\/ {p}",
         ["tauto.", "intuition.", f"intros {p} {q} [H | H]; [right | left]; assumption.",
          f"intros {p} {q} [H | H]; auto."],
         ["intros. auto.", f"intros {p} {q} H. left. assumption.",
          f"intros {p} {q} [H | H]; left; assumption."]),
        (f"{three}, ({p} -> {q}) -> ({q} -> {r}) -> {p} -> {r}",
         ["auto.", "tauto.", f"intros {p} {q} {r} H1 H2 H3. apply H2. apply H1. exact H3."],
         [f"intros {p} {q} {r} H1 H2 H3. apply H1.", "intros. assumption.",
          f"intros {p} {q} {r} H1 H2 H3. exact H3."]),
        (f"forall {p} : Prop, {p} -> ~ ~ {p}",
         ["tauto.", "auto.", f"intros {p} H1 H2. apply H2. exact H1."],
         [f"intros {p} H1. exact H1.", "intros. assumption.", f"intros {p} H1. apply H1."]),
        (f"{two}, ~ ({p} \\/ {q}) -> ~ {p}",
         ["tauto.", "auto.", f"intros {p} {q} H1 H2. apply H1. left. exact H2."],
         [f"intros {p} {q} H1 H2. apply H1. right. exact H2.", "intros. assumption.",
          "intros. contradiction."]),
        (f"{three}, ({p} /\\ {q}) /\\ {r} -> {p} /\\ ({q} /\\ {r})",
         ["tauto.", "intuition.",
          f"intros {p} {q} {r} [[H1 H2] H3]. split; [exact H1 | split; assumption]."],
         ["intros. split; assumption.", f"intros {p} {q} {r} [H1 H2]. split; assumption.",
          "auto."]),
        (f"{three}, ({p} -> {q} -> {r}) -> {p} /\\ {q} -> {r}",
         ["tauto.", "intuition.", f"intros {p} {q} {r} H [H1 H2]. apply H; assumption."],
         [f"intros {p} {q} {r} H H1. apply H. exact H1.", "auto.", "intros. assumption."]),
    ]  # fmt: skip
    proposition, correct, wrong = rng.choice(choices)
    return _draft("propositional", proposition, correct, wrong)


FAMILIES: dict[str, Callable[[random.Random], Draft]] = {
    "nat_reorder": nat_reorder,
    "nat_ring": nat_ring,
    "nat_inequality": nat_inequality,
    "bool_law": bool_law,
    "list_lemma": list_lemma,
    "propositional": propositional,
}


# -- splits, checking, files -------------------------------------------------------------


def generate(
    train: int, eval: int, seed: int = 0
) -> tuple[list[FamilyProblem], list[FamilyProblem]]:
    """Train and eval problems, every family in both, no proposition in both (nor twice)."""
    rng = random.Random(seed)
    pool: list[tuple[str, Draft]] = []
    for index, family in enumerate(FAMILIES.values()):
        drafts = _distinct(family, rng, _share(train, index) + _share(eval, index))
        pool += [("eval", d) for d in drafts[: _share(eval, index)]]
        pool += [("train", d) for d in drafts[_share(eval, index) :]]
    rng.shuffle(pool)
    problems = [
        FamilyProblem(
            name=f"lemma_{number:03d}",
            family=draft.family,
            split=split,
            statement=f"Theorem lemma_{number:03d} : {draft.proposition}.",
            scripts=draft.scripts,
        )
        for number, (split, draft) in enumerate(pool)
    ]
    return [p for p in problems if p.split == "train"], [p for p in problems if p.split == "eval"]


def _share(total: int, index: int) -> int:
    """Family `index`'s part of `total`, spread as evenly as the count allows."""
    return total // len(FAMILIES) + (index < total % len(FAMILIES))


def _distinct(
    family: Callable[[random.Random], Draft], rng: random.Random, count: int
) -> list[Draft]:
    drafts: dict[str, Draft] = {}
    for _ in range(100 * count):
        if len(drafts) == count:
            break
        draft = family(rng)
        drafts.setdefault(draft.proposition, draft)
    if len(drafts) < count:
        raise ValueError(f"{family.__name__} has fewer than {count} distinct propositions")
    return list(drafts.values())


class Mismatch(BaseModel):
    name: str
    script: str
    labelled_correct: bool
    status: Status
    detail: str | None = None


def check_labels(problems: list[FamilyProblem], workers: int = 2) -> list[Mismatch]:
    """Every script of every problem through the engine: where Coq disagrees with its label (an
    engine error counts as disagreement: the label is then unconfirmed)."""
    from leanfilter.engine import Verifier, VerifierConfig
    from leanfilter.oracle import Oracle
    from leanfilter.pool import PoolConfig

    groups = [(p.problem(), [s.text for s in p.scripts]) for p in problems]
    with Verifier(VerifierConfig(pool=PoolConfig(workers=workers), timeout=20)) as engine:
        results = Oracle(engine).score_batch(groups)
    return [
        Mismatch(
            name=problem.name,
            script=script.text,
            labelled_correct=script.correct,
            status=verdict.status,
            detail=verdict.detail,
        )
        for problem, result in zip(problems, results, strict=True)
        for script, verdict in zip(problem.scripts, result.verdicts, strict=True)
        if (verdict.status is Status.PROVED) != script.correct or verdict.status is Status.ERROR
    ]


def write_split_files(out: Path, train: list[FamilyProblem], eval: list[FamilyProblem]) -> None:
    """train.jsonl and eval.jsonl (problems), corpus.jsonl (the train problems' scripts)."""
    out.mkdir(parents=True, exist_ok=True)
    for split, problems in (("train", train), ("eval", eval)):
        _write_jsonl(out / f"{split}.jsonl", [p.record() for p in problems])
    corpus = [
        {"name": p.name, "proof": s.text, "correct": s.correct} for p in train for s in p.scripts
    ]
    _write_jsonl(out / "corpus.jsonl", corpus)


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train", type=int, default=240)
    parser.add_argument("--eval", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    train, eval = generate(args.train, args.eval, args.seed)
    mismatches = check_labels(train + eval, args.workers)
    for m in mismatches:
        print(f"{m.name}: {m.script!r} labelled correct={m.labelled_correct}, Coq: {m.status.value}"
              f" {m.detail or ''}")  # fmt: skip
    if mismatches:
        raise SystemExit(
            f"{len(mismatches)} scripts whose label Coq does not confirm; nothing written"
        )
    write_split_files(args.out, train, eval)
    scripts = sum(len(p.scripts) for p in train + eval)
    print(
        f"{len(train)} train, {len(eval)} eval problems; {scripts} scripts, every label confirmed"
    )


if __name__ == "__main__":
    main()
