"""`leanfilter verify --policy FILE`: a user relaxes the strict policy consciously, by name."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from leanfilter.policy import PolicyConfig

pytestmark = pytest.mark.coq

HEADER = "Require Import Arith.\n"
STATEMENT = "Theorem sq : 91 * 91 = 8281."
PROOFS = ["vm_compute. reflexivity.", "reflexivity.", "admit."]


def verify(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(
            json.dumps({"name": "sq", "header": HEADER, "formal_statement": STATEMENT, "proof": p})
            + "\n"
            for p in PROOFS
        )
    )
    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "leanfilter", "verify", str(source), "-o", str(out), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [json.loads(x) for x in out.read_text().splitlines()] if out.exists() else []
    return done, lines


def write_policy(tmp_path: Path, content: dict) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(content))
    return path


def test_a_policy_file_allows_a_construct_and_versions_the_verdicts(tmp_path: Path) -> None:
    strict = write_policy(tmp_path, {})
    done, lines = verify(tmp_path, "--policy", str(strict))
    assert done.returncode == 0, done.stderr
    assert [(v["status"], v["reason"]) for v in lines] == [
        ("rejected", "policy.vm"),
        ("proved", None),
        ("rejected", "policy.sorry"),
    ]
    assert {v["policy_version"] for v in lines} == {PolicyConfig().version}

    content = {"coq": {"allow": ["vm"]}}
    done, lines = verify(tmp_path, "--policy", str(write_policy(tmp_path, content)))
    assert done.returncode == 0, done.stderr
    assert [v["status"] for v in lines] == ["proved", "proved", "rejected"]
    assert {v["policy_version"] for v in lines} == {PolicyConfig.model_validate(content).version}


def test_a_bad_policy_file_stops_the_run_before_any_check(tmp_path: Path) -> None:
    bad = write_policy(tmp_path, {"coq": {"allow": ["everything"]}})
    done, lines = verify(tmp_path, "--policy", str(bad))
    assert done.returncode != 0
    assert "everything" in done.stderr
    assert lines == []


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("policy.json", '{"no_such_field": 1}', "no_such_field: Extra inputs are not permitted"),
        ("policy.json", "not json", "Expecting value"),
        ("policy.toml", "x = \n", "Invalid value"),
    ],
)
def test_a_bad_policy_file_is_named_in_one_line(tmp_path, name, content, reason):
    policy = tmp_path / name
    policy.write_text(content)
    done, lines = verify(tmp_path, "--policy", str(policy))
    assert done.returncode == 1 and lines == []
    assert done.stderr == f"Error: {policy}: not a policy file: {done.stderr.split(': ', 3)[3]}"
    assert reason in done.stderr and done.stderr.count("\n") == 1
