"""`leanfilter serve`: the verifier over HTTP, in our own schema and in Kimina Lean Server's.

`app` needs the `serve` extra (FastAPI, uvicorn, prometheus-client); `timeouts` does not, so a
Ray worker can hold a `TimedVerifier` without the web stack.
"""
