"""The sandbox holds where the policy is told to let a command through.

A user may allow `Redirect`, `Extraction` or `vm_compute` consciously; the jail must still keep
the prover's writes inside its private tmpfs, stop it from starting processes, and turn an
exhausted resource into a verdict that says which, never `proved`. Real coqtop throughout.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from leanfilter.backends.coq import CoqBackend, CoqSettings
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.policy import PolicyConfig, StrictPolicy
from leanfilter.pool import PoolConfig
from leanfilter.records import BackendName, Candidate, Status, Verdict
from leanfilter.sandbox import SandboxConfig, isolation_report

pytestmark = pytest.mark.coq

HEADER = "Require Import Arith Lia.\n"
STATEMENT = "Theorem t : forall n m : nat, n + m = m + n."
PROOF = f"{STATEMENT}\nProof. intros; lia. Qed."
PERMISSIVE = StrictPolicy(
    PolicyConfig.model_validate({"coq": {"allow": ["side_effect", "require", "vm"]}})
)
ISOLATION = isolation_report()
needs_readonly_root = pytest.mark.skipif(
    not ISOLATION.get("filesystem_readonly"),
    reason=f"the kernel refuses the jail's read-only mounts here: {ISOLATION}",
)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder anyone may write to, on a path the jail's uid can reach (unlike pytest's)."""
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="leanfilter-escape-") as name:
        path = Path(name)
        path.chmod(0o777)
        yield path


def check(text: str, *, whole_file: bool = True, settings: CoqSettings | None = None) -> Verdict:
    candidate = Candidate(
        name="t",
        backend=BackendName.COQ,
        header=HEADER,
        statement=STATEMENT,
        proof=text,
        whole_file=whole_file,
    )
    assert PERMISSIVE.screen(candidate) is None  # the policy lets it through: the jail decides
    backend = CoqBackend(settings or CoqSettings())
    config = VerifierConfig(pool=PoolConfig(workers=1), timeout=60)
    with Verifier(config, backends={BackendName.COQ: backend}, policy=PERMISSIVE) as verifier:
        return verifier.verify_all([candidate])[0]


@needs_readonly_root
def test_redirect_outside_the_work_directory_writes_nothing(open_dir: Path) -> None:
    verdict = check(f'Redirect "{open_dir / "escaped"}" Print nat.\n{PROOF}')
    assert verdict.status is Status.FAILED
    assert "Read-only file system" in verdict.detail
    assert list(open_dir.iterdir()) == []


@needs_readonly_root
def test_extraction_outside_the_work_directory_writes_nothing(open_dir: Path) -> None:
    verdict = check(f'Require Extraction.\nExtraction "{open_dir / "escaped.ml"}" nat.\n{PROOF}')
    assert verdict.status is Status.FAILED
    assert "Read-only file system" in verdict.detail
    assert list(open_dir.iterdir()) == []


def test_a_redirect_inside_the_work_directory_is_harmless() -> None:
    assert check(f'Redirect "inside" Print nat.\n{PROOF}').status is Status.PROVED


def test_extraction_cannot_start_the_ocaml_compiler() -> None:
    verdict = check(f"Require Extraction.\nExtraction TestCompile nat.\n{PROOF}")
    assert verdict.status is Status.FAILED
    assert "Resource temporarily unavailable" in verdict.detail


def test_memory_exhaustion_is_a_failure_that_says_so() -> None:
    bomb = "intros. pose (l := List.repeat tt 100000000). vm_compute in l. lia."
    verdict = check(bomb, whole_file=False)
    assert (verdict.status, verdict.reason) == (Status.FAILED, "resource.memory")
    assert "Out of memory" in verdict.detail


def test_a_file_past_the_size_limit_is_a_failure_that_says_so() -> None:
    small = CoqSettings(sandbox=SandboxConfig(memory_mb=3072, nproc=1, fsize_mb=1))
    verdict = check(f'Redirect "big" Search _.\n{PROOF}', settings=small)
    assert verdict.status is Status.FAILED
    assert "File too large" in verdict.detail
