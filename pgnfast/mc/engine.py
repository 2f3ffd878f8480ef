"""Parallel-tempering Monte Carlo with exact local energy differences.

Every replica does single-particle displacement moves (uniform in a cube of half-width
``step_size`` nm) accepted with Metropolis at its temperature; moves are evaluated on a small
cluster around the moved particle (:mod:`pgnfast.mc.local`), many at a time: one move per
replica per batch, or one move per active checkerboard cell per replica
(:mod:`pgnfast.mc.checkerboard`), all in one ``potential.energies_batch`` call. After every
``exchange_every`` sweeps, neighbouring temperatures try to swap replicas (DEO).

The engine is assembled from: input checks and set-up (:mod:`pgnfast.mc.inputs`), the sweep
loop (:mod:`pgnfast.mc.sweep`), state and checkpoints (:mod:`pgnfast.mc.state`) and the
summary (:mod:`pgnfast.mc.summary`).
"""

from __future__ import annotations

import math

import numpy as np

from .cells import IncrementalCellList
from .exchange import ReplicaExchange
from .hybrid import HybridSweep, check_hybrid, initial_hybrid_steps
from .inputs import (
    MonteCarloInputError,
    check_box,
    check_overlaps,
    check_particle_types,
    check_potential,
    check_settings,
    check_start,
    check_temperatures,
    choose_board,
    initial_energies,
    initial_steps,
    typical_spacing,
)
from .local import LocalEnergyChange, ReplicaState
from .state import ParallelTemperingState
from .summary import MonteCarloSummary, SummaryMixin, quench
from .sweep import SweepLoop
from .tuning import StepSizeTuner

__all__ = ["MonteCarloInputError", "MonteCarloSummary", "ParallelTempering", "quench"]


