"""The naive engine: recompute the whole energy for every trial move (benchmark baseline)."""

from __future__ import annotations

import math

import numpy as np


class NaiveMonteCarlo:
    """Single-temperature Metropolis with a full ``potential.energy`` call per trial move.

    positions (N, 3) nm, cell (3, 3) nm, temperature in kT units, step_size nm.
    """

    def __init__(
        self,
        potential,
        positions,
        cell,
        temperature: float = 1.0,
        *,
        types=None,
        step_size: float = 0.1,
        seed: int = 0,
    ):
        self.potential = potential
        self.positions = np.array(positions, dtype=np.float64)
        self.cell = np.asarray(cell, dtype=np.float64)
        self.types = types
        self.beta = 1.0 / float(temperature)
        self.step_size = float(step_size)
        self.rng = np.random.default_rng(seed)
        self.energy = float(potential.energy(self.positions, self.cell, types, True))
        self.attempted = 0
        self.accepted = 0

    def run(self, n_moves: int) -> float:
        """Do n_moves trial moves; return the acceptance rate."""
        for _ in range(int(n_moves)):
            particle = int(self.rng.integers(len(self.positions)))
            old = self.positions[particle].copy()
            self.positions[particle] = old + self.rng.uniform(-self.step_size, self.step_size, 3)
            energy = float(self.potential.energy(self.positions, self.cell, self.types, True))
            delta = energy - self.energy
            self.attempted += 1
            if delta <= 0 or self.rng.random() < math.exp(-self.beta * delta):
                self.energy = energy
                self.accepted += 1
            else:
                self.positions[particle] = old
        return self.accepted / max(self.attempted, 1)
