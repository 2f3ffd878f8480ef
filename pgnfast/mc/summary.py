"""What a parallel-tempering run measured (`MonteCarloSummary`) and the local quench of the
lowest configurations. Energies in kT, lengths in nm, temperatures in units of kT."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class MonteCarloSummary:
    """What a run measured. Energies in kT, lengths in nm, temperatures in units of kT.

    Per-temperature arrays have shape (K,); swap arrays (K-1,). Means and acceptance count
    the sweeps after equilibration (all sweeps if there were none after it).
    """

    temperatures: np.ndarray
    mean_energy: np.ndarray
    energy_std: np.ndarray
    acceptance: np.ndarray
    step_size: np.ndarray
    swap_acceptance: np.ndarray
    round_trips: int
    round_trips_per_replica: np.ndarray
    replica_at_temperature: np.ndarray
    lowest_energy: float
    lowest_positions: np.ndarray
    lowest_energy_sampled: float
    sweeps: int
    moves: int
    timings: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-friendly dict (arrays as lists)."""
        out = {}
        for key, value in asdict(self).items():
            out[key] = value.tolist() if isinstance(value, np.ndarray) else value
        return out


def quench(potential, positions, cell, types=None, max_iterations: int = 2000):
    """Local minimisation (L-BFGS-B with forces) of a periodic system.

    Returns (energy kT, positions (N, 3) nm); the input unchanged if the potential has no
    forces.
    """
    from scipy.optimize import minimize

    positions = np.asarray(positions, dtype=np.float64)
    shape = positions.shape

    def objective(flat):
        energy, forces = potential.energy_forces(flat.reshape(shape), cell, types, True)
        return float(energy), -np.asarray(forces, dtype=np.float64).ravel()

    try:
        start_energy, _ = objective(positions.ravel())
    except NotImplementedError:
        return float(potential.energy(positions, cell, types, True)), positions.copy()
    if not np.isfinite(start_energy):
        return start_energy, positions.copy()
    result = minimize(
        objective,
        positions.ravel(),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iterations, "gtol": 1e-8, "ftol": 1e-14},
    )
    if result.fun <= start_energy:
        return float(result.fun), result.x.reshape(shape)
    return start_energy, positions.copy()


class SummaryMixin:
    """`summary()` of :class:`pgnfast.mc.ParallelTempering` (statistics so far)."""

    def summary(self, quench_lowest="auto") -> MonteCarloSummary:
        """Statistics so far, with the lowest energy after an optional local quench."""
        if self.stat_samples.sum() > 0:
            samples = np.maximum(self.stat_samples, 1)
            mean = self.stat_energy_sum / samples
            variance = np.maximum(self.stat_energy_sq_sum / samples - mean**2, 0.0)
            attempted, accepted = self.stat_attempted, self.stat_accepted
        else:  # no production sweeps yet: report the current energies
            mean = self.energy_by_temperature()
            variance = np.zeros(len(self.temperatures_initial))
            attempted, accepted = self.total_attempted, self.total_accepted
        with np.errstate(invalid="ignore", divide="ignore"):
            acceptance = np.where(attempted > 0, accepted / np.maximum(attempted, 1), np.nan)
        lowest_positions = self._lowest_positions()
        lowest_energy, lowest_sampled_positions = self.lowest_energy_sampled, lowest_positions
        if quench_lowest == "auto":
            quench_lowest = self.num_particles <= 100
        if quench_lowest:
            candidates = [lowest_sampled_positions] + list(self._all_positions())
            for positions in candidates:
                energy, minimum = quench(self.potential, positions, self.cell, self.types)
                if energy < lowest_energy:
                    lowest_energy, lowest_positions = energy, minimum
        wall = self.timings["wall_s"]
        timings = dict(self.timings)
        timings["sweeps_per_s"] = self.timings["sweeps"] / wall if wall > 0 else float("nan")
        timings["moves_per_s"] = self.timings["moves"] / wall if wall > 0 else float("nan")
        timings["energy_fraction"] = self.timings["energy_s"] / wall if wall > 0 else float("nan")
        timings["mode"] = self.mode
        if self.mode == "hybrid":
            timings["hybrid_time_steps"] = self.hybrid_time_steps.tolist()
            timings["hybrid_steps"] = self.hybrid_steps.tolist()
        return MonteCarloSummary(
            temperatures=self.exchange.temperatures.copy(),
            mean_energy=mean,
            energy_std=np.sqrt(variance),
            acceptance=acceptance,
            step_size=self.step_sizes.copy(),
            swap_acceptance=self.exchange.acceptance(),
            round_trips=int(self.exchange.round_trips.sum()),
            round_trips_per_replica=self.exchange.round_trips.copy(),
            replica_at_temperature=self.exchange.replica_at.copy(),
            lowest_energy=float(lowest_energy),
            lowest_positions=np.array(lowest_positions),
            lowest_energy_sampled=float(self.lowest_energy_sampled),
            sweeps=self.sweeps_done,
            moves=int(self.total_attempted.sum()),
            timings=timings,
        )
