# ruff: noqa: RUF001 - Lean statements use double-struck letters for number sets
"""The strict policy's text layer: folding, the Lean code view, and the rules for both backends.

The invariants that matter are tested with hypothesis: folding can only add banned words, never
hide them; a banned word inside a comment or a string is no use, and one right next to a
comment is; the Lean code view keeps offsets and lines; every capitalised sentence after
`Proof.` is refused. The few-shot miniF2F proofs (human-written, with long comments) must all
pass, so the rules are measured against honest text too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leanfilter.policy import PolicyConfig, StrictPolicy
from leanfilter.policy.lean_lexer import lean_code_views
from leanfilter.policy.unicode_fold import fold
from leanfilter.records import BackendName, Candidate

LEAN_STATEMENT = "theorem t (y : ℂ) : 7 * (3 * y + 2) = 21 * y + 14 := by\n"
COQ_STATEMENT = "Theorem t : forall n : nat, n + 0 = n."
PROVED = f"{COQ_STATEMENT} Proof. lia. Qed."
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u034f", "\ufe0f"]
LOOKALIKES = {"s": "\u0455", "o": "\u043e", "y": "\u0443", "a": "\u0430", "i": "\u0456"}
LEAN_BANNED = ["sorry", "admit", "axiom", "#exit", "#eval", "native_decide", "macro", "import"]
COQ_BANNED = ["admit", "Admitted", "Axiom", "Abort", "vm_compute", "give_up", "Qed"]
WORDS = st.sampled_from([*LEAN_BANNED, *COQ_BANNED, "ring", "x", "h", "lia", ":=", "(", ")"])
POLICY = StrictPolicy()


def lean(proof: str, whole_file: bool = False) -> str | None:
    candidate = Candidate(
        name="t",
        backend=BackendName.LEAN,
        statement=LEAN_STATEMENT,
        proof=proof,
        whole_file=whole_file,
    )
    decision = POLICY.screen(candidate)
    return decision.reason if decision else None


def coq(proof: str, whole_file: bool = False, policy: StrictPolicy = POLICY) -> str | None:
    candidate = Candidate(
        name="t",
        backend=BackendName.COQ,
        statement=COQ_STATEMENT,
        proof=proof,
        whole_file=whole_file,
    )
    decision = policy.screen(candidate)
    return decision.reason if decision else None


# -- folding --------------------------------------------------------------------------------


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_folding_leaves_ascii_alone(text: str) -> None:
    folded = fold(text)
    assert folded.text == text
    assert folded.source_offset(len(text) // 2) == len(text) // 2


@given(st.text())
def test_every_folded_character_points_back_into_the_text(text: str) -> None:
    folded = fold(text)
    offsets = [folded.source_offset(i) for i in range(len(folded.text))]
    assert offsets == sorted(offsets)
    assert all(0 <= o < len(text) for o in offsets)


@st.composite
def disguised(draw: st.DrawFn, word: str) -> str:
    """`word` with invisible characters slipped in and letters swapped for look-alikes."""
    out = []
    for c in word:
        if c in LOOKALIKES and draw(st.booleans()):
            c = LOOKALIKES[c]
        elif c.isalpha() and draw(st.booleans()):
            c = chr(ord(c) + 0xFEE0)  # fullwidth
        out.append(c + "".join(draw(st.lists(st.sampled_from(INVISIBLE), max_size=2))))
    return "".join(out)


@given(disguised("sorry"))
def test_a_disguised_sorry_is_still_sorry(word: str) -> None:
    assert lean(f"  {word}") == "policy.sorry"


@given(disguised("admit"))
def test_a_disguised_admit_is_still_admit(word: str) -> None:
    assert coq(f"intros. {word}.") == "policy.sorry"


# -- Lean: what is code ---------------------------------------------------------------------


@given(st.text())
def test_the_code_views_keep_offsets_and_lines(text: str) -> None:
    for view in lean_code_views(text):
        assert len(view) == len(text)
        assert [i for i, c in enumerate(view) if c == "\n"] == [
            i for i, c in enumerate(text) if c == "\n"
        ]


@pytest.mark.parametrize(
    "text",
    [
        # a plain string has no holes: Lean ends it at the second quote and runs what follows
        'def s := "{"\nmacro_rules | `(tactic| ring) => `(tactic| sorry)\ndef t := "}"',
        # inside guillemets nothing opens a comment or a string
        "def «/-» := 0\nmacro_rules | `(tactic| ring) => `(tactic| sorry)\ndef «-/» := 0",
        "def «--» := 0 macro_rules | `(tactic| ring) => `(tactic| sorry)",
        'def «"» := 0\nmacro_rules | `(tactic| ring) => `(tactic| sorry)\ndef «"» := 0',
    ],
)
def test_lean_what_the_lexer_and_lean_could_read_differently_is_read_both_ways(
    text: str,
) -> None:
    candidate = Candidate(name="t", backend=BackendName.LEAN, proof=text, whole_file=True)
    assert {f.rule for f in POLICY.findings(candidate)} >= {"syntax"}


comment_text = st.lists(WORDS, max_size=8).map(" ".join)


@given(comment_text)
def test_lean_words_in_comments_and_strings_are_not_uses(words: str) -> None:
    assert lean(f"  -- {words}\n  ring") is None
    assert lean(f"  /- {words} -/\n  ring") is None
    assert lean(f"  /-- {words} -/\n  ring") is None
    assert lean(f'  have _s := "{words}"\n  ring') is None
    assert lean(f'  have _s := r#"{words}"#\n  ring') is None


@given(st.sampled_from(["sorry", "admit", "sorryAx"]), comment_text)
def test_lean_a_use_next_to_a_comment_is_a_use(word: str, words: str) -> None:
    assert lean(f"  {word}/- {words} -/") == "policy.sorry"
    assert lean(f"  /- {words} -/{word}") == "policy.sorry"
    assert lean(f"  {word}-- {words}") == "policy.sorry"
    assert lean(f'  have _s := s!"{{{word}}}"') == "policy.sorry"  # an interpolated hole is code


@pytest.mark.parametrize(
    ("proof", "reason"),
    [
        ("  set_option maxRecDepth 10000 in\n  ring", None),
        ("  set_option maxHeartbeats 400000 in\n  ring", None),
        ("  set_option maxHeartbeats 0 in\n  ring", "policy.option"),
        ("  set_option pp.all true in\n  ring", None),
        ('  set_option trace.profiler.output "/tmp/p" in\n  ring', "policy.option"),
        ("  set_option debug.skipKernelTC true in\n  ring", "policy.option"),
        ("  ring\nattribute [simp] mul_comm", None),
        ("  ring\nattribute [local instance] Classical.propDecidable", None),
        (
            "  ring\n@[app_unexpander HAdd.hAdd] def u : Lean.PrettyPrinter.Unexpander := fun _ => "
            "throw ()",
            "policy.syntax",
        ),
        ("  ring\n@[init] def f : IO Unit := pure ()", "policy.eval"),
        ("  ring\n#check (1 : ℕ)\n#print axioms t", None),
        ("  ring\n#exit", "policy.exit"),
        ("  ring\n#synth Inhabited ℕ", None),
        ("  ring\n#guard 1 = 1", "policy.command"),
        ("  exact List.isPrefixOf_iff_prefix", None),
        ("  have h' : 'a' = 'a' := rfl\n  ring", None),
        ("  decide +kernel", None),
        ("  exact IO.println", "policy.meta"),
    ],
)
def test_lean_rule_table(proof: str, reason: str | None) -> None:
    assert lean(proof) == reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (LEAN_STATEMENT + "  ring", None),
        (f"namespace X\ntheorem h : True := trivial\nend X\n\n{LEAN_STATEMENT}  ring", None),
        (f"section\nvariable (n : ℕ)\nend\n\n{LEAN_STATEMENT}  ring", None),
        (f"namespace X\n{LEAN_STATEMENT}  ring\nend X", "policy.redeclare"),
        (f"{LEAN_STATEMENT}  ring\n\n{LEAN_STATEMENT}  ring", "policy.redeclare"),
        (f"open Complex in\n{LEAN_STATEMENT}  ring", "policy.open_in"),
        (f"open Complex\n\n{LEAN_STATEMENT}  ring", None),
    ],
)
def test_lean_whole_file_declares_the_theorem_once_at_the_top(
    body: str, reason: str | None
) -> None:
    assert lean(body, whole_file=True) == reason


def test_lean_few_shot_proofs_pass(benchmark_data: Path) -> None:
    path = benchmark_data / "minif2f_lean" / "minif2f_valid_few_shot.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rejected = {}
    for row in rows:
        candidate = Candidate(
            name=row["name"],
            backend=BackendName.LEAN,
            statement=row["formal_statement"],
            proof=row["formal_proof"],
        )
        decision = POLICY.screen(candidate)
        if decision is not None:
            rejected[row["name"]] = decision.detail
    assert len(rows) == 67
    assert rejected == {}


# -- Coq ------------------------------------------------------------------------------------


@given(comment_text.filter(lambda t: "(*" not in t and "*)" not in t))
def test_coq_words_in_comments_and_strings_are_not_uses(words: str) -> None:
    assert coq(f"intros. (* {words} *) lia.") is None
    assert coq(f'intros. idtac "{words}". lia.') is None


@given(st.sampled_from(["admit.", "Admitted.", "Abort.", "Axiom c : False."]), comment_text)
def test_coq_a_use_next_to_a_comment_is_a_use(sentence: str, words: str) -> None:
    words = words.replace("(*", "").replace("*)", "")
    assert coq(f"intros. (* {words} *){sentence}") is not None  # `.` then `(*` ends nothing
    assert coq(f"intros. {sentence[:-1]}(* {words} *).") is not None


@given(st.from_regex(r"[A-Z][a-z]{1,8}", fullmatch=True).filter(lambda w: w != "Unshelve"))
@settings(max_examples=200)
def test_coq_no_vernacular_after_proof(word: str) -> None:
    assert coq(f"intros. {word} x. lia.") is not None


@pytest.mark.parametrize(
    "proof",
    [
        "intros; lia.",
        "Proof. intros. lia. Qed.",
        f"{COQ_STATEMENT} Proof. intros. lia. Qed .",
        "intros n.\n- lia.\n+ lia.",
        "intros n. { lia. }",
        "1: intros n. all: lia.",
        "intros n. induction n as [|m IH]; [reflexivity | simpl; rewrite IH; reflexivity].",
        "intros. match goal with |- _ => lia end.",
        "intros. eapply eq_trans. Unshelve. all: lia.",
    ],
)
def test_coq_honest_tactic_scripts_pass(proof: str) -> None:
    assert coq(proof) is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (f"Lemma h : True. Proof. exact I. Qed.\nLtac fin := lia.\n{PROVED}", None),
        (f"Section S. Variable m : nat. Lemma h : m = m. Proof. easy. Qed. End S.\n{PROVED}", None),
        (f"Module Type T. Parameter p : nat. End T.\n{PROVED}", None),
        (f"Module M <: Nothing. End M.\n{PROVED}", None),
        (f"Open Scope nat_scope.\n{PROVED}", None),
        # assumptions are the audit's: `Print Assumptions` lists any the theorem uses
        (f"Variable m : nat.\n{PROVED}", None),
        (f"Module Type T. Parameter p : nat. End T.\nParameter q : nat.\n{PROVED}", None),
        (f"Module Type T. Axiom p : False. End T.\nModule M. Include T. End M.\n{PROVED}", None),
        (f"#[local] Axiom c : False.\nDeclare Instance i : C.\n{PROVED}", None),
        (f"Definition False := True.\n{PROVED}", "policy.shadow"),
        (f"Parameter nat : Type.\n{PROVED}", "policy.shadow"),
        (f"Local Unset Guard Checking.\n{PROVED}", "policy.unsafe_flag"),
        (f'Time Redirect "f" Print nat.\n{PROVED}', "policy.side_effect"),
        (f"Definition nat := bool.\n{PROVED}", "policy.shadow"),
        # what the checks inside Coq read anyway: a file's own notations, late imports,
        # backtracks inside its own proofs, a theorem declared again or in a module
        (f"From Coq Require Import Lia.\n{PROVED}", None),
        (f"Lemma h : True. Proof. Require Import Lia. exact I. Qed.\n{PROVED}", None),
        (f'Infix "+" := Nat.mul.\n{PROVED}', None),
        (f"Notation idmap := (fun x : nat => x).\n{PROVED}", None),
        (f'Notation "[ x ; .. ; y ]" := (cons x .. (cons y nil) ..).\n{PROVED}', None),
        (f'Notation "x .+ y" := (x + y) (at level 50).\n{PROVED}', "policy.notation"),
        (f"Notation \"x '+++.' y\" := (x + y) (at level 50).\n{PROVED}", "policy.notation"),
        (f'Fail Reserved Infix "++．" (at level 60).\n{PROVED}', "policy.notation"),
        (f'Tactic Notation "done" "." := idtac.\n{PROVED}', "policy.notation"),
        (f"Theorem t : 1 = 2. Proof. idtac. Undo. Restart. Abort.\n{PROVED}", None),
        (f"{PROVED}\nModule M. Theorem t : True. Proof. exact I. Qed. End M.", None),
        (f"Section S. {PROVED} End S.", None),
        (f"Add Ring r : rth.\nExtraction Inline f.\nRecursive Extraction nat.\n{PROVED}", None),
        # commands under `Fail`/`Succeed` are rolled back: only what acts outside counts
        (f"Fail Axiom c : False.\nSucceed Unset Guard Checking.\n{PROVED}", None),
        (f'Fail Cd "/tmp".\n{PROVED}', "policy.side_effect"),
        (f"Eval vm_compute in 2 + 2.\nCompute (I <: True).\n{PROVED}", None),
        (f"Definition x := I <: True.\n{PROVED}", "policy.vm"),
        (f"Check ltac:(abstract (vm_compute; exact I)) : True.\n{PROVED}", "policy.vm"),
        # what they cannot read: session state, files, processes, kernel flags
        (f"Reset Initial.\n{PROVED}", "policy.backtrack"),
        (f"BackTo 1.\n{PROVED}", "policy.backtrack"),
        (f"Notation False := True.\n{PROVED}", "policy.shadow"),
        (f"Notation \"'False'\" := True.\n{PROVED}", "policy.shadow"),
        (f'Add LoadPath "/tmp" as X.\n{PROVED}', "policy.side_effect"),
        (f'Add ML Path "/tmp".\n{PROVED}', "policy.side_effect"),
        (f'Extraction "/tmp/x.ml" nat.\n{PROVED}', "policy.side_effect"),
        (f"Separate Extraction nat.\n{PROVED}", "policy.side_effect"),
        (f"Extraction TestCompile nat.\n{PROVED}", "policy.side_effect"),
        (f"Extraction Library Datatypes.\n{PROVED}", "policy.side_effect"),
        (f'Declare ML Module "x".\n{PROVED}', "policy.side_effect"),
        (f"Fail Drop.\n{PROVED}", "policy.side_effect"),
        (f"Unset Universe Checking.\n{PROVED}", "policy.unsafe_flag"),
        (f"Global Set Printing Width 20.\n{PROVED}", "policy.printing"),
        (f"#[global] Unset Printing Notations.\n{PROVED}", "policy.printing"),
        (f"Set Printing All.\nLocal Set Printing Width 20.\n{PROVED}", None),
    ],
)
def test_coq_whole_file_rules(body: str, reason: str | None) -> None:
    assert coq(body, whole_file=True) == reason


OUTSIDE = [
    'Cd "/tmp".',
    'Load "x".',
    "Drop.",
    'Redirect "f" Print nat.',
    'Extraction "/tmp/x.ml" nat.',
    "Extraction TestCompile nat.",
    'Add LoadPath "/tmp" as X.',
    'Declare ML Module "x".',
]
CONTROL = st.lists(
    st.sampled_from(["Fail", "Succeed", "Time", "Timeout 5", "Instructions", "Local", "#[local]"]),
    max_size=4,
).map(" ".join)


@given(CONTROL, st.sampled_from(OUTSIDE))
def test_coq_no_control_prefix_hides_what_acts_outside(prefix: str, command: str) -> None:
    """`Fail` and `Succeed` roll back Coq's state, never a file written or a directory left."""
    assert coq(f"{prefix} {command}\n{PROVED}", whole_file=True) == "policy.side_effect"


