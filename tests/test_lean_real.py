"""Both Lean backends against a real Lean toolchain. Skipped, with the reason, where none exists.

They run when `lake` is on PATH or LEANFILTER_LEAN_PROJECT names a built Lake project (see
`leanfilter setup`). Nothing here uses the replay doubles.
"""
# ruff: noqa: RUF001 - Lean statements use double-struck letters for number sets

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator

import pytest

from leanfilter.backends.base import CheckRequest, ProverTimeout, ProverUnavailable, RawResult
from leanfilter.backends.lean_common import LeanBackendBase, LeanSettings
from leanfilter.backends.lean_file import LeanFileBackend
from leanfilter.backends.lean_repl import LeanReplBackend
from leanfilter.records import BackendName, Candidate, Severity

STANDARD_AXIOMS = {"propext", "Classical.choice", "Quot.sound"}
HEADER = (
    "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n\n"
    "open BigOperators Real Nat Topology Rat\n\n"
)


def real_settings(**fields: object) -> LeanSettings:
    if shutil.which("lake") is None and "LEANFILTER_LEAN_PROJECT" not in os.environ:
        pytest.skip(
            "no Lean toolchain: `lake` is not on PATH and LEANFILTER_LEAN_PROJECT is not set "
            "(run `leanfilter setup`)"
        )
    settings = LeanSettings(**fields)
    try:
        LeanReplBackend(settings).toolchain()
    except ProverUnavailable as e:
        pytest.skip(f"Lean is not usable here: {e}")
    return settings


pytestmark = [pytest.mark.lean, pytest.mark.slow]


def candidate(statement: str | None, proof: str, name: str, whole_file: bool = False) -> Candidate:
    return Candidate(
        name=name,
        backend=BackendName.LEAN,
        header=HEADER,
        statement=statement,
        proof=proof,
        whole_file=whole_file,
    )


CASES: dict[str, Candidate] = {
    "proved": candidate(
        "theorem lf_pos (x : ℝ) (h : 0 < x) : 0 < x ^ 2 := by", "\n  positivity", "lf_pos"
    ),
    "wrong": candidate("theorem lf_wrong : (2 : ℕ) + 2 = 5 := by", "\n  norm_num", "lf_wrong"),
    "sorry": candidate("theorem lf_sorry : (1 : ℕ) < 2 := by", "\n  sorry", "lf_sorry"),
    "native": candidate("theorem lf_native : 2 + 2 = 4 := by", "\n  native_decide", "lf_native"),
    "mismatch": candidate(
        "theorem lf_mis : (1 : ℕ) + 1 = 2 := by",
        "theorem lf_mis : (1 : ℕ) + 1 = 2 ∨ False := by simp",
        "lf_mis",
        whole_file=True,
    ),
    "missing": candidate(
        "theorem lf_gone : True := by", "theorem lf_other : True := trivial", "lf_gone", True
    ),
    "namespaced": candidate(
        "theorem lf_ns : (3 : ℕ) ≤ 4 := by",
        "namespace Foo\ntheorem lf_ns : (3 : ℕ) ≤ 4 := by norm_num",
        "lf_ns",
        whole_file=True,
    ),
    "exit": candidate("theorem lf_exit : (5 : ℕ) = 6 := by", "\n  norm_num\n#exit", "lf_exit"),
    # Without a statement the named constant must prove a proposition.
    "definition": candidate(None, "def lf_def : ℕ := 0", "lf_def", whole_file=True),
    "polymorphic_definition": candidate(
        None, "def lf_id.{u} (α : Sort u) (a : α) : α := a", "lf_id", whole_file=True
    ),
    "auto_bound_theorem": candidate(
        None,
        "set_option autoImplicit true in\ntheorem lf_auto (h : a = b) : b = a := h.symm",
        "lf_auto",
        whole_file=True,
    ),
    "universe_theorem": candidate(
        None, "theorem lf_univ.{u} {α : Sort u} (a : α) : a = a := rfl", "lf_univ", True
    ),
}
HONEST = {"proved", "auto_bound_theorem", "universe_theorem"}


