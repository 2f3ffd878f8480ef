"""The suite's root random seed. Every test draws its own stream from it (through the `rng`
and `test_seed` fixtures), so a failure is replayed with the seed printed in its report:

    python -m pytest --seed 1234 tests/...      or      PGNFAST_TEST_SEED=1234 python -m pytest

Without either, a fresh root seed is drawn for each run (fresh inputs every run).
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

_ROOT_SEED_ENV = "PGNFAST_TEST_SEED"


def pytest_addoption(parser):
    parser.addoption(
        "--seed",
        type=int,
        default=None,
        help=f"root random seed of the suite (default: ${_ROOT_SEED_ENV}, else fresh)",
    )


def pytest_configure(config):
    seed = config.getoption("--seed")
    if seed is None and os.environ.get(_ROOT_SEED_ENV):
        seed = int(os.environ[_ROOT_SEED_ENV])
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**32)
    config.pgnfast_root_seed = seed


def pytest_report_header(config):
    seed = config.pgnfast_root_seed
    return f"pgnfast root seed: {seed} (replay with --seed {seed} or {_ROOT_SEED_ENV}={seed})"


def derived_seed(root: int, node_id: str) -> int:
    """A 63-bit seed for one test from the root seed and the test's id (stable across runs
    and machines, unlike hash())."""
    digest = hashlib.sha256(f"{root}:{node_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


@pytest.fixture
def test_seed(request) -> int:
    """This test's own seed, derived from the root seed."""
    return derived_seed(request.config.pgnfast_root_seed, request.node.nodeid)


@pytest.fixture
def rng(test_seed) -> np.random.Generator:
    """A numpy generator seeded from this test's seed."""
    return np.random.default_rng(test_seed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        seed = item.config.pgnfast_root_seed
        report.sections.append(
            ("pgnfast seed", f"root seed {seed}: replay with --seed {seed} {item.nodeid}")
        )


@pytest.fixture
def torch_load_calls(monkeypatch) -> list:
    """The `weights_only` argument of every torch.load call made during the test."""
    import torch

    seen = []
    original = torch.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("weights_only"))
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    return seen


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    seed = config.pgnfast_root_seed
    terminalreporter.write_line(f"pgnfast root seed: {seed} (replay with --seed {seed})")
