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
FAKE_PLUS = (
    "Declare Scope fake_scope.\nDelimit Scope fake_scope with fake.\n"
    'Notation "x + y" := (x * y) : fake_scope.\n'
)
TWO_TYPES = "Definition pick {A : Type} (x y : A) := x.\n"

# Whole files without a problem: each changes what its own statement text means, by one of the
# ways Coq lets a file do so. The statement is elaborated before the file runs, so none of them
# reaches it: (file, what stops it).
NO_STATEMENT = {
    "notation-redefines-eq": (
        'Notation "x = y" := (x <> y) : type_scope.\nTheorem t : 1 = 2.\n'
        "Proof. discriminate. Qed.\n",
        "integrity.statement",
    ),
    "local-notation": (
        'Local Notation "x = y" := (x <> y) : type_scope.\nTheorem t : 1 = 2.\n'
        "Proof. discriminate. Qed.\n",
        "integrity.statement",
    ),
    "notation-imported-from-a-module": (
        'Module N.\nNotation "x = y" := (x <> y) : type_scope.\nEnd N.\nImport N.\n'
        "Theorem t : 1 = 2.\nProof. discriminate. Qed.\n",
        "integrity.statement",
    ),
    "scope-opened-over-the-statement": (
        "Declare Scope fake_scope.\nDelimit Scope fake_scope with fake.\n"
        'Notation "x + y" := (x * y) : fake_scope.\nOpen Scope fake_scope.\n'
        "Theorem t : 3 + 3 = 9.\nProof. reflexivity. Qed.\n",
        "integrity.statement",
    ),
    "abbreviation-for-false": (
        "Notation False := True.\nTheorem t : False.\nProof. exact I. Qed.\n",
        "integrity.statement",
    ),
    "definition-shadows-false": (
        "Definition False := True.\nTheorem t : False.\nProof. exact I. Qed.\n",
        "integrity.statement",
    ),
    "inductive-shadows-false": (
        "Inductive False := I.\nTheorem t : False.\nProof. exact I. Qed.\n",
        "integrity.statement",
    ),
    "inductive-shadows-nat": (
        "Inductive nat := O | S (n : nat).\nTheorem t : forall n : nat, n = O.\n"
        "Proof. Abort.\nInductive nat' := O'.\nTheorem t : forall n : nat, n = O.\n"
        "Proof. destruct n. reflexivity. Abort.\nDefinition nat := nat'.\n"
        "Theorem t : forall n : nat, n = n.\nProof. reflexivity. Qed.\n",
        "not_proved",  # Coq itself refuses `nat` twice: an error, whatever the statement
    ),
    "late-require-changes-the-scope": (
        "Definition d := 0.\nRequire Import ZArith.\nOpen Scope Z_scope.\n"
        "Theorem t : 0 - 1 < 0.\nProof. reflexivity. Qed.\n",
        "integrity.statement",
    ),
    "argument-scope-of-a-library-constant": (
        FAKE_PLUS + "Arguments S n%fake_scope.\nTheorem t : S (3 + 3) = 10.\n"
        "Proof. reflexivity. Qed.\n",
        "integrity.statement",
    ),
    "scope-bound-to-nat": (
        FAKE_PLUS + "Bind Scope fake_scope with nat.\nDefinition g (n : nat) := n.\n"
        "Theorem t : g (3 + 3) = 9.\nProof. reflexivity. Qed.\n",
        "integrity.statement",
    ),
    "scope-delimiter-in-the-statement": (
        FAKE_PLUS + "Theorem t : (3 + 3 = 9)%fake.\nProof. reflexivity. Qed.\n",
        "statement.unreadable",
    ),
    "instance-gives-the-statement-its-meaning": (
        "Require Import Coq.Classes.SetoidClass.\n"
        "Definition any (x y : nat) : Prop := True.\n"
        "#[local] Instance any_equiv : Equivalence any.\n"
        "Proof. split; red; unfold any; auto. Qed.\n"
        "#[local] Instance any_setoid : Setoid nat := {| equiv := any |}.\n"
        "Theorem t : 1 == 2.\nProof. exact I. Qed.\n",
        "statement.unreadable",
    ),
    "coercion-makes-a-term-a-statement": (
        "Definition holds (b : bool) : Prop := True.\nCoercion holds : bool >-> Sortclass.\n"
        "Theorem t : false.\nProof. exact I. Qed.\n",
        "statement.unreadable",
    ),
    "section-variable": (
        "Section S.\nVariable h : False.\nTheorem t : 1 = 2.\nProof. destruct h. Qed.\nEnd S.\n",
        "integrity.statement",
    ),
    "section-hypothesis": (
        "Section S.\nHypothesis h : False.\nTheorem t : False.\nProof. exact h. Qed.\nEnd S.\n",
        "integrity.statement",
    ),
    "section-context": (
        "Section S.\nContext (h : 1 = 2).\nTheorem t : 1 = 2.\nProof. exact h. Qed.\nEnd S.\n",
        "integrity.statement",
    ),
    "functor-parameter": (
        "Module Type T.\nParameter h : False.\nEnd T.\nModule F (X : T).\n"
        "Theorem t : 1 = 2.\nProof. destruct X.h. Qed.\nEnd F.\n",
        "prover.missing",
    ),
    "own-name-under-the-file-scope": (
        FAKE_PLUS + "Definition g (n : nat) := n.\nOpen Scope fake_scope.\n"
        "Theorem t : 3 + 3 = g 9.\nProof. reflexivity. Qed.\n",
        "integrity.statement",  # `g` is the file's, `+` keeps its meaning
    ),
    "own-name-that-is-a-section-variable": (
        "Section S.\nVariable n : nat.\nHypothesis h : n = 1.\n"
        "Theorem t : n = 1.\nProof. exact h. Qed.\nEnd S.\n",
        "integrity.statement",
    ),
    "own-name-in-a-notation-of-the-file": (
        'Definition two := 2.\nNotation "x =!= y" := (x <> y) (at level 70).\n'
        "Theorem t : two =!= 3.\nProof. discriminate. Qed.\n",
        "statement.unreadable",
    ),
    "statement-under-fail": (
        "Fail Theorem t : 1 = 2.\nDefinition t : 1 = 1 := eq_refl.\n",
        "input.untrusted",
    ),
    "statement-not-a-proposition": (
        "Theorem t : nat.\nProof. exact 0. Defined.\n",
        "statement.unreadable",
    ),
    # `pick` at two types: the statement alone types no binder, so the file's types are read
    # after a first run. A type naming the file's own `False` must not bind the statement's.
    "type-of-an-own-name-names-a-shadowing-false": (
        TWO_TYPES + "Inductive False := I'.\nDefinition g (x : False) := x.\n"
        "Theorem t : pick 1 2 = 1 /\\ (g I' = g I' -> False).\n"
        "Proof. split; [reflexivity | intros; exact I']. Qed.\n",
        "integrity.statement",
    ),
    "eq-redefined-beside-an-own-name-at-two-types": (
        TWO_TYPES + 'Notation "x = y" := (x <> y) : type_scope.\n'
        "Theorem t : pick true false = true -> 1 = 2.\nProof. intros _. discriminate. Qed.\n",
        "integrity.statement",
    ),
    "own-name-typed-by-the-file-in-a-section": (
        TWO_TYPES + "Section S.\nVariable n : nat.\nHypothesis h : n = 1.\n"
        "Theorem t : pick n 2 = 1 /\\ pick true false = true.\n"
        "Proof. split; [exact h | reflexivity]. Qed.\nEnd S.\n",
        "statement.unreadable",
    ),
    # Coq reports no unresolved name in a pattern: `red` read as a variable matching `green`,
    # while `green` is bound to the file's constructor (both the file's: `False`). The file's
    # theorem comes from a module where `red` is no constructor. The file run up to a statement
    # inside a module leaves that module open, so no type is read from it, and the statement
    # alone does not type `green`.
    "own-constructor-read-as-a-pattern-variable": (
        "Inductive color := red | green.\nModule M.\nDefinition red := tt.\n"
        "Theorem t : match (green, 0) with (red, 0) => True | _ => False end.\n"
        "Proof. exact I. Qed.\nEnd M.\nDefinition t := M.t.\n",
        "statement.unreadable",
    ),
    # The same, with the constructor in a submodule the file imports after its theorem: the
    # short name `red` reaches it at the file's end, its path is no `lf_m.red`.
    "own-constructor-of-a-submodule-read-as-a-pattern-variable": (
        "Module C.\nInductive color := red | green.\nEnd C.\nDefinition col := C.color.\n"
        "Definition green : col := C.green.\n"
        "Theorem t : match (green, 0) with (red, 0) => True | _ => False end.\n"
        "Proof. exact I. Qed.\nImport C.\n",
        "integrity.statement",
    ),
}
# Honest files of the same shapes: a file's own notations, shadowing names and sections are
# fine where its statement, read before the file, is what its theorem proves.
NO_STATEMENT_TWINS = {
    "notation-used-in-the-proof-only": (
        'Notation "x =?= y" := (x = y) (at level 70).\nTheorem t : 1 + 1 = 2.\n'
        "Proof. change (1 + 1 =?= 2). reflexivity. Qed.\n"
    ),
    "unused-shadowing": (
        "Definition False := True.\nTheorem t : 1 + 1 = 2.\nProof. reflexivity. Qed.\n"
    ),
    "section-without-assumptions": (
        "Section S.\nTheorem t : forall n : nat, n + 0 = n.\n"
        "Proof. induction n; simpl; auto. Qed.\nEnd S.\n"
    ),
    "statement-under-the-file-imports": (
        "Require Import ZArith.\nOpen Scope Z_scope.\nTheorem t : 0 - 1 < 0.\n"
        "Proof. reflexivity. Qed.\n"
    ),
    "statement-on-own-definitions": (
        "Definition two := 2.\nFixpoint double (n : nat) := match n with 0 => 0 "
        "| S m => S (S (double m)) end.\nTheorem t : forall n, double n = n + n /\\ two = 2.\n"
        "Proof. split; [induction n; simpl; [reflexivity|rewrite IHn, <- plus_n_Sm] | ]; "
        "reflexivity. Qed.\n"
    ),
    "own-inductive-in-the-statement": (
        "Inductive color := Red | Blue.\nDefinition flip c := match c with Red => Blue "
        "| Blue => Red end.\nTheorem t : forall c : color, flip (flip c) = c.\n"
        "Proof. destruct c; reflexivity. Qed.\n"
    ),
    "own-name-with-implicit-arguments": (  # applied as a constant: `@pick nat`
        "Definition pick {A : Type} (x y : A) := y.\n"
        "Theorem t : pick 1 2 = 2.\nProof. reflexivity. Qed.\n"
    ),
    "own-name-beside-implicit-arguments-of-eq": (
        "Arguments eq_refl {A} {x}.\nDefinition two := 2.\n"
        "Theorem t : two = 2.\nProof. exact eq_refl. Qed.\n"
    ),
    "own-class-in-a-backquoted-binder": (  # Coq: "Unbound and ungeneralizable variable C"
        "Class C : Prop := { witness : 1 = 1 }.\nTheorem t `{C} : C.\nProof. assumption. Qed.\n"
    ),
    "own-name-at-two-types": (
        TWO_TYPES + "Theorem t : pick 1 2 = 1 /\\ pick true false = true.\n"
        "Proof. split; reflexivity. Qed.\n"
    ),
    "own-name-whose-type-names-another": (  # `red : color`, bound under a fresh name
        TWO_TYPES + "Inductive color := red | blue.\n"
        "Theorem t : pick red blue = red /\\ pick 1 2 = 1.\nProof. split; reflexivity. Qed.\n"
    ),
    "own-name-typed-under-a-notation-of-the-file": (  # types are printed without notations
        TWO_TYPES + 'Notation "x === y" := (x <> y) (at level 70).\n'
        "Definition h (n : nat) : n === S n := n_Sn n.\n"
        "Theorem t : pick (h 0) (h 0) = h 0 /\\ pick 1 2 = 1.\nProof. split; reflexivity. Qed.\n"
    ),
    "own-shadowing-false-in-a-type-only": (
        TWO_TYPES + "Inductive False := I'.\nDefinition g (x : False) := x.\n"
        "Theorem t : pick 1 2 = 1 /\\ g I' = g I'.\nProof. split; reflexivity. Qed.\n"
    ),
    "own-constructor-bound-where-a-pattern-names-it": (
        "Inductive color := red | green.\n"
        "Theorem t : match (red, 0) with (red, 0) => True | _ => False end.\n"
        "Proof. exact I. Qed.\n"
    ),
    "own-submodule-constructor-beside-the-header-one-in-a-pattern": (  # `S` is nat's
        "Module C.\nInductive k := S.\nEnd C.\n"
        "Theorem t : forall n, match n with S m => True | O => True end.\n"
        "Proof. intros [|n]; exact I. Qed.\n"
    ),
    "the-last-statement-counts": (
        "Module A.\nTheorem t : 1 = 1.\nProof. reflexivity. Qed.\nEnd A.\n"
        "Theorem t : True.\nProof. exact I. Qed.\n"
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


@pytest.fixture(scope="module")
def file_verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every file of NO_STATEMENT and NO_STATEMENT_TWINS, verified in one run, by case id."""
    files = {k: v[0] for k, v in NO_STATEMENT.items()} | NO_STATEMENT_TWINS
    tmp = tmp_path_factory.mktemp("files")
    source, out = tmp / "in.jsonl", tmp / "out.jsonl"
    source.write_text("".join(json.dumps({"name": "t", "code": c}) + "\n" for c in files.values()))
    argv = [sys.executable, "-m", "leanfilter", "verify", str(source), "-o", str(out)]
    argv += ["--backend", "coq", "--no-progress"]
    subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    verdicts = sorted(map(json.loads, out.read_text().splitlines()), key=lambda v: v["line"])
    return dict(zip(files, verdicts, strict=True))


@pytest.mark.parametrize("case", sorted(NO_STATEMENT))
def test_a_file_without_a_trusted_statement_cannot_prove_a_falsehood(file_verdicts, case):
    verdict, expected = file_verdicts[case], NO_STATEMENT[case][1]
    assert verdict["status"] != "proved", verdict
    if expected != "not_proved":
        assert verdict["reason"] == expected, verdict


@pytest.mark.parametrize("case", sorted(NO_STATEMENT_TWINS))
def test_an_honest_file_of_the_same_shape_is_proved(file_verdicts, case):
    verdict = file_verdicts[case]
    assert verdict["status"] == "proved", verdict


# Forged coqtop answers: `idtac` output is wrapped in `<infomsg>…</infomsg>`, and a message that
# itself holds `</infomsg>` ends that wrapper early, so what follows reads as plain output.
def _forged_unresolved(
    name: str,
    library_constant: str,
    error: str = "The reference {name} was not found in the current environment.",
) -> str:
    """A binder whose tactic, only while `name` is still the library's constant (the statement
    read under the header), prints Coq's error for an unresolved `name`."""
    error = error.format(name=name)
    return (
        f"(_ : nat := ltac:(lazymatch constr:({name}) with {library_constant} => "
        f'idtac "</infomsg>Error: {error}<infomsg>" | _ => idtac end; exact 0))'
    )


# Class: forged "not found" error while the file's own statement is read. The engine takes the
# printed error for Coq's and abstracts a name the header resolves (`False`, `plus`), so the
# file's own definition of that name gives the statement its meaning.
FORGED_STATEMENT_READING = {
    "false-abstracted": (
        "Definition False : Prop := True.\n"
        f"Theorem t {_forged_unresolved('False', 'Logic.False')} : False.\n"
        "Proof. intros. exact I. Qed.\n"
    ),
    "false-by-failure": (  # the error is real, its text forged: the tactic's own message
        "Definition False : Prop := True.\n"
        "Theorem t (_ : nat := ltac:(lazymatch constr:(False) with Logic.False => fail "
        '"</infomsg><prompt>Coq < 9 || 0 < </prompt>Error: The reference False was not found '
        'in the current environment.<prompt>Coq < 9 || 0 < </prompt>" | _ => exact 0 end))'
        " : False.\n"
        "Proof. intros. exact I. Qed.\n"
    ),
    "false-abstracted-as-ungeneralizable": (
        "Definition False : Prop := True.\n"
        "Theorem t "
        + _forged_unresolved("False", "Logic.False", "Unbound and ungeneralizable variable {name}.")
        + " : False.\nProof. intros. exact I. Qed.\n"
    ),
    "plus-abstracted": (
        "Definition plus (a b : nat) := 5.\n"
        f"Theorem t {_forged_unresolved('plus', 'Nat.add')} : plus 2 2 = 5.\n"
        "Proof. intros. reflexivity. Qed.\n"
    ),
}
FORGED_STATEMENT_READING_TWIN = (  # a tactic in the statement that prints, about own names only
    "Definition two := 2.\n"
    'Theorem t (_ : nat := ltac:(idtac "</infomsg>hello<infomsg>"; exact 0)) : two + two = 4.\n'
    "Proof. intros. reflexivity. Qed.\n"
)


@pytest.mark.parametrize("case", sorted(FORGED_STATEMENT_READING))
def test_a_forged_not_found_error_cannot_abstract_a_library_name(tmp_path, case):
    verdict = verify(tmp_path, {"name": "t", "code": FORGED_STATEMENT_READING[case]})
    assert verdict["status"] != "proved", verdict


def test_a_statement_tactic_that_prints_stays_proved(tmp_path):
    verdict = verify(tmp_path, {"name": "t", "code": FORGED_STATEMENT_READING_TWIN})
    assert verdict["status"] == "proved", verdict


# Class: forged prompt in the answer to the engine's own `Check lf_m.NAME` (the constant's type
# prints a string holding one), so the answers shift and the integrity check reads a fragment of
# `Check`'s output instead of the error of `Definition lf_chk`. Only the audit of the missing
# `lf_chk` stops it (`audit.missing`); the verdict must be the integrity failure.
FORGED_PROMPT = "</infomsg><prompt>Coq < 7 || 0 < </prompt><infomsg>"
FORGED_INTEGRITY = (
    "Require Import String.\nOpen Scope string_scope.\n"
    f'Definition t : "{FORGED_PROMPT}" = "{FORGED_PROMPT}" -> True := fun _ => I.\n'
    "Module M.\nTheorem t : 1 = 2.\nAbort.\nEnd M.\n"
)


def test_a_prompt_printed_in_the_type_cannot_pass_integrity(tmp_path):
    verdict = verify(tmp_path, {"name": "t", "code": FORGED_INTEGRITY})
    assert verdict["status"] != "proved", verdict
    assert verdict["reason"] == "integrity.statement", verdict


def test_a_proof_that_prints_out_of_memory_is_not_taken_for_one(tmp_path):
    code = 'Theorem t : 2 + 2 = 4.\nProof. idtac "Out of memory". reflexivity. Qed.\n'
    verdict = verify(tmp_path, {"name": "t", "code": code})
    assert verdict["status"] == "proved", verdict


# Class: a warning carries the candidate's text into the answer to the engine's own command. A
# deprecated abbreviation's note is printed, unwrapped, before `Definition lf_chk`'s error; a note
# `<infomsg>` opens a wrapper there that the error's own quotation of the term (`"</infomsg>"`)
# closes, so the error reads as an informative message and integrity as passed. Only the audit of
# the missing `lf_chk` stops it (`audit.missing`); the verdict must be the integrity failure.
DEPRECATED_NOTE = '#[deprecated(since="v", note="<infomsg>")]'
STRING_SCOPE = "Require Import String.\nOpen Scope string_scope.\n"
NOTE_HIDES_ERROR = (
    STRING_SCOPE + "Module M.\nTheorem t : 1 = 2.\nAbort.\nEnd M.\n"
    f'{DEPRECATED_NOTE} Notation t := "</infomsg>".\n'
)
NOTE_HIDES_ERROR_TWIN = (  # the same note on the abbreviation that is the theorem, a true one
    STRING_SCOPE + "Module M.\nTheorem t : 1 + 1 = 2.\nAbort.\nEnd M.\n"
    f"{DEPRECATED_NOTE} Notation t := (eq_refl : 1 + 1 = 2).\n"
    'Definition d := "</infomsg>".\n'
)


# Class: the line's `name` is text of the engine's own commands (`Check lf_m.NAME.`, `Definition
# lf_chk : lf_ref := lf_m.NAME.`). A name that opens a string (the file states it as a prefix of a
# theorem whose let-binder holds that string, so the text rules see only a blanked string) makes
# the first occurrence's string swallow the engine's `Definition lf_chk` up to the second one;
# what follows the quote there runs as commands nobody screened (here `Check I`), and its answer is
# read as the integrity check's. Only the audit of the missing `lf_chk` stops it.
INJECTING_NAME = 't (s := ") . Check I'
NAME_INJECTION = (
    STRING_SCOPE + 'Theorem t (s := ") . Check I(") : 1 = 2.\nAbort.\n'
    "Definition t {s : string} := I.\n"
)
NAME_INJECTION_TWIN = (  # the same statement text, proved, under a plain name
    STRING_SCOPE + 'Theorem t (s := ") . Check I(") : 1 + 1 = 2.\n'
    "Proof. intros. reflexivity. Qed.\n"
)


# Class: the echo of the erring line carries the candidate's text. A file's own statement is
# sent on one line; when it fails to elaborate, Coq echoes that line (with a string `<infomsg>`
# in it) before `Error:`, and the error prints the let-bound `"</infomsg>"` of its environment
# after it: the error reads as an informative message, the statement as read. The file then runs
# against a reference that was never defined; the verdict must say the statement is unreadable.
ECHO_HIDES_ERROR = (
    STRING_SCOPE + 'Theorem t : let s := "</infomsg>" in (eq_refl s : "<infomsg>" = "x").\nAbort.\n'
)
ECHO_HIDES_ERROR_TWIN = (  # the same strings, in a statement that elaborates
    STRING_SCOPE + 'Theorem t : let s := "</infomsg>" in "<infomsg>" = "<infomsg>".\n'
    "Proof. simpl. reflexivity. Qed.\n"
)


# Misread answers: each attack must get exactly the verdict that names what it did wrong, and its
# twin of the same shape stays proved.
MISREAD = {
    "warning-note": ("t", NOTE_HIDES_ERROR, {"integrity.statement"}),
    "name-injection": (INJECTING_NAME, NAME_INJECTION, {"input.untrusted", "integrity.statement"}),
    "echoed-statement": ("t", ECHO_HIDES_ERROR, {"statement.unreadable"}),
}
MISREAD_TWINS = {
    "warning-note": NOTE_HIDES_ERROR_TWIN,
    "name-injection": NAME_INJECTION_TWIN,
    "echoed-statement": ECHO_HIDES_ERROR_TWIN,
}


@pytest.mark.parametrize("case", sorted(MISREAD))
def test_a_misread_answer_gets_the_verdict_for_what_it_hides(tmp_path, case):
    name, code, reasons = MISREAD[case]
    verdict = verify(tmp_path, {"name": name, "code": code})
    assert verdict["status"] != "proved", verdict
    assert verdict["reason"] in reasons, verdict


@pytest.mark.parametrize("case", sorted(MISREAD_TWINS))
def test_the_twin_of_a_misread_answer_stays_proved(tmp_path, case):
    verdict = verify(tmp_path, {"name": "t", "code": MISREAD_TWINS[case]})
    assert verdict["status"] == "proved", verdict


# Class 4: state one candidate leaves loaded reaches the next one's check. An accepted proof
# waits in its session for the batch audit, and its Qed has added its universe constraints to the
# global graph: the first proof below makes `Coq.Init.Logic.10 < eq.u0`, so the second, honest
# proof, which needs `eq.u0 < Coq.Init.Logic.10`, failed with a universe inconsistency beside it
# (`failed`, `prover.error`, and `--db` kept that), though it is proved alone. A failure beside
# loaded proofs is now checked again alone, after the batch's audit.
SABOTEUR = "let T := type of (@eq_rect nat 0) in pose (c := @eq_rect T). reflexivity."
NEEDS_THE_OTHER_ORDER = "let T := type of (@eq) in pose (d := @eq_rect nat 0 (fun _ => T))."
LOADED = [
    {"name": "sab", "backend": "coq", "header": "", "statement": "Theorem sab : 1 + 1 = 2."},
    {"name": "vic", "backend": "coq", "header": "", "statement": "Theorem vic : 2 + 2 = 4."},
    {"name": "lie", "backend": "coq", "header": "", "statement": "Theorem lie : 2 + 2 = 5."},
    {  # its `let` needs `eq.u0 < Coq.Init.Logic.10`, the order the first proof above forbids
        "name": "uni",
        "backend": "coq",
        "header": "",
        "statement": "Theorem uni : let d := @eq_rect nat 0 (fun _ => (fun (X : Type) (_ : X) => X)"
        " _ (@eq)) in 2 + 2 = 4.",
    },
    {  # needs both orders at once: no reading of it exists
        "name": "bad",
        "backend": "coq",
        "header": "",
        "statement": "Theorem bad : let d := @eq_rect nat 0 (fun _ => (fun (X : Type) (_ : X) => X)"
        " _ (@eq)) in let c := @eq_rect ((fun (X : Type) (_ : X) => X) _ (@eq_rect nat 0)) in"
        " 2 + 2 = 4.",
    },
]


def verify_in_one_session(tmp_path: Path, lines: list[dict]) -> list[dict]:
    source, problems, out = (tmp_path / f for f in ("in.jsonl", "problems.jsonl", "out.jsonl"))
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    problems.write_text("".join(json.dumps(p) + "\n" for p in LOADED))
    argv = [sys.executable, "-m", "leanfilter", "verify", str(source), "-o", str(out)]
    argv += ["--problems", str(problems), "--workers", "1"]
    subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_a_loaded_proof_cannot_fail_an_honest_neighbour(tmp_path):
    honest = {"name": "vic", "proof": f"{NEEDS_THE_OTHER_ORDER} reflexivity."}
    sabotage, victim = verify_in_one_session(tmp_path, [{"name": "sab", "proof": SABOTEUR}, honest])
    assert sabotage["status"] == "proved", sabotage
    assert victim["status"] == "proved", victim


def test_a_wrong_proof_beside_a_loaded_one_stays_unproved(tmp_path):
    wrong = {"name": "lie", "proof": f"{NEEDS_THE_OTHER_ORDER} reflexivity."}
    sabotage, lie = verify_in_one_session(tmp_path, [{"name": "sab", "proof": SABOTEUR}, wrong])
    assert sabotage["status"] == "proved", sabotage
    assert lie["status"] == "failed" and lie["reason"] == "prover.error", lie


# The same constraint, met inside a tactic that backtracks: `solve` swallows the universe
# inconsistency and reports its own error ("No applicable tactic."), so a second check that
# looked for Coq's words in the error never ran, and the honest proof was `failed` beside the
# loaded one (`prover.error`), though `proved` alone. Whether the loaded proofs order the
# header's universes anew is now asked of Coq's graph, whatever the error says.
BACKTRACKS = (
    "let T := type of (@eq) in assert (z : T) by solve [ apply (@eq_rect nat 0 (fun _ => T) (@eq)"
    " 0 eq_refl) | exact I ]. reflexivity."
)


def test_a_loaded_proof_cannot_fail_a_neighbour_whose_tactic_backtracks(tmp_path):
    honest = {"name": "vic", "proof": BACKTRACKS}
    sabotage, victim = verify_in_one_session(tmp_path, [{"name": "sab", "proof": SABOTEUR}, honest])
    assert sabotage["status"] == "proved", sabotage
    assert victim["status"] == "proved", victim


def test_a_wrong_proof_that_backtracks_beside_a_loaded_one_stays_unproved(tmp_path):
    wrong = {"name": "lie", "proof": BACKTRACKS}
    sabotage, lie = verify_in_one_session(tmp_path, [{"name": "sab", "proof": SABOTEUR}, wrong])
    assert sabotage["status"] == "proved", sabotage
    assert lie["status"] == "failed" and lie["reason"] == "prover.error", lie


def test_a_loaded_proof_cannot_make_a_trusted_statement_unreadable(tmp_path):
    """The same constraint meets the next problem's statement as the engine reads it: `error`,
    `input.header`, beside the loaded proof, though the statement elaborates alone."""
    honest = {"name": "uni", "proof": "intros; reflexivity."}
    sabotage, victim = verify_in_one_session(tmp_path, [{"name": "sab", "proof": SABOTEUR}, honest])
    assert sabotage["status"] == "proved", sabotage
    assert victim["status"] == "proved", victim


def test_a_statement_that_meets_the_constraint_alone_stays_unreadable(tmp_path):
    (verdict,) = verify_in_one_session(tmp_path, [{"name": "bad", "proof": "reflexivity."}])
    assert verdict["status"] == "error" and verdict["reason"] == "input.header", verdict
