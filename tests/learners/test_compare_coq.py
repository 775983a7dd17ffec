"""`leanfilter compare` for real: a tiny in-process model, real Coq, a real kill -9 and resume.

Two arms (GRPO and alpha-DPG at alpha = 0.5) x two seeds on six small nat problems. The tiny model's
tokens are whole tactics (tests/learners/tiny.py), so it proves some of them and not others.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from leanfilter.cache import MemoryCache
from leanfilter.cli import main
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.oracle import Oracle
from leanfilter.records import BackendName, Problem
from tests.learners.tiny import save_tiny_model

pytestmark = [
    pytest.mark.coq,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("coqtop") is None, reason="coqtop is not on PATH"),
]

ROOT = Path(__file__).parents[2]
STATEMENTS = {
    "add_comm": "forall n m : nat, n + m = m + n",
    "le_refl": "forall n : nat, n <= n",
    "shift": "forall a b : nat, a + b + 2 = 2 + b + a",
    "zero_add": "forall n : nat, 0 + n = n",
    "mul_one": "forall x : nat, x * 1 = x",
    "two": "2 + 2 = 4",
}
STEPS = 6
ROWS = [
    ("base", None),
    ("grpo", 0),
    ("grpo", 1),
    ("grpo", None),
    ("alpha_dpg-a0.5", 0),
    ("alpha_dpg-a0.5", 1),
    ("alpha_dpg-a0.5", None),
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("compare")
    save_tiny_model(root / "model")
    with open(root / "problems.jsonl", "w") as out:
        for i, (name, statement) in enumerate(STATEMENTS.items()):
            record = {
                "name": name,
                "backend": "coq",
                "header": "Require Import Lia.\n",
                "statement": f"Theorem {name}' : {statement}.",
                "split": "train" if i < 3 else "eval",
            }
            out.write(json.dumps(record) + "\n")
    return root


def write_config(root: Path, out: str, **changes) -> Path:
    problems = str(root / "problems.jsonl")
    config = {
        "name": "tiny",
        "base_model": str(root / "model"),
        "problems": {
            "train": [{"path": problems, "split": "train"}],
            "eval": [{"path": problems, "split": "eval"}],
        },
        "learners": [{"learner": "grpo"}, {"learner": "alpha_dpg", "alphas": [0.5]}],
        "seeds": [0, 1],
        "steps": STEPS,
        "prompts_per_step": 2,
        "sampling": {"group_size": 4, "max_new_tokens": 3},
        "learning_rate": 0.01,
        "eval": {"samples": 8, "k": [1, 4, 8], "chunk": 4},
        "generation": "transformers",
        "output_dir": str(root / out),
    }
    path = root / f"{out}.json"
    path.write_text(json.dumps(config | changes))
    return path


@pytest.fixture(scope="module")
def straight(setup) -> tuple[Path, str]:
    """One uninterrupted comparison, and what the command printed."""
    result = CliRunner().invoke(main, ["compare", str(write_config(setup, "straight"))])
    assert result.exit_code == 0, result.output
    return setup / "straight", result.output


def snapshot(out: Path) -> dict[str, bytes]:
    """The training logs and evaluation records: what a resumed run must not write again."""
    files = [*out.glob("train/*/steps.jsonl"), *out.glob("eval/*.jsonl")]
    return {str(f.relative_to(out)): f.read_bytes() for f in files}


def started(output: str) -> list[str]:
    """The training runs and evaluations the command started, as it announced them."""
    return [line for line in output.splitlines() if line.startswith(("training ", "evaluating "))]


def start_until_logged(config: Path, log: Path, steps: int, **options) -> subprocess.Popen:
    """`leanfilter compare config` in a process of its own, once `log` holds `steps` steps."""
    process = subprocess.Popen(
        [sys.executable, "-m", "leanfilter", "compare", str(config)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **options,
    )
    deadline = time.monotonic() + 300
    while not (log.exists() and log.read_text().count("\n") >= steps):
        assert process.poll() is None, "the comparison ended before it could be stopped"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return process


def verdict_rows(out: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(out / "proofs.db") as db:
        return db.execute("SELECT key, cached FROM verdicts WHERE candidate_id != ''").fetchall()


def test_the_table_has_every_model_and_is_printed_last(straight):
    out, printed = straight
    results = json.loads((out / "results.json").read_text())
    assert [(r["label"], r["seed"]) for r in results["rows"]] == ROWS
    table = (out / "results.md").read_text().strip()
    assert printed.strip().endswith(table)
    assert table.splitlines()[0].startswith("| model | seed | pass@1 | pass@4 | pass@8 |")
    for plot in ("pareto.png", "pareto-k4.png"):  # pass@8, and pass@4 before it saturates
        assert (out / plot).read_bytes().startswith(b"\x89PNG")
    for row in results["rows"]:
        for estimate in row["pass_at_k"].values():
            i = estimate["interval"]
            assert 0.0 <= i["low"] <= i["estimate"] <= i["high"] <= 1.0
            assert estimate["problems"] == 3
        against = {p["against"] for p in row["paired"]}
        expected = {"base"} if row["label"] != "base" else set()
        if row["label"].startswith("alpha_dpg"):
            expected.add("grpo")
        assert against == expected
        if row["label"] != "base":
            t = row["train_time"]
            assert t["steps"] == STEPS and t["sampling_s"] > 0 and t["learning_s"] > 0


def test_every_proof_text_is_checked_once_across_the_whole_comparison(straight):
    out, _ = straight
    rows = verdict_rows(out)
    checked = [key for key, cached in rows if not cached]
    assert len(checked) == len(set(checked)) == len({key for key, _ in rows})
    cache = json.loads((out / "results.json").read_text())["cache"]
    assert cache["verdicts"] == len(rows)
    assert cache["hits"] == len(rows) - len(checked) > 0
    assert cache["rate"] == pytest.approx(cache["hits"] / cache["verdicts"])


def test_the_base_model_is_at_minus_log_z_from_the_target(straight):
    out, _ = straight
    base = [json.loads(line) for line in (out / "eval" / "base.jsonl").read_text().splitlines()]
    exact = [-math.log(len(r["accepted"]) / len(r["statuses"])) for r in base if r["accepted"]]
    row = json.loads((out / "results.json").read_text())["rows"][0]
    if not exact:
        assert row["kl"] is None
    else:
        assert row["kl"]["interval"]["estimate"] == pytest.approx(sum(exact) / len(exact))
        assert row["kl"]["problems"] == len(exact)


def test_a_second_run_redoes_nothing(straight):
    out, _ = straight
    before, rows = snapshot(out), len(verdict_rows(out))
    result = CliRunner().invoke(main, ["compare", str(out.parent / "straight.json")])
    assert result.exit_code == 0, result.output
    assert started(result.output) == []
    assert snapshot(out) == before
    assert len(verdict_rows(out)) == rows


def test_an_evaluation_cut_short_resumes_at_its_first_missing_problem(setup, straight):
    out = setup / "torn"
    shutil.copytree(straight[0], out)
    config = write_config(setup, "torn")
    records = (out / "eval" / "base.jsonl").read_text().splitlines(keepends=True)
    (out / "eval" / "base.jsonl").write_text(records[0] + records[1][:25])  # as a kill leaves it

    result = CliRunner().invoke(main, ["compare", str(config)])
    assert result.exit_code == 0, result.output
    assert started(result.output) == ["evaluating base: 2 problems x 8"]
    assert (out / "eval" / "base.jsonl").read_text().splitlines(keepends=True) == records
    assert (
        json.loads((out / "results.json").read_text())["rows"][0]["pass_at_k"]
        == json.loads((straight[0] / "results.json").read_text())["rows"][0]["pass_at_k"]
    )


def test_a_comparison_killed_mid_training_resumes_to_the_same_table(setup, straight):
    config = write_config(setup, "killed")
    out = setup / "killed"
    victim = out / "train" / "alpha_dpg-a0.5-s0" / "steps.jsonl"
    process = start_until_logged(config, victim, 2, start_new_session=True)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "models" / "alpha_dpg-a0.5-s0" / "complete").exists()
    assert (out / "models" / "grpo-s1" / "complete").exists()
    finished = {k: v for k, v in snapshot(out).items() if "alpha_dpg" not in k}
    logged = victim.read_text().count("\n")

    result = CliRunner().invoke(main, ["compare", str(config)])
    assert result.exit_code == 0, result.output
    assert started(result.output) == [
        line
        for run in ("alpha_dpg-a0.5-s0", "alpha_dpg-a0.5-s1")
        for line in (f"training {run}", f"evaluating {run}: 3 problems x 8")
    ]
    assert {k: v for k, v in snapshot(out).items() if k in finished} == finished
    steps = [json.loads(line)["step"] for line in victim.read_text().splitlines()]
    assert sorted(set(steps)) == list(range(STEPS))
    assert len(steps) <= STEPS + 1  # a step logged just before the kill may be logged again
    assert steps[:logged] == list(range(logged))

    expected = json.loads((straight[0] / "results.json").read_text())["rows"]
    resumed = json.loads((out / "results.json").read_text())["rows"]
    for a, b in zip(expected, resumed, strict=True):
        assert (a["label"], a["seed"]) == (b["label"], b["seed"])
        assert a["pass_at_k"] == b["pass_at_k"]
        assert a["kl"] == b["kl"]


def test_ctrl_c_stops_the_comparison_which_then_resumes(setup):
    config = write_config(setup, "interrupted", learners=[{"learner": "grpo"}], seeds=[0])
    out = setup / "interrupted"
    log = out / "train" / "grpo-s0" / "steps.jsonl"
    process = start_until_logged(config, log, 1)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) != 0
    assert not (out / "models" / "grpo-s0" / "complete").exists()
    with sqlite3.connect(out / "proofs.db") as db:
        assert db.execute("SELECT outcome FROM runs").fetchall() == [("failed",)]

    result = CliRunner().invoke(main, ["compare", str(config)])
    assert result.exit_code == 0, result.output
    assert started(result.output) == ["training grpo-s0", "evaluating grpo-s0: 3 problems x 8"]
    assert sorted({json.loads(line)["step"] for line in log.read_text().splitlines()}) == list(
        range(STEPS)
    )


class SlowCache(MemoryCache):
    """Fault injection: a cache on a slow disk, so a verdict takes a while to be stored."""

    def get(self, key):
        time.sleep(0.005)
        return super().get(key)

    def put(self, key, verdict):
        time.sleep(0.2)
        super().put(key, verdict)


def test_twins_in_one_batch_are_checked_once():
    """A text sampled many times in one batch: its first check answers every twin, those
    submitted while its verdict was being stored too (the comparison's cache counts on this).
    The distinct proofs between the twins spread their submission over the first one's check."""
    problem = Problem(
        name="two", backend=BackendName.COQ, header="", statement="Theorem two : 2 + 2 = 4."
    )
    texts = [t for i in range(60) for t in ("", f"assert (h : {i} = {i}) by auto. auto.")]
    with Verifier(VerifierConfig(), cache=SlowCache()) as engine:
        oracle = Oracle(engine)
        oracle.score(problem, ["reflexivity."])  # the prover is warm before the batch comes
        result = oracle.score(problem, texts)
    assert result.v.tolist() == [0.0, 1.0] * 60
    checked = [t for t, v in zip(texts, result.verdicts, strict=True) if not v.cached]
    assert sorted(checked) == sorted(set(texts))
