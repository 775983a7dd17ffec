"""Fixtures for the whole suite: the shipped benchmark data, and which real provers are here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


DATA = REPO / "data"


@pytest.fixture(scope="session")
def benchmark_data() -> Path:
    """The benchmark data shipped in the repository (see data/README.md)."""
    return DATA


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    no_coq = pytest.mark.skip(reason="Coq is not installed (apt-get install coq)")
    for item in items:
        if "coq" in item.keywords and shutil.which("coqtop") is None:
            item.add_marker(no_coq)
