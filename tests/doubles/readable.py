"""Copies of test doubles (and the data they read) that the jail's unprivileged uid can read.

When run as root, the jail drops to a uid of its own, which cannot read a checkout inside a
private folder (a `mktemp -d` folder, a home folder); the copy lives in a world-readable one.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path


def jail_readable(original: Path) -> Path:
    """A world-readable copy of the file or folder `original`, removed when the process exits."""
    folder = Path(tempfile.mkdtemp(prefix="leanfilter-doubles-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    copy = folder / original.name
    if original.is_dir():
        shutil.copytree(original, copy, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copyfile(original, copy)
    for path in (folder, *folder.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return copy