def passes(raw: RawResult) -> bool:
    """The backend-level conditions for `proved` (the policy adds its own on top)."""
    return (
        raw.declared
        and raw.integrity is not False
        and raw.sorries == 0
        and not any(m.severity is Severity.ERROR for m in raw.messages)
        and set(raw.axioms or ["missing"]) <= STANDARD_AXIOMS
    )


def check_all(backend: LeanBackendBase) -> Iterator[tuple[str, RawResult]]:
    session = backend.open_session(HEADER, slot=0)
    try:
        for tag, (label, case) in enumerate(CASES.items()):
            request: CheckRequest = backend.assemble(case, tag)
            [(_, raw)] = session.check(request, timeout=300)
            yield label, raw
    finally:
        session.close()


@pytest.fixture(scope="module")
def repl_results() -> dict[str, RawResult]:
    return dict(check_all(LeanReplBackend(real_settings())))


@pytest.fixture(scope="module")
def file_results() -> dict[str, RawResult]:
    return dict(check_all(LeanFileBackend(real_settings(mode="file"))))


def test_toolchain_names_lean_and_mathlib():
    description = LeanReplBackend(real_settings(max_heartbeats=1000)).toolchain()
    assert description.startswith("lean 4.")
    assert "mathlib" in description and "maxHeartbeats 1000" in description


@pytest.mark.parametrize("results", ["repl_results", "file_results"])
def test_only_the_honest_proof_passes(request, results):
    raws = request.getfixturevalue(results)
    assert {label for label, raw in raws.items() if passes(raw)} == HONEST


def test_each_attack_is_caught_by_the_check_meant_for_it(repl_results):
    assert repl_results["proved"].integrity is True
    assert set(repl_results["proved"].axioms) <= STANDARD_AXIOMS
    assert "sorryAx" in repl_results["sorry"].axioms
    assert "Lean.ofReduceBool" in repl_results["native"].axioms
    assert repl_results["mismatch"].declared and repl_results["mismatch"].integrity is False
    assert repl_results["missing"].declared is False
    assert repl_results["namespaced"].declared is False
    assert any(m.severity is Severity.ERROR for m in repl_results["wrong"].messages)
    for label in ("definition", "polymorphic_definition"):
        assert repl_results[label].declared is False, label
        assert "is no theorem" in repl_results[label].messages[-1].text, label


def test_file_mode_agrees_with_the_repl(repl_results, file_results):
    for label in CASES:
        if label == "exit":  # `#exit` hides the file's appended audit; the REPL's is separate
            assert file_results[label].declared is False
            continue
        repl, file = repl_results[label], file_results[label]
        assert (repl.declared, repl.integrity) == (file.declared, file.integrity), label
        assert repl.axioms == file.axioms, label
        assert errors_of(repl) == errors_of(file), label


def errors_of(raw: RawResult) -> list[tuple[object, str]]:
    """Error positions and texts, with the audit's fresh names (one per check) made equal."""
    return [
        (m.pos, re.sub(r"lf_chk_[0-9a-f]+", "lf_chk", m.text))
        for m in raw.messages
        if m.severity is Severity.ERROR
    ]


def test_a_runaway_proof_times_out_and_a_new_session_serves():
    backend = LeanReplBackend(real_settings())
    loop = candidate("theorem lf_loop : True := by", "\n  sleep 600000\n  trivial", "lf_loop")
    session = backend.open_session("", slot=1)
    with pytest.raises(ProverTimeout):
        session.check(backend.assemble(loop, 0), timeout=5)
    assert session.rss_mb() == 0
    fresh = backend.open_session("", slot=1)
    try:
        honest = candidate("theorem lf_true : True := by", "\n  trivial", "lf_true")
        [(_, raw)] = fresh.check(backend.assemble(honest, 1), timeout=120)
        assert raw.declared and raw.integrity and raw.axioms == []
        assert fresh.rss_mb() > 0 and fresh.checks == 1
    finally:
        fresh.close()
