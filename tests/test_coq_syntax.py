"""The Coq sentence splitter: generated scripts, and real coqtop as the judge."""

from __future__ import annotations

import re
import shutil

import pytest
from coq_reference import coqtop_output
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from leanfilter.backends.coq_syntax import CoqLexError, sentences, strip_comments

# Text inside a string or a comment may hold anything Coq's lexer must look past.
FRAGMENTS = [*"ab .*()\n\t", "(*", "*)", ". ", '""']
tricky = st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join)
string = tricky.map(lambda s: '"' + s.replace('"', '""') + '"')
comment = st.recursive(
    tricky.map(lambda s: s.replace('"', "").replace("(*", "( *").replace("*)", "* )")),
    lambda inner: st.tuples(inner, string, inner).map(lambda t: f"{t[0]}(*{t[1]}*){t[2]}"),
    max_leaves=3,
).map(lambda s: f"(* {s} *)")  # the blanks keep a final `(` from opening a comment
blank = st.sampled_from([" ", "\n", "\t", " \n  "])


@st.composite
def sentence(draw: st.DrawFn) -> str:
    """`idtac` with string arguments: any text, and a tactic coqtop runs in proof mode."""
    args = draw(st.lists(string, min_size=1, max_size=3))
    return "idtac " + " ".join(args) + "."


@st.composite
def script(draw: st.DrawFn) -> tuple[str, list[str]]:
    parts, expected = [], []
    for s in draw(st.lists(sentence(), min_size=1, max_size=6)):
        parts.append(draw(st.one_of(blank, comment.map(lambda c: c + " "))))
        parts.append(s)
        expected.append(s)
        parts.append(draw(blank))
    return "".join(parts), expected


@given(script())
def test_generated_scripts_split_into_their_sentences(case: tuple[str, list[str]]) -> None:
    text, expected = case
    assert [s.text for s in sentences(text)] == expected


@given(script())
def test_offsets_point_at_each_sentence(case: tuple[str, list[str]]) -> None:
    text, _ = case
    for s in sentences(text):
        assert text[s.start : s.end] == s.text


@given(script())
def test_stripping_comments_keeps_the_sentences(case: tuple[str, list[str]]) -> None:
    text, expected = case
    assert [s.text for s in sentences(strip_comments(text))] == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("intros. (* open", "unterminated comment"),
        ('idtac "open.', "unterminated string"),
        ('(* "*)" *) intros', "missing final"),
        ("lia", "missing final"),
    ],
)
def test_text_that_cannot_be_split_says_why(text: str, error: str) -> None:
    with pytest.raises(CoqLexError, match=error):
        sentences(text)


def test_bullets_braces_and_qualified_names() -> None:
    text = "split. - exact Nat.le_refl. + { auto. } * lia.\n-- x."
    assert [s.text for s in sentences(text)] == [
        "split.", "-", "exact Nat.le_refl.", "+", "{", "auto.", "}", "*", "lia.", "--", "x.",
    ]  # fmt: skip


def test_only_coq_blanks_end_a_sentence() -> None:
    # a no-break space or a form feed after `.` does not end a sentence for Coq
    assert [s.text for s in sentences("idtac.\u00a0idtac. idtac.")] == [
        "idtac.\u00a0idtac.",
        "idtac.",
    ]


@pytest.mark.coq
@settings(max_examples=25, deadline=None)
@given(script())
def test_coqtop_runs_as_many_sentences_as_we_split(case: tuple[str, list[str]]) -> None:
    text, expected = case
    assert shutil.which("coqtop")
    source = f"Goal True.\n{text}\nexact I. Qed.\n"
    output = coqtop_output(source, timeout=60)
    assert "Error" not in output
    # each sentence coqtop ran in the proof moved its state on by one
    states = [int(n) for n in re.findall(r"<prompt>Unnamed_thm < (\d+) ", output)]
    assert max(states) - min(states) == len(expected) + 1  # the sentences, and `exact I.`


SELECTORS = ["1:{", "2 : {", "[G]:{", "all:{", "1,2:{", "1-2:{", "!:{", "1:(* c *){"]
BULLETS = ["-", "+", "*", "--", "++", "**", "{", "}"]
COMMANDS = [
    "all: idtac.",
    "2: idtac...",
    "Check Nat.add.",
    "Check (fun x : nat => x) 0.",
    'Notation "[[ x ; .. ; y ]]" := (cons x .. (cons y nil) ..). Check [[1 ; 2]].',
    "idtac...",
]


@st.composite
def any_sentence(draw: st.DrawFn) -> str:
    """One sentence of any kind Coq parses in a proof: it may fail when run, never when read."""
    return draw(
        st.one_of(
            sentence(),
            sentence().map(lambda s: s[:-1] + "..."),
            st.sampled_from(SELECTORS + BULLETS + COMMANDS),
        )
    )


@st.composite
def grammar_script(draw: st.DrawFn) -> str:
    parts = []
    for s in draw(st.lists(any_sentence(), min_size=1, max_size=10)):
        parts.append(draw(st.one_of(blank, comment.map(lambda c: c + " "))))
        parts.append(s + draw(blank))
    return "".join(parts)


