"""One module per proof assistant, all behind the protocol in `base`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leanfilter.backends.base import Backend
from leanfilter.records import BackendName

if TYPE_CHECKING:
    from leanfilter.backends.coq import CoqSettings
    from leanfilter.backends.lean_common import LeanSettings


def create_backend(
    name: BackendName, *, lean: LeanSettings | None = None, coq: CoqSettings | None = None
) -> Backend:
    """A backend for `name`. Imported on demand: a run pays only for the provers it uses."""
    if name is BackendName.COQ:
        from leanfilter.backends.coq import CoqBackend

        return CoqBackend(coq)
    from leanfilter.backends.lean_common import LeanSettings
    from leanfilter.backends.lean_file import LeanFileBackend
    from leanfilter.backends.lean_repl import LeanReplBackend

    settings = lean or LeanSettings()
    return LeanFileBackend(settings) if settings.mode == "file" else LeanReplBackend(settings)
