"""Normalization must never merge two texts the prover can tell apart.

Coq texts are generated from a structure whose meaning is known by construction: a sequence of
words (glued tokens, glued comments included) separated by gaps (blank runs, possibly holding
comments), plus whether the text starts or ends with a gap. Two texts have the same Coq meaning
exactly when those agree; the normalizer is checked against that, and against real `coqc`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from leanfilter.normalize import normalize_proof, normalize_statement
from leanfilter.records import BackendName

COQ = BackendName.COQ
LEAN = BackendName.LEAN

# -- a token grammar for Coq text ---------------------------------------------------------------

comment_body = st.recursive(
    st.lists(
        st.sampled_from(["c", " ", "\n", "\t", '"*)"', '"(*"', '""""', "x.y", "*"]),
        max_size=4,
    ).map("".join),
    lambda inner: st.tuples(inner, inner, inner).map(lambda t: f"{t[0]}(*{t[1]}*){t[2]}"),
    max_leaves=4,
)
comments = comment_body.map(lambda body: f"(*{body}*)")
strings = st.lists(st.sampled_from(["a", " ", "  ", "\n", '""', "(*", "*)", "."]), max_size=4).map(
    lambda parts: '"' + "".join(parts) + '"'
)
plain_tokens = st.sampled_from(
    ["intros", "x", "H1", "exact", "I", ".", "..", ";", ":=", "->", "(", ")", "0", "%Z", "'a", "@"]
)
tokens = st.one_of(plain_tokens, plain_tokens, strings, comments)
blank_runs = st.text(alphabet=" \t\n\r", min_size=1, max_size=4)


@dataclass(frozen=True)
class Piece:
    """One token, and what separates it from the previous one: glued, or a gap."""

    token: str
    gap: str | None  # None: glued to the previous token; else the gap text (blanks + comments)


@st.composite
def gaps(draw: st.DrawFn) -> str:
    """A blank run, then possibly comments each followed by optional blanks."""
    out = draw(blank_runs)
    for comment in draw(st.lists(comments, max_size=2)):
        out += comment + draw(st.text(alphabet=" \t\n\r", max_size=2))
    return out


@st.composite
def coq_texts(draw: st.DrawFn) -> tuple[bool, list[Piece], bool]:
    lead = draw(st.booleans())
    pieces = [Piece(draw(tokens), draw(st.none() | gaps())) for _ in range(draw(st.integers(0, 6)))]
    trail = draw(st.booleans())
    return lead, pieces, trail


def render(text: tuple[bool, list[Piece], bool], layout: st.DrawFn | None = None) -> str:
    """The text; with `layout`, every gap gets a freshly drawn layout instead of its own."""
    lead, pieces, trail = text
    out = [_gap(layout) if lead else ""]
    for i, piece in enumerate(pieces):
        if piece.gap is not None and i > 0:
            out.append(layout(gaps()) if layout else piece.gap)
        out.append(piece.token)
    out.append(_gap(layout) if trail else "")
    return "".join(out)


def _gap(layout: st.DrawFn | None) -> str:
    return layout(gaps()) if layout else " "


def meaning(text: tuple[bool, list[Piece], bool]) -> tuple[bool, tuple[str, ...], bool]:
    """What Coq's lexer sees: words separated by gaps, and whether the ends are gaps.

    A comment where the lexer stands between tokens after a blank is itself a blank.
    """
    lead, pieces, trail = text
    words: list[str] = []
    at_gap = lead
    for i, piece in enumerate(pieces):
        at_gap = at_gap or (i > 0 and piece.gap is not None)
        if at_gap and piece.token.startswith("(*"):
            continue
        if at_gap or not words:
            words.append(piece.token)
        else:
            words[-1] += piece.token
        at_gap = False
    if not words:
        return lead or trail, (), False
    return lead, tuple(words), trail or at_gap


@given(coq_texts(), st.data())
def test_coq_layout_changes_are_normalized_away(text, data):
    a = render(text)
    b = render(text, layout=data.draw)
    assert normalize_proof(COQ, a) == normalize_proof(COQ, b)


@given(coq_texts(), coq_texts())
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_coq_normalized_equal_iff_same_meaning(x, y):
    same_text_meaning = meaning(x) == meaning(y)
    assert (normalize_proof(COQ, render(x)) == normalize_proof(COQ, render(y))) == (
        same_text_meaning
    )


