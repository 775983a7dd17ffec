"""A grammar of candidate texts for the property that no text proves a false statement.

It mixes what an attacker composes from: tactics, vernacular commands, the sentence-ending tricks
the splitter and Coq once read differently (`...`, selectors with braces, bullets), comments,
strings, Unicode look-alikes, and every line of the adversarial suite's cases. New attack
classes join it by joining `coq_cases.json`; the generator needs no list of its own to grow.
"""

from __future__ import annotations

from hypothesis import strategies as st

from adversarial.cases import STATEMENT, load_cases
from leanfilter.records import BackendName

TACTICS = [
    "intros.", "exact I.", "reflexivity.", "lia.", "auto.", "trivial.", "simpl.", "easy.",
    "constructor.", "discriminate.", "exfalso.", "assumption.", "idtac.", "contradiction.",
    "congruence.", "tauto.", "firstorder.", "apply I.", "exact (fun x => x).", "split.",
    "intros n.", "inversion n.", "Unshelve.", "all: lia.", "shelve.", "give_up.", "admit.",
]  # fmt: skip
COMMANDS = [
    "Axiom cheat : False.", "Parameter cheat : 1 = 2.", "Admitted.", "Qed.", "Defined.",
    "Abort.", "Proof.", "Unset Guard Checking.", "Drop.", 'Cd "/tmp".', "Reset Initial.",
    "Back 2.", "BackTo 1.", "Global Hint Resolve I : core.", "Theorem t : True.",
    "Definition t := I.", "Variable c : False.", "Fail Axiom c : False.",
    "Global Set Printing Width 20.", "#[bypass_check(guard)] Fixpoint f (n : nat) : False := f n.",
    "Notation \"x '+++.' y\" := (x + y) (at level 50).", "Notation False := True.",
    "Lemma \u00a0p : True.", "Module M.", "End M.", "Module Type T.", "End T.", "Include T.",
    "Section S.", "End S.",
]  # fmt: skip
SENTENCE_ENDS = [
    "idtac...", "...", "1:{", "[G]:{", "all:{", "{", "}", "-", "+", "*", "--", ".", "..", " .",
    ".(", "Proof using.", "\n", "1 +++. 1", "idtac a:{{ (* }}.", "idtac b:{{ *) }}.", "x:{{", "}}",
]  # fmt: skip
COMMENTS = ["(* c *)", "(* . *)", '(* "*)" *)', "(*", "*)", "(* (* nested *) . *)"]
STRINGS = [
    'idtac ".".',
    'idtac "*)".',
    'idtac "Closed under the global context".',
    'idtac "</prompt>Closed under the global context <prompt>Coq < 3 |t| 0 < </prompt>".',
    '"',
    'idtac "' + "<prompt>x < 1 |x| 0 < </prompt>" * 4 + '".',
]
LOOK_ALIKES = [
    "\u0410xiom cheat : False.",  # Cyrillic capital a
    "adm\u0456t.",  # Cyrillic i
    "\uff31ed.",  # fullwidth Q
    "exact \u0406.",
    "idtac\uff0e",  # fullwidth full stop
    "\u200bAxiom cheat : False.",  # zero-width space
    "Ad\u00admitted.",  # soft hyphen
]


def attack_lines(statement: str) -> list[str]:
    """Every line of every Coq case and twin, its statement placeholder filled."""
    cases = load_cases(BackendName.COQ).cases
    lines = {line for case in cases for line in [*case.text, *case.twin]}
    return sorted(line.replace(STATEMENT, statement) for line in lines)


def fragments(statement: str) -> st.SearchStrategy[str]:
    pools = [TACTICS, COMMANDS, SENTENCE_ENDS, COMMENTS, STRINGS, LOOK_ALIKES]
    return st.one_of(
        *(st.sampled_from(pool) for pool in pools), st.sampled_from(attack_lines(statement))
    )


def texts(statement: str, max_size: int = 8) -> st.SearchStrategy[str]:
    """A sequence of fragments, joined by what Coq and the splitter take for blanks or not."""
    joiner = st.sampled_from([" ", "\n", "", "\t"])
    return st.lists(st.tuples(fragments(statement), joiner), min_size=1, max_size=max_size).map(
        lambda parts: "".join(text + sep for text, sep in parts)
    )


def whole_files(header: str, statement: str) -> st.SearchStrategy[str]:
    """A file that states `statement` somewhere among fragments, then maybe closes a proof."""
    ending = st.sampled_from(["\nQed.", "\nDefined.", "", "\nAdmitted."])
    return st.tuples(texts(statement, 4), texts(statement), ending).map(
        lambda p: f"{header}\n{p[0]}\n{statement}\nProof. {p[1]}{p[2]}"
    )
