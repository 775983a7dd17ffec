from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threads import in_threads

from leanfilter.cache import MemoryCache, VerdictCache, cache_key, candidate_key
from leanfilter.normalize import normalize_proof, normalize_statement
from leanfilter.records import BackendName, Candidate, Message, Severity, Status, Verdict

texts = st.text(alphabet=' \n\tab.(*)"-«»:=', max_size=30)
FIELD_VALUES = {
    "backend": st.sampled_from(list(BackendName)),
    "toolchain": st.text(max_size=12),
    "header": texts,
    "statement": st.none() | texts,
    "proof": texts,
    "whole_file": st.booleans(),
    "policy_version": st.text(max_size=5),
    "name": st.text(min_size=1, max_size=8),
}
key_fields = st.fixed_dictionaries(
    {
        "backend": st.sampled_from(list(BackendName)),
        "toolchain": st.sampled_from(["coq-8.16.1", "coq-8.18.0", "lean-v4.9.0"]),
        "header": texts,
        "statement": st.none() | texts,
        "proof": texts,
        "whole_file": st.booleans(),
        "policy_version": st.sampled_from(["p1", "p2"]),
        "name": st.sampled_from(["thm_a", "thm_b"]),
    }
)


def _differs(field: str, fields: dict, value: object) -> bool:
    """Whether `value` is a real change of `field`, beyond what normalization merges."""
    old = fields[field]
    backend = fields["backend"]
    if field == "proof":
        return normalize_proof(backend, old) != normalize_proof(backend, value)
    if field == "statement" and old is not None and value is not None:
        return normalize_statement(backend, old) != normalize_statement(backend, value)
    return old != value


@settings(suppress_health_check=[HealthCheck.too_slow])  # generation is slow on a busy machine
@given(key_fields, st.sampled_from(sorted(FIELD_VALUES)), st.data())
def test_any_real_change_of_a_field_changes_the_key(fields, field, data):
    value = data.draw(FIELD_VALUES[field])
    changed = {**fields, field: value}
    if field == "backend":  # the same text under another prover is another question
        assert cache_key(**changed) != cache_key(**fields) or value == fields["backend"]
        return
    if _differs(field, fields, value):
        assert cache_key(**changed) != cache_key(**fields)
    else:
        assert cache_key(**changed) == cache_key(**fields)


def test_layout_the_prover_ignores_shares_a_key():
    base = dict(
        backend=BackendName.COQ,
        toolchain="coq-8.16.1",
        header="Require Import Lia.",
        statement="Theorem t : forall n : nat, n + 0 = n.",
        whole_file=False,
        policy_version="p1",
    )
    a = cache_key(**base, proof="intros n.\n  lia.")
    b = cache_key(**base, proof="intros n. (* by arithmetic *) lia.")
    c = cache_key(**base, proof="intros n.(* glued *) lia.")
    assert a == b != c
    lean = {**base, "backend": BackendName.LEAN}
    assert cache_key(**lean, proof="by\n  simp") != cache_key(**lean, proof="by\n  simp  ")


def test_a_whole_file_key_needs_the_theorem_name():
    with pytest.raises(ValueError, match="theorem name"):
        cache_key(
            backend=BackendName.COQ,
            toolchain="coq-8.16.1",
            header="",
            statement=None,
            proof="Theorem t : True. Proof. exact I. Qed.",
            whole_file=True,
            policy_version="p1",
        )


def test_the_key_is_the_same_in_another_process():
    fields = dict(
        backend="coq",
        toolchain="coq-8.16.1",
        header="Require Import Lia.",
        statement="Theorem t : 1 = 1.",
        proof="reflexivity.",
        whole_file=False,
        policy_version="p1",
    )
    program = (
        "import json, sys\nfrom leanfilter.cache import cache_key\n"
        "print(cache_key(**json.loads(sys.argv[1])))"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", program, json.dumps(fields)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert keys == {cache_key(**{**fields, "backend": BackendName.COQ})}
    (key,) = keys
    assert len(key) == 64 and int(key, 16) >= 0


def test_candidate_key_covers_the_candidate():
    candidate = Candidate(
        name="t", backend=BackendName.COQ, statement="Theorem t : True.", proof="exact I."
    )
    key = candidate_key(candidate, toolchain="coq-8.16.1", policy_version="p1")
    assert key != candidate_key(candidate, toolchain="coq-8.17.0", policy_version="p1")
    assert key != candidate_key(candidate, toolchain="coq-8.16.1", policy_version="p2")


def _verdict(status: Status = Status.PROVED, name: str = "t") -> Verdict:
    return Verdict(
        name=name,
        status=status,
        messages=[Message(severity=Severity.INFO, text="ok")],
        axioms=[],
        time_s=0.25,
        backend=BackendName.COQ,
        toolchain="coq-8.16.1",
        policy_version="p1",
    )


def test_a_hit_is_the_identical_verdict_marked_cached():
    cache = MemoryCache()
    assert isinstance(cache, VerdictCache)
    verdict = _verdict()
    assert cache.get("k") is None
    cache.put("k", verdict)
    hit = cache.get("k")
    assert hit is not None and hit.cached
    assert hit.model_dump(exclude={"cached", "key"}) == verdict.model_dump(
        exclude={"cached", "key"}
    )
    assert hit.key == "k"
    hit.messages.append(Message(severity=Severity.ERROR, text="changed by the caller"))
    assert cache.get("k").messages == verdict.messages


@pytest.mark.parametrize("status", [Status.TIMEOUT, Status.ERROR])
def test_answers_that_depend_on_the_machine_are_not_cached(status):
    cache = MemoryCache()
    cache.put("k", _verdict(status))
    assert cache.get("k") is None


def test_the_least_recently_used_entry_goes_first():
    cache = MemoryCache(max_entries=2)
    cache.put("a", _verdict(name="a"))
    cache.put("b", _verdict(name="b"))
    assert cache.get("a") is not None
    cache.put("c", _verdict(name="c"))
    assert cache.get("b") is None
    assert [cache.get(k).name for k in ("a", "c")] == ["a", "c"]
    assert len(cache) == 2


def test_threads_share_one_cache():
    cache = MemoryCache(max_entries=10_000)

    def work(offset: int) -> None:
        for i in range(500):
            key = f"{offset}-{i}"
            cache.put(key, _verdict(name=key))
            assert cache.get(key).name == key

    assert not in_threads(work, 8)
    assert len(cache) == 4000
