"""leanfilter/ stays free of torch and of learners/: the arrow points one way."""

from __future__ import annotations

import ast
from pathlib import Path

LEANFILTER = Path(__file__).parents[2] / "leanfilter"
FORBIDDEN = {"learners", "torch", "transformers", "peft", "accelerate", "trl"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_leanfilter_never_imports_learners_or_torch():
    offenders = {
        str(path.relative_to(LEANFILTER)): imported_roots(path) & FORBIDDEN
        for path in LEANFILTER.rglob("*.py")
    }
    assert len(offenders) > 10
    assert {name: bad for name, bad in offenders.items() if bad} == {}
