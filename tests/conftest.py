"""Shared fixtures: where the benchmark data lives, and which real provers this machine has."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def data_dir() -> Path | None:
    path = Path(os.environ.get("LEANFILTER_DATA", REPO.parent / "shared" / "data"))
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = data_dir()
    if path is None:
        pytest.skip("benchmark data not found: set LEANFILTER_DATA or place it at ../shared/data")
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    no_coq = pytest.mark.skip(reason="Coq is not installed (apt-get install coq)")
    for item in items:
        if "coq" in item.keywords and shutil.which("coqtop") is None:
            item.add_marker(no_coq)
