"""A third-party learner arrives through the entry-point group, without touching this repository.

The plugin package is built and installed with pip into a directory put on sys.path, then found by
name and trained for one step.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from learners.registry import available, make_learner
from tests.learners.toy import SoftmaxPolicy, toy_batch

PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "shifted-rloo"
version = "0.1"

[project.entry-points."leanfilter.learners"]
shifted_rloo = "shifted_rloo:ShiftedRLOO"
"""

MODULE = '''
from pydantic import Field
from learners.base import AdvantageLearner, LearnerConfig, leave_one_out


class ShiftedConfig(LearnerConfig):
    bonus: float = Field(default=0.5)


class ShiftedRLOO(AdvantageLearner):
    """RLOO on v plus a bonus for accepted samples."""

    name = "shifted_rloo"
    Config = ShiftedConfig

    def advantages(self, batch):
        return leave_one_out(batch.v * (1 + self.config.bonus))
'''


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    source = tmp_path / "src"
    source.mkdir()
    (source / "pyproject.toml").write_text(PYPROJECT)
    (source / "shifted_rloo.py").write_text(textwrap.dedent(MODULE))
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--target",
            str(site),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    monkeypatch.syspath_prepend(str(site))
    yield
    sys.modules.pop("shifted_rloo", None)


@pytest.mark.slow
def test_an_installed_plugin_learner_trains_one_step(installed_plugin):
    assert "shifted_rloo" in available()
    learner = make_learner("shifted_rloo", {"bonus": 1.0})
    assert learner.config.bonus == 1.0
    policy = SoftmaxPolicy([0.0, 0.0, 0.0])
    base = torch.zeros(3, dtype=torch.float64)
    v = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    optimizer = torch.optim.SGD(policy.parameters(), lr=0.5)
    before = policy.log_probs()[0].item()
    loss = learner.loss(toy_batch(policy, [[0, 1, 2]], base, v, 0.0), policy)
    loss.backward()
    optimizer.step()
    assert policy.log_probs()[0].item() > before  # the accepted sample became more likely


def test_a_plugin_option_that_is_wrong_is_named(installed_plugin):
    with pytest.raises(Exception, match="bonus"):
        make_learner("shifted_rloo", {"bonus": "lots"})


def test_an_unknown_learner_lists_the_installed_ones():
    with pytest.raises(KeyError, match="alpha_dpg"):
        make_learner("no_such_learner")
