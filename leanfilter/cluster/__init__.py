"""Scale-out on Ray: the engine's prover pools run on Ray actors, one per node by default.

`verifier.RayVerifier` is the `Verifier` itself (cache, in-flight sharing, policy, database,
input order), with each backend's prover pool replaced by a `RemotePool` that hands every check
to the least busy `ProverActor`. So the driver stays the single reader and writer of the cache
and the proof database, and computes every key and judges every answer with the very code a
local run uses: verdicts and keys are a local run's by construction. Needs the `ray` extra.
Call `connect.connect` before importing `verifier`: a local cluster is kept on loopback by
settings Ray reads when it is first imported.
"""
