"""A comparison's configuration: one pydantic model, read from YAML or JSON.

It names once what the runs share (base model, problems, steps, group size, learning rate, seeds,
the evaluation), and the learners to compare as a list; a learner with an alpha grid stands for
one arm per alpha. Every arm is trained with every seed, from the same base, in the same data order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from learners.config import SamplingConfig, TrainConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemSource(_Strict):
    """Problems from a JSONL file (leanfilter.inputs format) or a `datasets` dataset.

    `dataset` is a hub id or a local folder `datasets.load_dataset` reads; it is loaded at run
    time, and `fields` renames its columns to the record fields leanfilter reads (name, header,
    formal_statement, ...).
    """

    path: Path | None = None
    dataset: str | None = None
    dataset_split: str = "train"
    fields: dict[str, str] = Field(default_factory=dict, description="record field: its column")
    header: str | None = Field(default=None, description="header for records that carry none")
    drop_suffix: str | None = Field(
        default=None, description="a placeholder proof that ends the dataset's statements"
    )
    split: str | None = Field(default=None, description="keep records of this split only")
    names: list[str] | None = Field(default=None, description="a subset, in this order")
    limit: int | None = Field(default=None, ge=1, description="the first `limit` problems")

    @model_validator(mode="after")
    def _one_origin(self) -> ProblemSource:
        if (self.path is None) == (self.dataset is None):
            raise ValueError("give exactly one of `path` and `dataset`")
        return self


class Problems(_Strict):
    train: list[ProblemSource] = Field(min_length=1)
    eval: list[ProblemSource] = Field(min_length=1)
    header_suffix: str = Field(default="", description="appended to every problem's header")


class ArmSpec(_Strict):
    """One learner to compare; with `alphas`, one arm per alpha (the option `alpha` of each)."""

    learner: str
    label: str | None = Field(default=None, description="its name in the table (the learner's)")
    options: dict[str, Any] = Field(default_factory=dict)
    alphas: list[float] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _alpha_once(self) -> ArmSpec:
        if self.alphas is not None and "alpha" in self.options:
            raise ValueError("give alpha either in `alphas` or in `options`, not both")
        return self


class Arm(BaseModel):
    """One learner with its settings, as the table names it."""

    label: str
    learner: str
    options: dict[str, Any]


class EvalConfig(_Strict):
    samples: int = Field(default=32, ge=1, description="n samples per eval problem")
    temperature: float = Field(default=1.0, gt=0.0)
    top_p: float = Field(default=0.99, gt=0.0, le=1.0)
    max_new_tokens: int | None = Field(default=None, ge=1, description="default: training's")
    k: list[int] = Field(default=[1, 32], min_length=1, description="pass@k reported")
    chunk: int = Field(default=32, ge=1, description="samples per transformers generate call")
    problems_per_call: int = Field(
        default=8, ge=1, description="problems sampled and verified together (one vLLM call)"
    )
    seed: int = 0
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)

    @model_validator(mode="after")
    def _ks_fit(self) -> EvalConfig:
        if any(k < 1 or k > self.samples for k in self.k):
            raise ValueError(f"every k must lie in [1, samples = {self.samples}]")
        self.k = sorted({1, *self.k})
        return self


class CompareConfig(_Strict):
    name: str = Field(pattern=r"^[\w.-]+$")
    base_model: str = Field(description="a local path or a hub id of a causal LM")
    base_model_command: str | None = Field(
        default=None,
        description="the command that makes `base_model` (a local directory) when it is missing",
    )
    gguf_file: str | None = None
    problems: Problems
    prompt: str = Field(default="{header}{statement}\nProof.\n", description="prompt template")
    generation: Literal["auto", "transformers", "vllm"] = Field(
        default="auto", description="evaluation sampler; auto: vLLM when it is installed"
    )
    learners: list[ArmSpec] = Field(min_length=1)
    seeds: list[int] = Field(default=[0], min_length=1)
    steps: int = Field(default=10, ge=1)
    prompts_per_step: int = Field(default=2, ge=1)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    learning_rate: float = Field(default=1e-5, gt=0.0)
    lora_rank: int | None = Field(default=None, ge=1)
    z_mode: str = Field(default="reset", pattern="^(reset|running)$")
    checkpoint_every: int = Field(default=1, ge=1, description="steps between checkpoints")
    eval: EvalConfig = Field(default_factory=EvalConfig)
    output_dir: Path = Path("runs/compare")
    verify_timeout: float = Field(default=20.0, gt=0.0)
    verify_workers: int = Field(default=2, ge=1)

    @model_validator(mode="after")
    def _labels_unique(self) -> CompareConfig:
        labels = [arm.label for arm in self.arms()]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"two learners share a label: {', '.join(repeated)}; set `label`")
        return self

    def arms(self) -> list[Arm]:
        """The learners as run: an alpha grid expanded to one arm per alpha."""
        arms = []
        for spec in self.learners:
            label = spec.label or spec.learner
            if spec.alphas is None:
                arms.append(Arm(label=label, learner=spec.learner, options=spec.options))
                continue
            for alpha in spec.alphas:
                options = spec.options | {"alpha": alpha}
                arms.append(Arm(label=f"{label}-a{alpha:g}", learner=spec.learner, options=options))
        return arms

    @property
    def eval_max_new_tokens(self) -> int:
        return self.eval.max_new_tokens or self.sampling.max_new_tokens

    def train_config(self, arm: Arm, seed: int, problems: Path, output_dir: Path) -> TrainConfig:
        """The training run of `arm` with `seed`: every arm gets the same base, data and steps."""
        shared = self.model_dump(include=_SHARED_WITH_TRAINING)
        run = {
            "model": self.base_model,
            "problems": problems,
            "learner": arm.learner,
            "learner_options": arm.options,
            "seed": seed,
            "output_dir": output_dir,
        }
        return TrainConfig.model_validate(shared | run)


_SHARED_WITH_TRAINING = {
    "gguf_file", "prompt", "sampling", "prompts_per_step", "steps", "learning_rate", "lora_rank",
    "z_mode", "checkpoint_every", "verify_timeout", "verify_workers",
}  # fmt: skip
