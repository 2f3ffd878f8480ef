"""Hybrid (Hamiltonian) Monte Carlo moves: a short velocity-Verlet trajectory of all particles
from fresh Maxwell velocities, accepted with the Metropolis rule on the change of
H = U + K (potential plus kinetic energy), so the chain samples exp(-U / T) exactly.

Units: lengths nm, energies kT, masses in the unit m of the time unit nm (m/kT)^(1/2); unit
masses by default. A replica at temperature T draws velocities v ~ N(0, T / m) per component.

The proposal is exact because velocity Verlet is volume preserving and reversible (negated
velocities retrace the path), and everything random is drawn from the replica's own stream
independently of the trajectory (velocities, a time-step jitter, the acceptance uniform). A
trajectory that meets a non-finite energy or force (a hard core) stops and is rejected: the
set of rejected paths is the same run backwards, so detailed balance still holds.

Time step and number of steps are per temperature index. With ``time_step="auto"`` the step
is tuned during equilibration toward ``target_acceptance`` (from the Metropolis probability
min(1, exp(-dH / T)) of every trajectory, with a gain falling as 1 / sqrt(1 + sweep / 10));
with ``steps="auto"`` the number of steps is ``round(trajectory_time / time_step)`` (at most
``max_steps``); both are frozen after equilibration, so production is a fixed Markov kernel.
"""

from __future__ import annotations

import math
import numbers
import time

import numpy as np

from ..geometry import wrap
from .errors import MonteCarloInputError
from .forces import energies_forces_batch

DEFAULTS = {
    "time_step": "auto",
    "steps": "auto",
    "trajectory_time": "auto",
    "target_acceptance": 0.7,
    "jitter": 0.1,
    "trajectories_per_sweep": 1,
    "max_steps": 100,
    "wrap": True,
    "masses": 1.0,
}
TUNING_GAIN = 1.0
PROBABILITY_SCALE = 2**40  # fixed-point scale of Metropolis probabilities in int64 counters


