"""Soundness policies: what it takes for a verdict to say `proved`."""

from __future__ import annotations

from leanfilter.policy.base import Decision, Policy
from leanfilter.policy.basic import BasicPolicy
from leanfilter.policy.config import PolicyConfig, load_policy_config
from leanfilter.policy.strict import StrictPolicy


def default_policy() -> Policy:
    """The strict policy with its default configuration: strict unless told otherwise."""
    return StrictPolicy()


__all__ = [
    "BasicPolicy",
    "Decision",
    "Policy",
    "PolicyConfig",
    "StrictPolicy",
    "default_policy",
    "load_policy_config",
]
