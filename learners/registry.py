"""Learners by name, from the entry-point group `leanfilter.learners`.

This package registers its own learners there too (pyproject.toml), so a third-party package adds
one by declaring `[project.entry-points."leanfilter.learners"] name = "pkg.module:Class"`.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from learners.base import AdvantageLearner

GROUP = "leanfilter.learners"


def available() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def learner_class(name: str) -> type[AdvantageLearner]:
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        raise KeyError(f"no learner {name!r}; installed: {', '.join(available()) or 'none'}")
    return found[0].load()


def make_learner(name: str, options: dict[str, Any] | None = None) -> AdvantageLearner:
    """The learner `name` with its config validated from `options` (errors name the field)."""
    cls = learner_class(name)
    return cls(cls.Config.model_validate(options or {}))
