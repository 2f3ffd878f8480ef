"""Fixtures of the DFT tests: a fresh random generator per test, its seed printed."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng(request):
    seed = abs(hash(request.node.nodeid)) % 2**32 ^ np.random.SeedSequence().entropy % 2**32
    print(f"seed {seed}")
    return np.random.default_rng(seed)
