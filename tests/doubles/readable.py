"""Copies of test doubles that the jail's unprivileged uid can read.

When run as root, the jail drops to a uid of its own, which cannot read a checkout inside a
private folder (a `mktemp -d` folder, a home folder); the copy lives in a world-readable one.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path


def jail_readable(double: Path) -> Path:
    """A world-readable copy of `double`, removed when the test process exits."""
    folder = Path(tempfile.mkdtemp(prefix="leanfilter-doubles-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    folder.chmod(0o755)
    copy = folder / double.name
    shutil.copyfile(double, copy)
    copy.chmod(0o644)
    return copy
