"""Replica exchange with deterministic even/odd (DEO) alternation, and ladder tuning.

Temperatures are dimensionless multiples of the energy unit kT (beta = 1/T). Replicas keep
their configurations; exchanges swap temperature labels. Round 0 tries pairs (0,1), (2,3),
...; round 1 tries (1,2), (3,4), ...; and so on, which makes replicas travel the ladder
non-reversibly (Syed et al., JRSS-B 2022).
"""

from __future__ import annotations

import numpy as np


class ReplicaExchange:
    """Bookkeeping of the replica <-> temperature permutation, swap acceptance, round trips.

    temperatures: (K,) strictly increasing, in units of kT.
    """

    def __init__(self, temperatures):
        self.temperatures = np.asarray(temperatures, dtype=np.float64).copy()
        k = len(self.temperatures)
        self.replica_at = np.arange(k)  # replica at temperature index t
        self.temperature_of = np.arange(k)  # temperature index of replica r
        self.rounds = 0
        self.attempts = np.zeros(max(k - 1, 0), np.int64)
        self.accepts = np.zeros(max(k - 1, 0), np.int64)
        self.window_attempts = np.zeros(max(k - 1, 0), np.int64)  # since the last ladder update
        self.window_accepts = np.zeros(max(k - 1, 0), np.int64)
        # round trips coldest -> hottest -> coldest; direction 1 up, -1 down, 0 unknown
        self.direction = np.zeros(k, np.int64)
        self.direction[self.replica_at[0]] = 1
        if k > 1:
            self.direction[self.replica_at[-1]] = -1
        self.round_trips = np.zeros(k, np.int64)

    @property
    def betas(self) -> np.ndarray:
        return 1.0 / self.temperatures

    def step(self, replica_energies: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One DEO round. replica_energies (K,) kT by replica. Returns (K-1,) accepted flags."""
        k = len(self.temperatures)
        accepted = np.zeros(max(k - 1, 0), bool)
        uniforms = rng.random(max(k - 1, 0))  # one number per pair, always drawn
        betas = self.betas
        for t in range(self.rounds % 2, k - 1, 2):
            low, high = self.replica_at[t], self.replica_at[t + 1]
            log_ratio = (betas[t] - betas[t + 1]) * (replica_energies[low] - replica_energies[high])
            self.attempts[t] += 1
            self.window_attempts[t] += 1
            if log_ratio >= 0 or uniforms[t] < np.exp(log_ratio):
                accepted[t] = True
                self.accepts[t] += 1
                self.window_accepts[t] += 1
                self.replica_at[t], self.replica_at[t + 1] = high, low
                self.temperature_of[high], self.temperature_of[low] = t, t + 1
        self.rounds += 1
        if k > 1:
            coldest, hottest = self.replica_at[0], self.replica_at[-1]
            if self.direction[coldest] == -1:
                self.round_trips[coldest] += 1
            self.direction[coldest] = 1
            self.direction[hottest] = -1
        return accepted

    def acceptance(self) -> np.ndarray:
        """(K-1,) swap acceptance per neighbouring pair (nan where never tried)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.attempts > 0, self.accepts / np.maximum(self.attempts, 1), np.nan)

    def retune_ladder(self) -> bool:
        """Move the inner temperatures so every pair rejects equally often (ends fixed).

        Uses the swaps since the last call: the cumulative rejection Lambda(beta) is
        interpolated and inverted at equal steps (the non-reversible PT schedule update).
        Returns True if the ladder changed.
        """
        k = len(self.temperatures)
        if k < 3 or np.any(self.window_attempts == 0):
            return False
        rejection = 1.0 - self.window_accepts / self.window_attempts
        rejection = np.maximum(rejection, 1e-3)
        betas = self.betas
        cumulative = np.concatenate([[0.0], np.cumsum(rejection)])
        targets = np.linspace(0.0, cumulative[-1], k)
        # betas decrease along the ladder; interpolate beta as a function of Lambda
        new_betas = np.interp(targets, cumulative, betas)
        new_betas[0], new_betas[-1] = betas[0], betas[-1]
        self.temperatures = 1.0 / new_betas
        self.window_attempts[:] = 0
        self.window_accepts[:] = 0
        return True

    def state_dict(self) -> dict:
        return {
            name: np.asarray(getattr(self, name)).copy()
            for name in (
                "temperatures",
                "replica_at",
                "temperature_of",
                "attempts",
                "accepts",
                "window_attempts",
                "window_accepts",
                "direction",
                "round_trips",
            )
        } | {"rounds": int(self.rounds)}

    def load_state_dict(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, int(value) if name == "rounds" else np.array(value))
