"""`leanfilter compare`: train every arm x seed, evaluate the base model and every final model,
and report them side by side, resuming wherever a previous run stopped.

One `Verifier` serves the whole comparison, over one proof database (`proofs.db`) that is also its
verdict cache: a proof text sampled by any learner, in training or evaluation, in this process or
one before it, is checked once. The output folder holds everything a resumed run needs:

    problems/{train,eval}.jsonl     the problems as first read
    setup.json                      the shared settings; a resumed run must match them
    proofs.db                       every verdict, with where its sample came from
    train/<arm>-s<seed>/            the training loop's checkpoint.pt and steps.jsonl
    models/<arm>-s<seed>/           the final model (a Hugging Face directory), `complete` last
    eval/<model>.jsonl              one line per evaluated problem
    results.json results.md pareto.png pareto-kK.png
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from leanfilter.db import ProofDB
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.inputs import load_problems
from leanfilter.oracle import Oracle
from leanfilter.pool import PoolConfig
from leanfilter.records import Problem
from learners.compare.config import Arm, CompareConfig
from learners.compare.evaluate import ProblemEval, evaluate, read_evals
from learners.compare.problems import read_problems, write_problems
from learners.compare.report import CompareResults, build_results, write_report
from learners.compare.sampling import (
    Sampler,
    TransformersSampler,
    VLLMSampler,
    resolve_generation,
)
from learners.config import TrainConfig
from learners.loop import CHECKPOINT, train
from learners.policy import CausalLMPolicy

BASE = "base"
COMPLETE = "complete"
DATABASE = "proofs.db"


class CompareError(Exception):
    """A comparison that cannot start; its message is the one line the command prints."""


def run_label(arm: Arm, seed: int) -> str:
    return f"{arm.label}-s{seed}"


def check_base_model(config: CompareConfig) -> None:
    """A base model made by a command of the repository must be there before anything starts."""
    if config.base_model_command and not Path(config.base_model).is_dir():
        raise CompareError(
            f"base model {config.base_model} is missing: make it with `{config.base_model_command}`"
        )


def compare(config: CompareConfig, echo: Callable[[str], None] = print) -> CompareResults:
    """Run (or resume) the comparison and write its report; returns the results."""
    check_base_model(config)
    _quiet_progress_bars()
    out = Path(config.output_dir)
    train_path, held_out = prepare(config, out)
    database = ProofDB(out / DATABASE)
    run = database.start_run("compare", config.model_dump(mode="json"))
    engine = Verifier(
        VerifierConfig(
            pool=PoolConfig(workers=config.verify_workers), timeout=config.verify_timeout
        ),
        cache=database,
        recorder=database,
        run_id=run.id,
    )
    outcome = "failed"
    try:
        oracle = Oracle(engine)
        base = _evaluate(config, BASE, config.base_model, held_out, oracle, None, out, echo)
        targets = {name: record.accepted for name, record in base.items()}
        for arm in config.arms():
            for seed in config.seeds:
                label = run_label(arm, seed)
                model_dir = out / "models" / label
                if not (model_dir / COMPLETE).exists():
                    echo(f"training {label}")
                    settings = config.train_config(arm, seed, train_path, out / "train" / label)
                    train(settings, verifier=engine)
                    export_final(settings, model_dir)
                _evaluate(config, label, str(model_dir), held_out, oracle, targets, out, echo)
        outcome = "completed"
    finally:
        engine.close(cancel=outcome != "completed")
        database.end_run(run.id, outcome)
        database.close()
    results = build_results(config, out)
    write_report(results, out)
    return results


def _quiet_progress_bars() -> None:
    """Loading and saving models draws progress bars; the comparison's own lines say more."""
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging

    logging.disable_progress_bar()
    disable_progress_bars()


def prepare(config: CompareConfig, out: Path) -> tuple[Path, list[Problem]]:
    """The train file for the loop and the eval problems: read from the sources the first time,
    from the output folder after; a folder made with other shared settings is refused."""
    out.mkdir(parents=True, exist_ok=True)
    setup = shared_settings(config)
    setup_path = out / "setup.json"
    if setup_path.exists() and json.loads(setup_path.read_text()) != setup:
        raise CompareError(
            f"{out} holds a comparison with other shared settings (see its setup.json):"
            " give another output_dir, or the same settings (learners and seeds may change)"
        )
    train_path, eval_path = out / "problems" / "train.jsonl", out / "problems" / "eval.jsonl"
    if not eval_path.exists():
        train_problems, held_out = read_problems(config.problems)
        write_problems(train_path, train_problems)
        write_problems(eval_path, held_out)
    setup_path.write_text(json.dumps(setup, indent=2))
    return train_path, list(load_problems(eval_path).values())


def shared_settings(config: CompareConfig) -> dict:
    """What every arm shares; changing it would compare runs of different experiments."""
    varying = {"learners", "seeds", "generation", "verify_workers", "verify_timeout", "output_dir"}
    exclude: dict = dict.fromkeys(varying, True)
    if not config.sampling.stop:  # folders made before stop strings existed still resume
        exclude["sampling"] = {"stop"}
    return config.model_dump(mode="json", exclude=exclude)


def export_final(settings: TrainConfig, model_dir: Path) -> None:
    """The trained weights as a Hugging Face directory (a LoRA adapter merged in), so that any
    sampler, vLLM included, can load it; `complete` is written last."""
    policy = CausalLMPolicy.from_pretrained(settings.model, settings.lora_rank, settings.gguf_file)
    state = torch.load(Path(settings.output_dir) / CHECKPOINT, weights_only=False)
    policy.model.load_state_dict(state["model"])
    model = policy.model.merge_and_unload() if policy.lora else policy.model
    model.save_pretrained(model_dir)
    policy.tokenizer.save_pretrained(model_dir)
    (model_dir / COMPLETE).write_text(f"step {state['step']}\n")


def _evaluate(
    config: CompareConfig,
    label: str,
    model: str,
    problems: list[Problem],
    oracle: Oracle,
    targets: dict[str, list[str]] | None,
    out: Path,
    echo: Callable[[str], None],
) -> dict[str, ProblemEval]:
    path = out / "eval" / f"{label}.jsonl"
    done = read_evals(path)
    if len(done) >= len(problems) and all(p.name in done for p in problems):
        return done
    echo(f"evaluating {label}: {len(problems) - len(done)} problems x {config.eval.samples}")
    gguf = config.gguf_file if label == BASE else None
    scorer = CausalLMPolicy.from_pretrained(model, gguf_file=gguf)
    sampler = _sampler(config, model, scorer)
    return evaluate(
        label,
        problems,
        config.prompt,
        sampler,
        scorer,
        oracle,
        config.eval,
        targets=targets,
        path=path,
        stop=config.sampling.stop,
    )


def _sampler(config: CompareConfig, model: str, scorer: CausalLMPolicy) -> Sampler:
    stop = config.sampling.stop
    if resolve_generation(config.generation) == "vllm":
        return VLLMSampler(Path(model), config.eval_max_new_tokens, config.eval, stop)
    return TransformersSampler(scorer, config.eval_max_new_tokens, config.eval, stop)
