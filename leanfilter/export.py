"""Exports of stored results: JSON lines, and a folder `datasets.load_dataset` reads as it is.

The Hugging Face layout is `data/<split>.jsonl` (one file per problem split; results whose
problem has no split go to `train`) and a README.md whose YAML header names the files
(`configs`) and declares every column's type (`dataset_info.features`), so that columns that are
null in the first rows still load with the right type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from leanfilter.db import StoredResult

DEFAULT_SPLIT = "train"

# column -> Hugging Face feature: a dtype, or a sequence of one
FEATURES: dict[str, str | tuple[str]] = {
    "problem": "string",
    "backend": "string",
    "header": "string",
    "statement": "string",
    "proof": "string",
    "whole_file": "bool",
    "proof_hash": "string",
    "status": "string",
    "reason": "string",
    "detail": "string",
    "messages": "string",
    "axioms": ("string",),
    "used_constants": ("string",),
    "time_s": "float64",
    "toolchain": "string",
    "policy_version": "string",
    "cached": "bool",
    "key": "string",
    "run_id": "string",
    "candidate_id": "string",
    "source": "string",
    "model": "string",
    "sampler_run_id": "string",
    "temperature": "float64",
    "logp_policy": "float64",
    "logp_base": "float64",
    "step": "int64",
}


def write_jsonl(results: Iterable[StoredResult], out: IO[str]) -> int:
    """One result per line, nested as stored; returns how many."""
    count = 0
    for result in results:
        out.write(result.model_dump_json() + "\n")
        count += 1
    return count


def flat_row(result: StoredResult) -> dict[str, Any]:
    """A result as one row of scalar columns (messages as a JSON string), in FEATURES order."""
    c, v = result.candidate, result.verdict
    sampler = c.sampler
    row = {
        "problem": result.problem,
        "backend": c.backend.value,
        "header": c.header,
        "statement": c.statement,
        "proof": c.proof,
        "whole_file": c.whole_file,
        "proof_hash": result.proof_hash,
        "status": v.status.value,
        "reason": v.reason,
        "detail": v.detail,
        "messages": json.dumps([m.model_dump(mode="json") for m in v.messages]),
        "axioms": v.axioms,
        "used_constants": result.used_constants,
        "time_s": v.time_s,
        "toolchain": v.toolchain,
        "policy_version": v.policy_version,
        "cached": v.cached,
        "key": v.key,
        "run_id": result.run_id,
        "candidate_id": result.candidate_id,
        "source": result.source,
        "model": sampler.model if sampler else None,
        "sampler_run_id": sampler.run_id if sampler else None,
        "temperature": sampler.temperature if sampler else None,
        "logp_policy": sampler.logp_policy if sampler else None,
        "logp_base": sampler.logp_base if sampler else None,
        "step": sampler.step if sampler else None,
    }
    return row


def write_hf_dataset(results: Iterable[StoredResult], folder: Path, title: str) -> dict[str, int]:
    """Write the dataset folder; returns the rows per split. Refuses a folder that has files."""
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"{folder}: not empty; give a new folder for the dataset")
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    files: dict[str, IO[str]] = {}
    counts: dict[str, int] = {}
    try:
        for result in results:
            split = split_name(result.split)
            if split not in files:
                files[split] = (data / f"{split}.jsonl").open("w", encoding="utf-8")
                counts[split] = 0
            files[split].write(json.dumps(flat_row(result), ensure_ascii=False) + "\n")
            counts[split] += 1
    finally:
        for f in files.values():
            f.close()
    (folder / "README.md").write_text(dataset_card(counts, title), encoding="utf-8")
    return counts


def split_name(split: str | None) -> str:
    """A Hugging Face split name (letters, digits, underscores) for a problem's split."""
    name = re.sub(r"\W+", "_", split or "").strip("_")
    return name or DEFAULT_SPLIT


def dataset_card(counts: dict[str, int], title: str) -> str:
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split in sorted(counts):
        lines += [f"  - split: {split}", f"    path: data/{split}.jsonl"]
    lines += ["dataset_info:", "  features:"]
    for column, feature in FEATURES.items():
        lines.append(f"  - name: {column}")
        if isinstance(feature, tuple):
            lines.append(f"    sequence: {feature[0]}")
        else:
            lines.append(f"    dtype: {feature}")
    lines += ["  splits:"]
    for split in sorted(counts):
        lines += [f"  - name: {split}", f"    num_examples: {counts[split]}"]
    lines += [
        "---",
        "",
        f"# {title}",
        "",
        "Proof attempts and the verdicts leanfilter gave them, exported from a proof database.",
        "A row is one candidate and one verdict; `status` is `proved` only for proofs that",
        "checked. `messages` is the prover's messages as a JSON string.",
        "",
        "| split | rows |",
        "|---|---|",
        *(f"| {split} | {counts[split]} |" for split in sorted(counts)),
        "",
    ]
    return "\n".join(lines)
