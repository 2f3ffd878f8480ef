"""Shared helpers for the Monte Carlo tests: a many-body test potential and start configs."""

from __future__ import annotations

import numpy as np
import pytest

from pgnfast.potentials.base import PotentialBase
from pgnfast.potentials.pair import half_pairs


class TwoHopDensity(PotentialBase):
    """A two-hop many-body potential that mimics two rounds of message passing.

    E_i = sum_j w(r_ij) (1 + rho_j) with rho_j = sum_l w(r_jl), w(r) = (1 - r/c)^2 for r < c,
    so E_i depends on particles within 2c of i: receptive_field = 2 c (nm, kT).
    """

    def __init__(self, cutoff: float = 0.6):
        self.cutoff = cutoff
        self.receptive_field = 2.0 * cutoff

    def energies(self, positions, cell, types=None, pbc=True):
        positions = np.asarray(positions, dtype=np.float64)
        n = len(positions)
        i, j, _, r = half_pairs(positions, cell, self.cutoff, pbc)
        w = (1.0 - r / self.cutoff) ** 2
        rho = np.bincount(i, w, n) + np.bincount(j, w, n)
        return np.bincount(i, w * (1.0 + rho[j]), n) + np.bincount(j, w * (1.0 + rho[i]), n)


@pytest.fixture
def two_hop():
    return TwoHopDensity(0.4)


def jittered_lattice(per_axis: int, box: float, jitter: float, seed: int) -> np.ndarray:
    """Simple-cubic lattice of per_axis^3 points in a cubic box (nm) with Gaussian jitter."""
    grid = (np.arange(per_axis) + 0.5) * box / per_axis
    points = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), -1).reshape(-1, 3)
    return points + np.random.default_rng(seed).normal(0.0, jitter, points.shape)


@pytest.fixture
def lattice():
    return jittered_lattice