class ParallelTempering(SweepLoop, HybridSweep, ParallelTemperingState, SummaryMixin):
    """Parallel tempering of K replicas of N particles in a fixed periodic box.

    potential: follows :mod:`pgnfast.potentials.base` (energies_batch, receptive_field nm).
    positions: (N, 3) nm, shared start, or (K, N, 3), one start per replica.
    cell: (3, 3) nm, rows are box vectors. temperatures: (K,) strictly increasing, in kT units
    (the potential's energies are divided by them). types: (N,) ints or None (below the
    potential's number of types when it tells one).
    seed: root seed (an integer >= 0); each replica and the exchanges get their own stream.
    step_size: "auto" (start at 0.1 x median nearest-neighbour distance, tuned toward
    ``target_acceptance`` (in (0, 1)) during the first ``equilibration_sweeps`` sweeps, then
    frozen), a float (nm), or (K,) floats; explicit sizes are never tuned.
    moves_per_sweep: trial moves per replica per sweep (default N).
    checkerboard: "auto" (when the box holds more than one active cell), True (raise if the
    box is too small) or False (one move per replica per batch).
    tune_temperatures: also retune the inner temperatures during equilibration so every pair
    rejects swaps equally often.
    max_batch_particles: most particles per ``energies_batch`` call ("auto": 1024 for a torch
    model on the CPU, unlimited otherwise; see :class:`pgnfast.mc.local.LocalEnergyChange`).
    moves: "single" (single-particle displacements with local energy differences, the
    default) or "hybrid" (velocity-Verlet trajectories of all particles accepted on the
    change of potential plus kinetic energy; :mod:`pgnfast.mc.hybrid`).
    hybrid: settings of hybrid moves, a mapping (see :func:`pgnfast.mc.hybrid.check_hybrid`:
    time_step, steps, trajectory_time, target_acceptance, jitter, trajectories_per_sweep,
    max_steps, wrap, masses); only with moves="hybrid".
    """

    def __init__(
        self,
        potential,
        positions,
        cell,
        temperatures,
        *,
        types=None,
        seed: int = 0,
        step_size="auto",
        moves_per_sweep: int | None = None,
        checkerboard="auto",
        equilibration_sweeps: int = 100,
        target_acceptance: float = 0.4,
        tune_temperatures: bool = False,
        exchange_every: int = 1,
        max_batch_particles="auto",
        moves: str = "single",
        hybrid=None,
        _initial_energies=None,
    ):
        field_nm = check_potential(potential)
        self.potential = potential
        self.temperatures_initial = check_temperatures(temperatures)
        k = len(self.temperatures_initial)
        self.cell = cell = check_box(cell)
        positions = check_start(positions, k)
        n = self.num_particles = positions.shape[1]
        self.types = types = check_particle_types(types, n, potential)
        self.types_or_zeros = np.zeros(n, np.int64) if types is None else types
        self.receptive_field = field_nm
        settings = check_settings(
            seed=seed,
            moves_per_sweep=moves_per_sweep,
            n=n,
            equilibration_sweeps=equilibration_sweeps,
            target_acceptance=target_acceptance,
            exchange_every=exchange_every,
        )
        # the replicas this process holds and moves (all of them unless a subclass splits)
        self.owned = [int(r) for r in self._owned_replicas(k)]
        core = getattr(potential, "core_diameter", None)
        if core is not None and _initial_energies is None:
            for r in self.owned:
                check_overlaps(positions[r], cell, float(core))
        self.seed = settings["seed"]
        self.moves_per_sweep = settings["moves_per_sweep"]
        self.equilibration_sweeps = settings["equilibration_sweeps"]
        self.tune_temperatures = bool(tune_temperatures)
        self.exchange_every = settings["exchange_every"]
        self.ladder_interval = 10
        if moves not in ("single", "hybrid"):
            raise MonteCarloInputError(f"moves must be 'single' or 'hybrid', got {moves!r}")
        if hybrid is not None and moves != "hybrid":
            raise MonteCarloInputError("hybrid settings were given, but moves is not 'hybrid'")
        if moves == "hybrid" and checkerboard is True:
            raise MonteCarloInputError(
                "checkerboard=True is for single-particle moves; hybrid moves move every "
                "particle at once"
            )
        self.moves = moves

        # how moves are evaluated (locally, in checkerboard batches, or by full
        # recomputation) and the step sizes: explicit ones frozen, "auto" ones tuned
        if moves == "hybrid":
            # every particle moves at once: no cell lists, no checkerboard
            self.board, self.full_recompute = None, True
            self.hybrid_settings, self.hybrid_masses = check_hybrid(hybrid, n, k)
            self.hybrid_time_steps, self.hybrid_steps, self.hybrid_trajectory_times = (
                initial_hybrid_steps(
                    self.hybrid_settings,
                    typical_spacing(positions[0], cell),
                    self.hybrid_masses,
                    self.temperatures_initial,
                )
            )
        else:
            self.board, self.full_recompute = choose_board(cell, field_nm, n, checkerboard)
        self.auto_step, self.step_sizes, max_step = initial_steps(
            step_size, positions[0], cell, k, self.board
        )
        self.tuner = StepSizeTuner(target=settings["target_acceptance"], max_step=max_step)
        self.evaluator = LocalEnergyChange(
            potential,
            cell,
            types,
            full=self.full_recompute,
            max_batch_particles=max_batch_particles,
        )

        # random streams: one per replica, one for exchanges
        children = np.random.SeedSequence(self.seed).spawn(k + 1)
        self.replica_rngs = [np.random.Generator(np.random.PCG64(c)) for c in children[:k]]
        self.exchange_rng = np.random.Generator(np.random.PCG64(children[k]))

        energies = initial_energies(
            potential, positions, self.owned, cell, types, _initial_energies
        )
        volume = abs(np.linalg.det(cell))
        bin_width = max(field_nm, (volume / n) ** (1 / 3))
        self.replicas = []  # ReplicaState of self.owned[i] at index i
        for r, e in zip(self.owned, energies):
            pos = np.array(positions[r], dtype=np.float64)
            cells = None if self.full_recompute else IncrementalCellList(pos, cell, bin_width)
            self.replicas.append(ReplicaState(pos, e.copy(), cells))
        self.exchange = ReplicaExchange(self.temperatures_initial)

        self.sweeps_done = 0
        self.last_sweep_acceptance = np.full(k, np.nan)
        self._reset_statistics()
        self.lowest_energy_sampled = math.inf
        self.lowest_positions = None
        self._track_lowest(self._gather_energies())
        self.timings = {
            "wall_s": 0.0,
            "energy_s": 0.0,
            "moves": 0,
            "sweeps": 0,
            "cluster_particles": 0,
        }

    # -- views -----------------------------------------------------------------------------
    @property
    def temperatures(self) -> np.ndarray:
        """(K,) current ladder (kT units)."""
        return self.exchange.temperatures

    @property
    def tuning_active(self) -> bool:
        if self.moves == "hybrid":
            auto = self.hybrid_settings["time_step"] == "auto"
        else:
            auto = self.auto_step
        return self.sweeps_done < self.equilibration_sweeps and (auto or self.tune_temperatures)

    @property
    def mode(self) -> str:
        if self.moves == "hybrid":
            return "hybrid"
        if self.full_recompute:
            return "full"
        return "checkerboard" if self.board is not None else "local"

    def energy_by_temperature(self) -> np.ndarray:
        """(K,) current total energy (kT) of the replica at each temperature."""
        return self._replica_energies()[self.exchange.replica_at]

    def positions_by_temperature(self) -> np.ndarray:
        """(K, N, 3) current positions (nm) of the replica at each temperature."""
        return self._all_positions()[self.exchange.replica_at]

    # -- what a distributed subclass overrides (pgnfast.mc.mpi); here one process has all ----
    is_root = True  # whether this process writes files (checkpoints, logs, trajectories)

    def _owned_replicas(self, k: int):
        """Replica indices this process holds and moves."""
        return range(k)

    def _sum_counts(self, counts: np.ndarray) -> np.ndarray:
        """Sum an int64 array of per-temperature counters over all processes."""
        return counts

    def _gather_energies(self) -> np.ndarray:
        """(K,) total energy (kT) of every replica, by replica (collective in subclasses)."""
        return self._replica_energies()

    def _replica_energies(self) -> np.ndarray:
        """(K,) current total energies (kT) by replica, without communication."""
        return np.array([s.energy for s in self.replicas])

    def _all_positions(self) -> np.ndarray:
        """(K, N, 3) positions (nm) by replica (collective in subclasses)."""
        return np.stack([s.positions for s in self.replicas])

    def _all_replica_data(self):
        """(positions (K, N, 3), energies (K, N), RNG states by replica) for a checkpoint;
        collective in subclasses, meaningful on the root."""
        return (
            np.stack([s.positions for s in self.replicas]),
            np.stack([s.energies for s in self.replicas]),
            [g.bit_generator.state for g in self.replica_rngs],
        )

    def _lowest_positions(self) -> np.ndarray:
        """(N, 3) nm positions of the lowest energy sampled (collective in subclasses)."""
        return self.lowest_positions

    def _track_lowest(self, energies: np.ndarray) -> None:
        """Remember the lowest total energy (kT) of any replica and its positions."""
        best = int(np.argmin(energies))
        if energies[best] < self.lowest_energy_sampled:
            self.lowest_energy_sampled = float(energies[best])
            self.lowest_positions = self._copy_positions_of(best)

    def _copy_positions_of(self, replica: int):
        """Copy of one replica's positions (nm); subclasses return None when not held."""
        return self.replicas[self.owned.index(replica)].positions.copy()
