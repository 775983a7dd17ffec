"""Soundness policies: what it takes for a verdict to say `proved`."""

from __future__ import annotations

from leanfilter.policy.base import Decision, Policy
from leanfilter.policy.basic import BasicPolicy


def default_policy() -> Policy:
    return BasicPolicy()


__all__ = ["BasicPolicy", "Decision", "Policy", "default_policy"]
