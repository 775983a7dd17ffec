"""`leanfilter serve`: the verifier over HTTP, in our own schema and in Kimina Lean Server's."""

from leanfilter.serve.app import ServeLimits, create_app

__all__ = ["ServeLimits", "create_app"]
