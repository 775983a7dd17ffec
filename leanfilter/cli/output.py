"""Where `verify` writes its verdict lines: whole lines only, and one clear error when it cannot.

The file is opened before any work, so a path that cannot be written is said at once. A write
that fails (a full disk, a file that stops accepting writes) cuts the file back to its last
whole line: what a reader finds there is always complete JSON lines.
"""

from __future__ import annotations

import contextlib
import os
import sys
from types import TracebackType
from typing import BinaryIO


class OutputError(OSError):
    """The verdict file cannot be written; the message is one line naming file and cause."""


class VerdictOutput:
    def __init__(self, path: str | None) -> None:
        """`path` None: standard output."""
        self.name = path or "<stdout>"
        self._regular = path is not None
        try:
            self._file: BinaryIO = open(path, "wb", buffering=0) if path else sys.stdout.buffer  # noqa: SIM115
        except OSError as e:
            raise OutputError(f"{path}: cannot write: {e.strerror or e}") from e
        self._whole = 0  # bytes of whole lines written

    def write_line(self, line: str) -> None:
        data = (line + "\n").encode()
        try:
            written = 0
            while written < len(data):
                written += self._file.write(data[written:]) or 0
            self._file.flush()
        except OSError as e:
            self._cut_back()
            raise OutputError(f"{self.name}: cannot write: {e.strerror or e}") from e
        self._whole += len(data)

    def _cut_back(self) -> None:
        """Drop a line written in part; truncating needs no free space."""
        if self._regular:
            with contextlib.suppress(OSError):
                os.ftruncate(self._file.fileno(), self._whole)

    def close(self) -> None:
        if self._regular:
            self._file.close()

    def __enter__(self) -> VerdictOutput:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
