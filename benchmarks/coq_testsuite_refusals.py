"""How many honest whole files the default policy refuses, measured on Coq's own test-suite.

Each `.v` file is a candidate `{"name": <its last theorem>, "code": <the file>}`, checked as a new
user would: default Verifier, default strict policy, no problems file (`--replay` on request).
The ground truth comes from `coqc -native-compiler no` (as the engine runs Coq) in a scratch
directory: a file counts as *good* when it compiles and `Print Assumptions` of its last theorem,
appended to it, answers `Closed under the global context`. The test-suite is no adversary, so
that phrase is a fair reading here (the engine itself reads the audit by its grammar).

Printed: good files proved, refusals of good files by reason, files proved on axioms the default
policy grants (a file that leads with `Require … Reals` gets Coq's classical reals axioms, as a
Reals problem does; coqc lists them, so they are not good, but neither are they false accepts),
and false accepts (any other proved file that is not good). The files come from Coq's
repository (`test-suite/success` and `test-suite/bugs` of tag V8.16.1); none ships here.

    python3 benchmarks/coq_testsuite_refusals.py DIR [DIR ...] [--truth coqc.json] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from leanfilter.backends.coq_syntax import CoqLexError, sentences
from leanfilter.cache import MemoryCache
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.inputs import UNTRUSTED, UntrustedInput, candidate_from_record
from leanfilter.policy import StrictPolicy, load_policy_config
from leanfilter.policy.basic import COQ_CLASSICAL_REALS_AXIOMS
from leanfilter.pool import PoolConfig
from leanfilter.records import BackendName, Status, Verdict

_THEOREM = re.compile(
    r"^(?:#\[[^\]]*\]\s*)*(?:(?:Local|Global|Polymorphic|Monomorphic|Program)\s+)*"
    r"(?:Theorem|Lemma|Fact|Remark|Corollary|Proposition|Example)\s+([A-Za-z_][\w']*)"
)
_CLOSED = "Closed under the global context"


def last_theorem(code: str) -> str | None:
    try:
        parts = sentences(code)
    except CoqLexError:
        return None
    names = [m.group(1) for s in parts if (m := _THEOREM.match(s.text))]
    return names[-1] if names else None


def coqc_truth(code: str, theorem: str, timeout: float) -> str:
    """`closed` when coqc compiles the file and its last theorem rests on no assumption,
    `assumes` when it compiles but the theorem rests on some, `fails` otherwise."""
    with tempfile.TemporaryDirectory(prefix="lf-testsuite-") as tmp:
        source = Path(tmp) / "Candidate.v"
        source.write_text(f"{code}\nPrint Assumptions {theorem}.\n")
        try:
            done = subprocess.run(
                ["coqc", "-native-compiler", "no", "-q", source.name],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return "fails"
    if done.returncode != 0:
        return "fails"
    return "closed" if _CLOSED in done.stdout else "assumes"


def load_files(dirs: list[Path]) -> dict[str, tuple[str, str]]:
    """file key -> (theorem, code), for every `.v` file that declares a theorem."""
    files = {}
    for directory in dirs:
        for path in sorted(directory.glob("*.v")):
            code = path.read_text(errors="replace")
            theorem = last_theorem(code)
            if theorem is not None:
                files[f"{directory.name}/{path.name}"] = (theorem, code)
    return files


def ground_truth(
    files: dict[str, tuple[str, str]], path: Path | None, args: argparse.Namespace
) -> dict[str, str]:
    if path is not None and path.exists():
        return json.loads(path.read_text())
    with ThreadPoolExecutor(args.workers) as pool:
        answers = pool.map(lambda f: coqc_truth(f[1], f[0], args.coqc_timeout), files.values())
        truth = dict(zip(files, answers, strict=True))
    if path is not None:
        path.write_text(json.dumps(truth, indent=0, sort_keys=True))
    return truth


def granted(verdict: Verdict) -> bool:
    """Proved on axioms the default policy grants (the Reals problems' classical axioms)."""
    return bool(verdict.axioms) and set(verdict.axioms) <= COQ_CLASSICAL_REALS_AXIOMS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--truth", type=Path, help="coqc's answers: read if present, else written")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--coqc-timeout", type=float, default=30.0)
    parser.add_argument("--replay", action="store_true", help="as `verify --replay`")
    parser.add_argument("--policy", type=Path, help="a policy file, as `verify --policy`")
    parser.add_argument("--list", type=Path, help="write every file's verdict here (JSON)")
    args = parser.parse_args()
    files = load_files(args.dirs)
    truth = ground_truth(files, args.truth, args)
    keys, candidates, verdicts = [], [], {}
    for k in (k for k in files if k in truth):
        record = {"name": files[k][0], "code": files[k][1]}
        try:
            candidates.append(candidate_from_record(record, {}, BackendName.COQ))
            keys.append(k)
        except UntrustedInput as e:  # as `verify` answers such a line
            verdicts[k] = Verdict(
                name=files[k][0], status=Status.REJECTED, reason=UNTRUSTED, detail=str(e)
            )
    config = VerifierConfig(pool=PoolConfig(workers=args.workers), replay=args.replay)
    started = time.perf_counter()
    policy = StrictPolicy(load_policy_config(args.policy) if args.policy else None)
    with Verifier(config, policy=policy, cache=MemoryCache()) as verifier:
        verdicts |= dict(zip(keys, verifier.verify_all(candidates), strict=True))
    took = time.perf_counter() - started
    keys = [k for k in files if k in verdicts]
    good = [k for k in keys if truth[k] == "closed"]
    proved = {k for k, v in verdicts.items() if v.status is Status.PROVED}
    refusals = Counter(
        verdicts[k].reason or verdicts[k].status.value for k in good if k not in proved
    )
    by_grant = sorted(k for k in proved if truth[k] == "assumes" and granted(verdicts[k]))
    false_accepts = sorted(k for k in proved if truth[k] != "closed" and k not in by_grant)
    share = len(proved & set(good)) / len(good) if good else 0.0
    print(f"files with a theorem: {len(keys)}; coqc: {dict(Counter(truth[k] for k in keys))}")
    print(f"good (coqc accepts, last theorem axiom-free): {len(good)}")
    print(f"good files proved: {len(proved & set(good))} ({share:.1%})")
    print("good files not proved, by reason:")
    for reason, count in refusals.most_common():
        print(f"  {count:4d}  {reason}")
    print(f"proved on granted axioms only (Reals): {len(by_grant)} {by_grant}")
    print(f"false accepts: {len(false_accepts)} {false_accepts}")
    print(f"engine time: {took:.1f} s for {len(keys)} files, {args.workers} workers")
    if args.list:
        rows = {k: {"coqc": truth[k], **v.model_dump(include={"status", "reason", "detail"})}
                for k, v in verdicts.items()}  # fmt: skip
        args.list.write_text(json.dumps(rows, indent=1, sort_keys=True, default=str))


if __name__ == "__main__":
    main()
