"""Lean text and parsing shared by both backends: statements, assembly, messages, axioms."""
# ruff: noqa: RUF001 - Lean statements use double-struck letters for number sets

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import DATA
from hypothesis import given
from hypothesis import strategies as st
from lean_replay.world import transcripts_dir

from leanfilter.backends.base import Backend, ProverUnavailable
from leanfilter.backends.lean_common import (
    NOT_INSTALLED,
    LeanSettings,
    assemble,
    parse_axioms,
    parse_message,
    parse_statement,
    reference_command,
    session_header,
    strip_repeated_statement,
    unreadable_by_sandbox,
)
from leanfilter.backends.lean_file import LeanFileBackend
from leanfilter.backends.lean_repl import LeanReplBackend
from leanfilter.records import BackendName, Candidate, Position, Severity


def dataset(relative: str, name_field: str, statement_field: str) -> list[tuple[str, str]]:
    path = DATA / relative
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [(row[name_field], row[statement_field]) for row in rows]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize(
    ("relative", "name_field", "statement_field"),
    [
        ("minif2f_lean/minif2f.jsonl", "name", "formal_statement"),
        ("proofnet_lean/proofnet.jsonl", "name", "formal_statement"),
        ("minicodeprops_lean/minicodeprops_bench_ps.jsonl", "full_name", "prop_defn"),
    ],
)
def test_every_dataset_statement_splits_into_name_and_signature(
    relative, name_field, statement_field
):
    rows = dataset(relative, name_field, statement_field)
    assert len(rows) > 100
    for name, statement in rows:
        parts = parse_statement(statement)
        assert parts.name == name
        keyword = statement.split(parts.name)[0]
        assert parts.proposition == ("theorem" in keyword)
        rebuilt = f"{keyword} {parts.name} {parts.signature} :="
        assert squash(statement).startswith(squash(rebuilt)), name
        assert reference_command("lf_ref_0", statement) == (
            f"{parts.declaration('lf_ref_0')} {parts.signature} := sorry"
        )


def test_statement_with_docstring_attributes_and_lemma():
    parts = parse_statement("/-- a - b -/\n@[simp] lemma bar.baz {n : ℕ} (h : 0 < n) :\n  n ≠ 0 :=")
    assert parts.name == "bar.baz"
    assert parts.signature == "{n : ℕ} (h : 0 < n) :\n  n ≠ 0"


def test_definitions_get_a_definition_as_reference():
    statement = "noncomputable def g (G : Type*) [Group G] : CommGroup G :="
    assert reference_command("r", statement) == (
        "noncomputable def r (G : Type*) [Group G] : CommGroup G := sorry"
    )


@pytest.mark.parametrize("bad", ["instance : Foo := 1", "theorem", "example : True := by"])
def test_statements_that_are_not_theorems_are_refused(bad):
    with pytest.raises(ValueError):
        parse_statement(bad)


_STATEMENT = "theorem t (x : ℝ) (h : 0 < x) :\n  x ^ 2 > 0 := by"


@given(
    gaps=st.lists(st.sampled_from(["", " ", "  ", "\n", "\n  ", "\t"]), min_size=40, max_size=40),
    rest=st.text(alphabet="abc \n[]", max_size=30),
)
def test_a_repeated_statement_is_stripped_up_to_whitespace(gaps, rest):
    tokens = [c for c in _STATEMENT if not c.isspace()]
    perturbed = "".join(c + gaps[i % len(gaps)] for i, c in enumerate(tokens[:-1])) + tokens[-1]
    assert strip_repeated_statement(_STATEMENT, perturbed + "\n" + rest) == "\n" + rest


@given(proof=st.text(max_size=60))
def test_a_proof_not_starting_with_the_statement_is_kept(proof):
    if squash(proof).startswith(squash(_STATEMENT)):
        return
    assert strip_repeated_statement(_STATEMENT, proof) == proof


def candidate(proof: str, **fields: object) -> Candidate:
    base = {"name": "t", "backend": BackendName.LEAN, "statement": _STATEMENT, "proof": proof}
    return Candidate(**{**base, **fields})


def test_assemble_appends_the_proof_to_the_trusted_statement():
    request = assemble(candidate("\n  positivity"), tag=1)
    assert request.body == _STATEMENT + "\n  positivity"
    assert request.theorem == "t" and request.statement == _STATEMENT
    assert assemble(candidate("positivity"), 2).body == _STATEMENT + " positivity"
    repeated = assemble(candidate(_STATEMENT.replace("\n  ", " ") + "\n  positivity"), 3)
    assert repeated.body == _STATEMENT + "\n  positivity"


def test_assemble_sends_whole_files_as_they_are_and_names_the_trusted_theorem():
    text = "theorem t (x : ℝ) (h : 0 < x) : x ^ 2 > 0 := by positivity"
    request = assemble(candidate(text, whole_file=True, name="ignored"), 4)
    assert request.body == text and request.theorem == "t"
    no_statement = assemble(candidate(text, whole_file=True, statement=None), 5)
    assert no_statement.theorem == "t" and no_statement.statement is None


@pytest.mark.parametrize("name", ["foo\n#eval 1", "a b", "x := 1", "", "t`"])
def test_names_that_would_change_the_audit_commands_are_refused(name):
    text = "theorem t : True := trivial"
    with pytest.raises(ValueError, match="not a Lean name"):
        assemble(candidate(text, whole_file=True, statement=None, name=name), 1)


