"""leanfilter's verifier as a reward function for TRL's GRPOTrainer.

    reward = VerifierReward(problems, database="proofs.db")
    trainer = GRPOTrainer(model, reward_funcs=reward, train_dataset=prompt_dataset(problems))

The reward is v(x, y): 1.0 for a proof the verifier accepts, 0.0 for any other answer, and None
where the engine gave no answer (TRL turns None into NaN and warns). Verdicts go through the
oracle, so they are cached and, with a database, recorded in one run with the sampler's metadata
(model, temperature, the trainer's step). TRL passes every dataset column to the reward function;
the `problem` column names the statement each prompt asks for, so what is checked is always the
problem's own trusted statement, never text taken from the prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leanfilter.db import ProofDB
from leanfilter.engine import Verifier, VerifierConfig
from leanfilter.oracle import Oracle
from leanfilter.records import Problem, SamplerInfo, Status
from learners.config import TrainConfig

if TYPE_CHECKING:
    from datasets import Dataset

PROMPT: str = TrainConfig.model_fields["prompt"].default


class VerifierReward:
    """A TRL reward function `f(prompts, completions, **columns) -> list[float | None]`."""

    __name__ = "leanfilter_verifier"  # TRL names a reward function's metrics by it

    def __init__(
        self,
        problems: Iterable[Problem],
        *,
        database: str | Path | None = None,
        verifier: VerifierConfig | None = None,
        model: str | None = None,
        temperature: float | None = None,
        column: str = "problem",
    ) -> None:
        """`model` and `temperature` are recorded with each sample; TRL does not pass them."""
        self.problems = {p.name: p for p in problems}
        self.model, self.temperature, self.column = model, temperature, column
        self.database = ProofDB(database) if database is not None else None
        self.run_id = None
        if self.database is not None:
            self.database.add_problems(self.problems.values())
            settings = (verifier or VerifierConfig()).model_dump(mode="json")
            self.run_id = self.database.start_run("trl GRPOTrainer", settings).id
        self._verifier = Verifier(
            verifier, cache=self.database, recorder=self.database, run_id=self.run_id
        )
        self._oracle = Oracle(self._verifier)

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        trainer_state: Any = None,
        log_metric: Callable[[str, float], None] | None = None,
        log_extra: Callable[[str, list], None] | None = None,
        **columns: Any,
    ) -> list[float | None]:
        names = columns.get(self.column)
        if names is None:
            raise ValueError(
                f"the dataset needs a {self.column!r} column naming each prompt's problem"
                " (learners.trl.prompt_dataset builds one)"
            )
        unknown = sorted(set(names) - set(self.problems))
        if unknown:
            raise KeyError(f"problems not given to VerifierReward: {', '.join(unknown)}")
        step = getattr(trainer_state, "global_step", None)
        sampler = SamplerInfo(
            model=self.model, run_id=self.run_id, step=step, temperature=self.temperature
        )
        groups = [
            (self.problems[name], [completion_text(c)])
            for name, c in zip(names, completions, strict=True)
        ]
        results = self._oracle.score_batch(groups, [[sampler]] * len(groups))
        verdicts = [r.verdicts[0] for r in results]
        rewards = [None if v.status is Status.ERROR else float(v.accepted) for v in verdicts]
        if log_metric is not None:
            log_metric("leanfilter/unknown", float(sum(r is None for r in rewards)))
        if log_extra is not None:
            log_extra("verdict", [v.status.value for v in verdicts])
        return rewards

    def close(self, outcome: str = "completed") -> None:
        """Stop the provers; with a database, end the run with `outcome` and close the file."""
        self._verifier.close(cancel=outcome != "completed")
        if self.database is not None:
            self.database.end_run(self.run_id, outcome)
            self.database.close()

    def __enter__(self) -> VerifierReward:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self.close("completed" if kind is None else "failed")


def completion_text(completion: str | list[dict[str, str]]) -> str:
    """The proof text of a completion: the string, or a conversation's last message."""
    text = completion if isinstance(completion, str) else completion[-1]["content"]
    return text.strip()


def prompt_dataset(problems: Iterable[Problem], template: str = PROMPT) -> Dataset:
    """A `datasets.Dataset`: a `prompt` per problem and the `problem` column the reward reads."""
    from datasets import Dataset

    rows = [
        {"prompt": template.format(header=p.header, statement=p.statement), "problem": p.name}
        for p in problems
    ]
    return Dataset.from_list(rows)