@given(st.sampled_from(["Fail", "Succeed"]), CONTROL)
def test_coq_what_coq_rolls_back_is_left_to_it(rollback: str, prefix: str) -> None:
    for command in ("Back 2.", "Unset Guard Checking.", "Reset Initial."):
        assert coq(f"{rollback} {prefix} {command}\n{PROVED}", whole_file=True) is None
        if "Fail" not in prefix and "Succeed" not in prefix:  # the same command, run for real
            assert coq(f"{prefix} {command}\n{PROVED}", whole_file=True) is not None


@pytest.mark.parametrize(
    "command",
    [
        "Axiom c : False.",
        "Parameter c : False.",
        "Variable c : False.",
        "Conjecture c : False.",
        "#[local] Axiom c : False.",
        "Declare Instance i : C.",
    ],
)
def test_coq_proof_mode_refuses_assumptions_whole_files_leave_them_to_the_audit(
    command: str,
) -> None:
    assert coq(f"intros. {command} lia.") == "policy.axiom"
    assert coq(f"{command}\n{PROVED}", whole_file=True) is None


def test_coq_statement_binders_may_be_reused_as_names() -> None:
    body = f"Definition n := 3.\n{PROVED}"
    assert coq(body, whole_file=True) is None


def test_allowing_a_rule_switches_off_that_rule_only() -> None:
    relaxed = StrictPolicy(PolicyConfig.model_validate({"coq": {"allow": ["vm"]}}))
    assert coq("vm_compute. reflexivity.", policy=relaxed) is None
    assert coq("vm_compute. admit.", policy=relaxed) == "policy.sorry"
    assert coq("vm_compute. reflexivity.") == "policy.vm"


def test_rejection_names_the_line_the_author_wrote() -> None:
    candidate = Candidate(
        name="t",
        backend=BackendName.LEAN,
        statement=LEAN_STATEMENT,
        proof="  -- a comment\n  have h : True := trivial\n  s\u043erry",
    )
    decision = POLICY.screen(candidate)
    assert decision is not None
    assert decision.detail.startswith("line 3:")
    assert "s\u043erry" in decision.detail