@pytest.mark.parametrize("name", ["mathd_algebra_478", "Nat.foo'", "«weird-name»", "h₀.x!"])
def test_ordinary_lean_names_are_accepted(name):
    text = f"theorem {name} : True := trivial"
    assert assemble(candidate(text, whole_file=True, statement=None, name=name), 1).theorem == name


def test_assemble_refuses_what_it_cannot_check():
    with pytest.raises(ValueError):
        assemble(candidate("by simp", statement=None), 1)
    with pytest.raises(ValueError):
        assemble(candidate("auto.", backend=BackendName.COQ), 1)


_NAME = st.from_regex(
    r"[A-Za-z][A-Za-z0-9_]{0,12}(\.[A-Za-z][A-Za-z0-9_']{0,12}){0,2}", fullmatch=True
)


@given(
    constant=_NAME,
    axioms=st.lists(_NAME, max_size=8),
    wraps=st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_print_axioms_answers_parse_back_whether_or_not_they_wrap(constant, axioms, wraps):
    if axioms:
        listed = axioms[0]
        for axiom, wrap in zip(axioms[1:], wraps, strict=False):
            listed += (",\n " if wrap else ", ") + axiom
        text = f"'{constant}' depends on axioms: [{listed}]"
    else:
        text = f"'{constant}' does not depend on any axioms"
    report = parse_axioms(text)
    assert report is not None
    assert report.constant == constant and report.axioms == axioms


@pytest.mark.parametrize(
    "text",
    ["'foo' depends on axioms: [propext", "foo does not depend on any axioms", "'foo' : True", ""],
)
def test_other_texts_are_not_axiom_answers(text):
    assert parse_axioms(text) is None


def recorded_messages() -> list[dict]:
    found = []
    for path in sorted(transcripts_dir().rglob("*.expected.out")):
        for chunk in path.read_text().split("\n\n"):
            if chunk.strip():
                found += json.loads(chunk).get("messages", [])
    return found


def test_every_recorded_repl_message_parses_with_its_severity_and_position():
    messages = recorded_messages()
    assert len(messages) > 50
    severities = {"info": Severity.INFO, "warning": Severity.WARNING, "error": Severity.ERROR}
    for raw in messages:
        parsed = parse_message(raw)
        assert parsed.severity is severities[raw["severity"]]
        assert parsed.text == raw["data"]
        assert parsed.pos == Position(**raw["pos"])
        if raw.get("endPos"):
            assert parsed.end_pos == Position(**raw["endPos"])


def test_lean_json_severities_and_offsets():
    line = {"severity": "information", "pos": {"line": 9, "column": 2}, "endPos": None, "data": "x"}
    parsed = parse_message(line, line_offset=5)
    assert parsed.severity is Severity.INFO and parsed.pos == Position(line=4, column=2)
    assert parsed.end_pos is None
    assert parse_message({**line, "severity": "fatal"}).severity is Severity.ERROR


def test_heartbeat_bound_follows_the_trusted_header():
    header = "import Mathlib\n\nset_option maxHeartbeats 0\n"
    bounded = session_header(header, 400000)
    assert bounded.index("maxHeartbeats 0") < bounded.index("set_option maxHeartbeats 400000")
    assert session_header(header, None) == header


def test_settings_defaults_suit_lean(monkeypatch, tmp_path):
    monkeypatch.setenv("LEANFILTER_LEAN_PROJECT", str(tmp_path))
    settings = LeanSettings()
    assert settings.project == tmp_path
    assert settings.sandbox.memory_mb == 8192
    assert settings.sandbox.nproc >= 1024
    assert settings.timeout_s == 300


@pytest.mark.skipif(shutil.which("lean") is not None, reason="a Lean toolchain is installed here")
@pytest.mark.parametrize("backend", [LeanReplBackend, LeanFileBackend])
def test_without_lean_the_toolchain_says_so_in_one_line(backend, tmp_path):
    settings = LeanSettings(project=tmp_path, elan_home=tmp_path / "no-elan")
    with pytest.raises(ProverUnavailable) as failure:
        backend(settings).toolchain()
    assert str(failure.value) == NOT_INSTALLED


@pytest.mark.skipif(os.geteuid() != 0, reason="the jail drops the uid only when run as root")
def test_a_toolchain_the_sandbox_uid_cannot_read_is_detected():
    world_readable = Path(tempfile.mkdtemp())
    world_readable.chmod(0o755)
    private = world_readable / "elan"
    (private / "bin").mkdir(parents=True)
    private.chmod(0o700)
    assert unreadable_by_sandbox([private / "bin"]) == private
    private.chmod(0o755)
    assert unreadable_by_sandbox([private / "bin"]) is None
    shutil.rmtree(world_readable)


@pytest.mark.parametrize("backend", [LeanReplBackend, LeanFileBackend])
def test_backends_meet_the_protocol(backend):
    made = backend(LeanSettings(timeout_s=42))
    assert isinstance(made, Backend)
    assert made.name is BackendName.LEAN and made.default_timeout == 42


def test_a_custom_command_is_named_in_the_toolchain(tmp_path):
    settings = LeanSettings(repl_command=["replay", str(tmp_path / "script.json")])
    assert LeanReplBackend(settings).toolchain().startswith("custom command: replay ")
    assert isinstance(LeanReplBackend().settings.project, Path)
