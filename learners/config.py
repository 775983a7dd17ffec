"""The training run's configuration: one pydantic model, read from YAML or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class SamplingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_size: int = Field(default=4, ge=2, description="G samples per prompt")
    max_new_tokens: int = Field(default=32, ge=1, description="also L_max, the length normaliser")
    temperature: float = Field(default=1.0, gt=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    stop: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="a completion ends at the first of these, cut from its text (learners.stops)",
    )


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="a local path or a hub id of a causal LM")
    gguf_file: str | None = Field(default=None, description="a GGUF file inside `model`")
    problems: Path = Field(description="JSONL of problems (leanfilter.inputs format)")
    problem_names: list[str] | None = Field(default=None, description="a subset, in this order")
    header_suffix: str = Field(default="", description="appended to every problem's header")
    prompt: str = Field(default="{header}{statement}\nProof.\n", description="prompt template")
    learner: str = "alpha_dpg"
    learner_options: dict[str, Any] = Field(default_factory=dict)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    prompts_per_step: int = Field(default=2, ge=1)
    steps: int = Field(default=10, ge=1)
    learning_rate: float = Field(default=1e-5, gt=0.0)
    seed: int = 0
    lora_rank: int | None = Field(default=None, ge=1, description="train a LoRA adapter (peft)")
    z_mode: str = Field(default="reset", pattern="^(reset|running)$")
    output_dir: Path = Path("runs/train")
    database: Path | None = Field(default=None, description="proof database recording samples")
    checkpoint_every: int = Field(default=1, ge=1)
    verify_timeout: float = Field(default=20.0, gt=0.0)
    verify_workers: int = Field(default=2, ge=1)


Schema = TypeVar("Schema", bound=BaseModel)


def load_config(path: str | Path, schema: type[Schema] = TrainConfig) -> Schema:
    """Read a YAML (.yaml/.yml) or JSON file; a bad field raises pydantic's error naming it."""
    path = Path(path)
    text = path.read_text()
    if path.suffix in {".yaml", ".yml"}:
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    return schema.model_validate(data)
