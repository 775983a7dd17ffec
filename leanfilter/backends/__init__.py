"""One module per proof assistant, all behind the protocol in `base`."""

from __future__ import annotations

from leanfilter.backends.base import Backend
from leanfilter.records import BackendName


def create_backend(name: BackendName) -> Backend:
    """A backend with default settings. Imported on demand: a run pays only for what it uses."""
    if name is BackendName.COQ:
        from leanfilter.backends.coq import CoqBackend

        return CoqBackend()
    from leanfilter.backends.lean_repl import LeanReplBackend

    return LeanReplBackend()
