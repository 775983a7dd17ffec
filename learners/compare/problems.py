"""The comparison's train and eval problems, read from their sources and written out once.

The training loop reads one JSONL file, so the train split is written to the comparison's folder
(headers final); the eval split is kept the same way, and both are what a resumed run reads, so
a source that changes later cannot change a comparison half-way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from leanfilter.inputs import load_problems, problem_from_record
from leanfilter.records import Problem
from learners.compare.config import Problems, ProblemSource


def read_source(source: ProblemSource) -> list[Problem]:
    """The problems of one source, filtered by split, names and limit, in their order."""
    if source.path is not None:
        found = list(load_problems(source.path).values())
    else:
        found = _dataset_problems(source)
    if source.split is not None:
        found = [p for p in found if p.split == source.split]
    if source.names is not None:
        by_name = {p.name: p for p in found}
        missing = [name for name in source.names if name not in by_name]
        if missing:
            origin = source.path or source.dataset
            raise ValueError(f"names: not in {origin}: {', '.join(missing)}")
        found = [by_name[name] for name in source.names]
    return found[: source.limit]


def _dataset_problems(source: ProblemSource) -> list[Problem]:
    from datasets import load_dataset

    rows = load_dataset(str(source.dataset), split=source.dataset_split)
    problems = []
    for row in rows:
        record = {field: row[column] for field, column in source.fields.items()}
        record = {**{k: v for k, v in row.items() if k not in source.fields.values()}, **record}
        if source.header is not None:
            record.setdefault("header", source.header)
        problem = problem_from_record(record)
        if source.drop_suffix:
            statement = problem.statement.rstrip().removesuffix(source.drop_suffix)
            problem = problem.model_copy(update={"statement": statement.rstrip() + "\n"})
        problems.append(problem)
    return problems


def read_split(sources: Sequence[ProblemSource], header_suffix: str) -> list[Problem]:
    problems = [p for source in sources for p in read_source(source)]
    names = [p.name for p in problems]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"a problem name occurs twice: {', '.join(repeated[:5])}")
    return [p.model_copy(update={"header": p.header + header_suffix}) for p in problems]


def read_problems(problems: Problems) -> tuple[list[Problem], list[Problem]]:
    """(train, eval); a problem in both would measure memory, not learning, and is refused."""
    train = read_split(problems.train, problems.header_suffix)
    held_out = read_split(problems.eval, problems.header_suffix)
    shared = sorted({p.name for p in train} & {p.name for p in held_out})
    if shared:
        raise ValueError(f"problems in both train and eval: {', '.join(shared[:5])}")
    return train, held_out


def write_problems(path: Path, problems: Sequence[Problem]) -> None:
    """JSONL that `leanfilter.inputs.load_problems` reads back as the same problems."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with open(partial, "w") as out:
        for p in problems:
            out.write(json.dumps(p.model_dump(mode="json", exclude_none=True)) + "\n")
    partial.replace(path)