@st.composite
def neighbours(draw: st.DrawFn) -> tuple[tuple[bool, list[Piece], bool], tuple]:
    """A text and a small edit of it: glue or unglue a token, or change one token."""
    text = draw(coq_texts())
    lead, pieces, trail = text
    assume(pieces)
    i = draw(st.integers(0, len(pieces) - 1))
    edit = draw(st.sampled_from(["glue", "token", "ends"]))
    edited = list(pieces)
    if edit == "glue":
        edited[i] = Piece(pieces[i].token, None if pieces[i].gap is not None else " ")
    elif edit == "token":
        edited[i] = Piece(draw(tokens), pieces[i].gap)
    else:
        lead, trail = draw(st.booleans()), draw(st.booleans())
    return text, (lead, edited, trail)


@given(neighbours())
def test_coq_near_misses_are_never_merged(pair):
    x, y = pair
    if meaning(x) != meaning(y):
        assert normalize_proof(COQ, render(x)) != normalize_proof(COQ, render(y))


@given(st.text(alphabet=' \t\n\r\x0c\xa0ab."()*', max_size=40))
def test_normalization_is_idempotent(text):
    for backend in BackendName:
        once = normalize_proof(backend, text)
        assert normalize_proof(backend, once) == once
        assert normalize_statement(backend, once) == normalize_statement(backend, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("intros.\n\n  lia.", "intros. lia."),
        ('intros. (* a (* nested *) "*)" *)\n lia.', "intros. lia."),
        ("exact I.(* glued *) Qed.", "exact I.(* glued *) Qed."),  # `.(` is not a sentence end
        ("(* first *) intros.", "(* first *) intros."),  # what precedes the text is unknown
        ("  intros.  ", " intros. "),  # a blank at either end stays a blank
        ('idtac "a   b".', 'idtac "a   b".'),
        ('idtac "a"" (* b".', 'idtac "a"" (* b".'),
        ("intros.\x0clia.", "intros.\x0clia."),  # form feed is not a Coq blank
        ("intros.\xa0lia.", "intros.\xa0lia."),  # nor is a no-break space
        ("intros. (* unterminated", "intros. (* unterminated"),
    ],
)
def test_coq_examples(text, expected):
    assert normalize_proof(COQ, text) == expected


@given(st.text(alphabet=" \t\r\nab-/!«»'\"\\", max_size=40))
def test_lean_text_is_never_changed(text):
    assert normalize_proof(LEAN, text) == text
    assert normalize_statement(LEAN, text) == text


# -- the real prover ------------------------------------------------------------------------------

GOAL = "Goal forall P Q : Prop, P -> Q -> P /\\ Q.\n"
SENTENCES = [
    ["intros", "P", "Q", "p", "q", "."],
    ["split", "."],
    ["-", "exact", "p", "."],
    ["-", "exact", "q", "."],
    ["exact", "(", "conj", "p", "q", ")", "."],
    ["idtac", '"a  (* b"', "."],
    ["auto", "."],
]


@st.composite
def coq_scripts(draw: st.DrawFn) -> str:
    """A tactic script with random layout: blanks, gap comments and glued comments anywhere."""
    words = [
        t for s in draw(st.lists(st.sampled_from(SENTENCES), min_size=1, max_size=5)) for t in s
    ]
    out = [draw(st.sampled_from(["", " ", "\n"]))]
    for word in words:
        out.append(word)
        kind = draw(st.sampled_from(["blank", "blank", "gap comment", "glued comment", "none"]))
        if kind == "blank":
            out.append(draw(blank_runs))
        elif kind == "gap comment":
            out.append(draw(blank_runs) + draw(comments) + draw(st.sampled_from(["", " ", "\n"])))
        elif kind == "glued comment":
            out.append(draw(comments) + draw(st.sampled_from(["", " "])))
    return "".join(out)


def coq_outcome(script: str, workdir: Path) -> tuple[int, list[str]]:
    source = workdir / "Check.v"
    source.write_text(GOAL + script + "\nQed.\n")
    done = subprocess.run(
        ["coqc", "-q", str(source)], capture_output=True, text=True, cwd=workdir, timeout=60
    )
    errors = [
        " ".join(m.split()) for m in re.findall(r"Error:(.*?)(?=\nFile |\Z)", done.stderr, re.S)
    ]
    return done.returncode, errors


@pytest.mark.coq
@pytest.mark.skipif(shutil.which("coqc") is None, reason="coqc is not installed")
@given(coq_scripts())
@settings(max_examples=25, deadline=None)
def test_real_coq_gives_the_same_answer_on_the_normalized_text(tmp_path_factory, script):
    normalized = normalize_proof(COQ, script)
    assume(normalized != script)
    workdir = tmp_path_factory.mktemp("coq")
    assert coq_outcome(normalized, workdir) == coq_outcome(script, workdir)
