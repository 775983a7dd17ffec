"""Learners that fit a policy π_θ to the verified target p_x(y) ∝ π_base(y|x)·v(x,y).

They ask `leanfilter.oracle` for verdicts and Ẑ, never a prover. Needs the `learn` extra (torch).
"""