def _number(value, name: str, *, positive=True, whole=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise MonteCarloInputError(f"hybrid {name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0):
        raise MonteCarloInputError(f"hybrid {name} must be a finite number > 0, got {value!r}")
    if whole:
        if not value.is_integer():
            raise MonteCarloInputError(f"hybrid {name} must be a whole number, got {value!r}")
        return int(value)
    return value


def check_hybrid(hybrid, n: int, k: int):
    """(settings, masses): the hybrid settings as JSON values and the (N,) masses.

    hybrid: None (defaults) or a mapping with keys of DEFAULTS. time_step: "auto" or a
    number > 0 or K numbers (nm (m/kT)^(1/2)); steps: "auto" or an integer >= 1;
    trajectory_time: "auto" (half the median nearest-neighbour distance over the thermal
    speed) or a number > 0; target_acceptance in (0, 1); jitter in [0, 1); masses: a number
    > 0 or N numbers > 0. Raises MonteCarloInputError naming the key and value.
    """
    if hybrid is None:
        hybrid = {}
    if not isinstance(hybrid, dict):
        raise MonteCarloInputError(f"hybrid settings must be a mapping, got {hybrid!r}")
    unknown = sorted(set(hybrid) - set(DEFAULTS))
    if unknown:
        raise MonteCarloInputError(
            f"unknown hybrid setting {unknown[0]!r}; expected some of {sorted(DEFAULTS)}"
        )
    settings = dict(DEFAULTS, **hybrid)
    step = settings["time_step"]
    if isinstance(step, str):
        if step != "auto":
            raise MonteCarloInputError(f"hybrid time_step must be 'auto' or > 0, got {step!r}")
    elif isinstance(step, (list, tuple, np.ndarray)):
        steps = [_number(s, "time_step") for s in np.asarray(step, dtype=object).ravel()]
        if len(steps) != k:
            raise MonteCarloInputError(
                f"hybrid time_step must be one number or {k} (one per temperature), got "
                f"{len(steps)}"
            )
        settings["time_step"] = steps
    else:
        settings["time_step"] = _number(step, "time_step")
    if settings["steps"] != "auto":
        settings["steps"] = _number(settings["steps"], "steps", whole=True)
    if settings["trajectory_time"] != "auto":
        settings["trajectory_time"] = _number(settings["trajectory_time"], "trajectory_time")
    target = settings["target_acceptance"]
    target = _number(target, "target_acceptance")
    if not target < 1.0:
        raise MonteCarloInputError(
            f"hybrid target_acceptance must lie strictly between 0 and 1, got {target!r}"
        )
    settings["target_acceptance"] = target
    jitter = _number(settings["jitter"], "jitter", positive=False)
    if not 0.0 <= jitter < 1.0:
        raise MonteCarloInputError(f"hybrid jitter must lie in [0, 1), got {jitter!r}")
    settings["jitter"] = jitter
    for key in ("trajectories_per_sweep", "max_steps"):
        settings[key] = _number(settings[key], key, whole=True)
    if not isinstance(settings["wrap"], (bool, np.bool_)):
        raise MonteCarloInputError(f"hybrid wrap must be true or false, got {settings['wrap']!r}")
    settings["wrap"] = bool(settings["wrap"])
    masses = settings["masses"]
    if isinstance(masses, (list, tuple, np.ndarray)):
        values = np.asarray(masses, dtype=object).ravel()
        if len(values) != n:
            raise MonteCarloInputError(
                f"hybrid masses must be one number or {n} (one per particle), got {len(values)}"
            )
        masses_array = np.array([_number(m, "masses") for m in values], dtype=np.float64)
        settings["masses"] = masses_array.tolist()
    else:
        settings["masses"] = _number(masses, "masses")
        masses_array = np.full(n, settings["masses"])
    return settings, masses_array


def initial_hybrid_steps(settings: dict, spacing: float, masses: np.ndarray, temperatures):
    """(time steps (K,), steps (K,) int, trajectory times (K,)) at the start of a run."""
    temperatures = np.asarray(temperatures, dtype=np.float64)
    thermal_time = spacing * np.sqrt(float(np.mean(masses)) / temperatures)
    k = len(temperatures)
    if settings["trajectory_time"] == "auto":
        times = 0.5 * thermal_time
    else:
        times = np.full(k, float(settings["trajectory_time"]))
    step = settings["time_step"]
    if step == "auto":
        dts = 0.05 * thermal_time
    else:
        dts = np.broadcast_to(np.asarray(step, dtype=np.float64), (k,)).copy()
    steps = steps_for(settings, dts, times)
    return dts, steps, times


def steps_for(settings: dict, time_steps: np.ndarray, times: np.ndarray) -> np.ndarray:
    """(K,) velocity-Verlet steps per trajectory: the setting, or trajectory time / step."""
    if settings["steps"] != "auto":
        return np.full(len(time_steps), int(settings["steps"]), np.int64)
    steps = np.rint(times / time_steps)
    return np.clip(steps, 1, settings["max_steps"]).astype(np.int64)


def kinetic_energy(velocities: np.ndarray, masses: np.ndarray) -> float:
    """0.5 sum m v^2 (kT) of velocities (N, 3) nm per time unit and masses (N,)."""
    return 0.5 * float(np.einsum("i,ij,ij->", masses, velocities, velocities))


def velocity_verlet(evaluate, positions, velocities, masses, time_steps, steps):
    """Velocity-Verlet trajectories of several systems, every force step one batched call.

    evaluate: list of positions (N_s, 3) -> list of (energies (N_s,), forces (N_s, 3)).
    positions, velocities: lists of (N_s, 3) float64 (not modified); masses: list of (N_s,);
    time_steps: (S,) floats; steps: (S,) ints >= 0. Returns a list with, per system, None if
    a non-finite energy or force was met, else a dict with the final "positions",
    "velocities", per-particle "energies", "forces", and "start_energy" (total U at the start,
    kT). Zero steps return the start.
    """
    count = len(positions)
    x = [np.array(p, dtype=np.float64) for p in positions]
    v = [np.array(u, dtype=np.float64) for u in velocities]
    inverse_masses = [1.0 / np.asarray(m, dtype=np.float64)[:, None] for m in masses]
    start = evaluate(x)
    energies, forces = [None] * count, [None] * count
    alive = np.zeros(count, bool)
    start_energy = np.full(count, np.nan)
    for i, (e, f) in enumerate(start):
        if _finite(e, f):
            alive[i] = True
            energies[i], forces[i] = e, f
            start_energy[i] = float(np.sum(e))
    most = int(max(steps)) if count else 0
    for step in range(most):
        moving = [i for i in range(count) if alive[i] and step < steps[i]]
        if not moving:
            break
        for i in moving:
            dt = time_steps[i]
            v[i] += (0.5 * dt) * forces[i] * inverse_masses[i]
            x[i] += dt * v[i]
            if not np.isfinite(x[i]).all():
                alive[i] = False  # blown up (overflow): rejected without evaluating
        moving = [i for i in moving if alive[i]]
        for i, (e, f) in zip(moving, evaluate([x[i] for i in moving]) if moving else ()):
            if not _finite(e, f):
                alive[i] = False
                continue
            energies[i], forces[i] = e, f
            v[i] += (0.5 * time_steps[i]) * f * inverse_masses[i]
    return [
        {
            "positions": x[i],
            "velocities": v[i],
            "energies": energies[i],
            "forces": forces[i],
            "start_energy": start_energy[i],
        }
        if alive[i]
        else None
        for i in range(count)
    ]


def _finite(energies, forces) -> bool:
    return bool(np.isfinite(energies).all() and np.isfinite(forces).all())


class HybridSweep:
    """The hybrid-move sweep of the engine (state set up by :mod:`pgnfast.mc.engine`)."""

    def _hybrid_evaluate(self, positions_list):
        settings = self.hybrid_settings
        systems = [
            (wrap(p, self.cell)[0] if settings["wrap"] else p, self.cell, self.types, True)
            for p in positions_list
        ]
        return energies_forces_batch(self.potential, systems, self.evaluator.max_batch_particles)

    def _hybrid_sweep(self, attempted, accepted) -> np.ndarray:
        """One sweep of hybrid moves: ``trajectories_per_sweep`` trajectories per held
        replica, all replicas' force evaluations batched. Fills attempted/accepted (K,)
        counters; returns the (K,) summed Metropolis probabilities in fixed point (int64)."""
        settings = self.hybrid_settings
        k = len(self.temperatures_initial)
        probability_sum = np.zeros(k, np.int64)
        temperatures = self.exchange.temperatures
        masses = self.hybrid_masses
        energy_time = 0.0
        for _ in range(settings["trajectories_per_sweep"]):
            starts, velocities, time_steps, steps, uniforms, labels = [], [], [], [], [], []
            for r, state in zip(self.owned, self.replicas):
                rng = self.replica_rngs[r]
                t = int(self.exchange.temperature_of[r])
                normal = rng.standard_normal(state.positions.shape)
                jitter = 1.0 + settings["jitter"] * (2.0 * rng.random() - 1.0)
                uniforms.append(rng.random())
                velocities.append(normal * np.sqrt(temperatures[t] / masses)[:, None])
                starts.append(state.positions)
                time_steps.append(self.hybrid_time_steps[t] * jitter)
                steps.append(int(self.hybrid_steps[t]))
                labels.append(t)
                attempted[t] += 1
            begin = time.perf_counter()
            ends = velocity_verlet(
                self._hybrid_evaluate, starts, velocities, [masses] * len(starts),
                time_steps, steps,
            )  # fmt: skip
            energy_time += time.perf_counter() - begin
            self.timings["force_calls"] = (
                self.timings.get("force_calls", 0) + sum(steps) + len(steps)
            )
            for state, v0, t, uniform, end in zip(
                self.replicas, velocities, labels, uniforms, ends
            ):
                if end is None:
                    continue  # a non-finite energy or force on the way: rejected
                change = (
                    float(np.sum(end["energies"]))
                    + kinetic_energy(end["velocities"], masses)
                    - end["start_energy"]
                    - kinetic_energy(v0, masses)
                )
                exponent = -change / temperatures[t]
                if not math.isfinite(change):
                    continue
                probability = 1.0 if exponent >= 0 else math.exp(exponent)
                probability_sum[t] += int(round(probability * PROBABILITY_SCALE))
                if exponent >= 0 or uniform < probability:
                    state.positions[:] = end["positions"]
                    state.energies[:] = end["energies"]
                    accepted[t] += 1
        self.timings["energy_s"] += energy_time
        return probability_sum

    def _tune_hybrid(self, attempted: np.ndarray, probability_sum: np.ndarray) -> None:
        """Move the time steps toward the target acceptance (equilibration only) and derive
        the number of steps from them."""
        settings = self.hybrid_settings
        if settings["time_step"] == "auto":
            tried = attempted > 0
            mean = np.where(
                tried, probability_sum / PROBABILITY_SCALE / np.maximum(attempted, 1), 0.0
            )
            # a gain decaying with the sweeps, so the frozen step does not sit wherever the
            # last noisy updates left it
            gain = TUNING_GAIN / math.sqrt(1.0 + self.sweeps_done / 10.0)
            factor = np.exp(gain * (mean - settings["target_acceptance"]))
            self.hybrid_time_steps = np.where(
                tried, self.hybrid_time_steps * factor, self.hybrid_time_steps
            )
            self.hybrid_time_steps = np.clip(
                self.hybrid_time_steps, 1e-9 * self.hybrid_trajectory_times, None
            )
        self.hybrid_steps = steps_for(
            settings, self.hybrid_time_steps, self.hybrid_trajectory_times
        )