def coqtop_prompts(source: str) -> int | None:
    """How many sentences coqtop read (one prompt before each, one at the end); None where it
    could not parse one: after a syntax error coqtop resumes at the next period, and the engine
    answers `failed` whatever the counts."""
    output = coqtop_output(source, timeout=60)
    if "Syntax error" in output:
        return None
    return len(re.findall(r"<prompt>", output)) - 1


@pytest.mark.coq
@settings(max_examples=40, deadline=None)
@given(grammar_script())
def test_coq_reads_as_many_sentences_as_we_split_over_the_whole_grammar(text: str) -> None:
    source = f"Goal True /\\ True.\n{text}\nidtac.\n"  # a bullet must be followed by something
    read = coqtop_prompts(source)
    assume(read is not None)  # e.g. a bullet right after `1:{` is a syntax error in Coq 8.16
    assert read == len(sentences(source))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("idtac... Axiom cheat : False.", ["idtac...", "Axiom cheat : False."]),
        ("1:{ idtac. } [G]:{ all:{", ["1:{", "idtac.", "}", "[G]:{", "all:{"]),
        ("2 :(* c *){ x.", ["2 : {", "x."]),
        ("1:" + " " * 200 + "{ Axiom a : False.", ["1:" + " " * 200 + "{", "Axiom a : False."]),
        ("x .. y. z...", ["x .. y.", "z..."]),
        ('idtac "1:{". exact {| a := 1 |}.', ['idtac "1:{".', "exact {| a := 1 |}."]),
    ],
)
def test_ellipsis_and_selector_braces_end_sentences(text: str, expected: list[str]) -> None:
    assert [s.text for s in sentences(text)] == expected


# Quotations: `ident:{{ … }}` is one token for Coq's lexer, whatever it holds. No grammar of Coq
# 8.16 as shipped takes one, so each is a syntax error, after which coqtop resumes at the next
# `.` token: its count still says where the lexer ended the quotation.
QUOTED = [*"x .{}\n", ". ", "(*", "*)", '"', "...", "}}", "{{"]
LABELS = ["a", "x1", "ltac", "_", "a'", "1", "12", "\u00e9", "a.b", "fun"]


@st.composite
def quotation(draw: st.DrawFn) -> str:
    width = draw(st.integers(2, 4))
    inside = draw(st.lists(st.sampled_from(QUOTED), max_size=8).map("".join))
    if draw(st.booleans()):  # a nested quotation of the same width
        inside += "{" * width + draw(st.sampled_from(QUOTED)) + "}" * width
    label = draw(st.sampled_from(LABELS))
    return f"{label}:{'{' * width}{inside}{'}' * width}"


@st.composite
def quotation_script(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["plain", "argument", "first"]))
        if kind == "plain":
            parts.append(draw(sentence()))
        else:
            q = draw(quotation())
            parts.append(f"idtac {q}." if kind == "argument" else f"{q} idtac.")
        parts.append(draw(blank))
    return "".join(parts)


def coqtop_sentences(source: str) -> int:
    """How many sentences coqtop read, syntax errors included (one prompt before each)."""
    return len(re.findall(r"<prompt>", coqtop_output(source, timeout=60))) - 1


@pytest.mark.coq
@settings(max_examples=40, deadline=None)
@given(quotation_script())
def test_coq_ends_quotations_where_we_do(text: str) -> None:
    source = f"Goal True.\n{text}\n"
    try:
        ours = len(sentences(source))
    except CoqLexError:  # an unterminated quotation or string: Coq's lexer stops there too
        assume(False)
    assert coqtop_sentences(source) == ours


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("idtac a:{{ (* }}. Axiom c : False. idtac b:{{ *) }}.", 3),  # no comment inside
        ('idtac a:{{ " }}. Axiom c : False. idtac "x".', 3),  # no string inside
        ("idtac a:{{ {{ x. }} y. }}. idtac.", 2),  # a run as wide nests
        ("idtac a:{{{ x. }} y. }}}. idtac.", 2),  # a narrower run does not close
        ("1:{{ idtac. }} idtac.", 1),  # a number labels a quotation: no selector brace
        ("idtac a :{{ x. }}.", 4),  # a blank before `:`: no quotation, then `}`, `}`, `.`
        ("idtac a:{ x. }.", 3),  # one brace: no quotation
        ("[G]:{{ idtac.", 3),  # a selector is no label
    ],
)
def test_quotations_are_one_token(text: str, expected: int) -> None:
    assert len(sentences(text)) == expected


def test_an_unterminated_quotation_cannot_be_split() -> None:
    with pytest.raises(CoqLexError, match="unterminated quotation"):
        sentences("idtac a:{{ x. }. idtac.")


@pytest.mark.coq
@pytest.mark.parametrize("dots", range(1, 8))
def test_a_dot_before_a_comment_is_read_as_coq_reads_it(dots: int) -> None:
    """`.(` is a token (projection syntax): after a run of dots that `...` leaves one of, `(*`
    opens no comment, so a period inside what would be one ends a sentence after the error."""
    source = f"Goal True.\nidtac{'.' * dots}(* c. *) idtac.\n"
    output = coqtop_output(source, timeout=60)
    assert len(re.findall(r"<prompt>", output)) - 1 == len(sentences(source))
