"""Parallel-tempering Monte Carlo with exact local energy differences.

Every replica does single-particle displacement moves (uniform in a cube of half-width
``step_size`` nm) accepted with Metropolis at its temperature; moves are evaluated on a small
cluster around the moved particle (:mod:`pgnfast.mc.local`), many at a time: one move per
replica per batch, or one move per active checkerboard cell per replica
(:mod:`pgnfast.mc.checkerboard`), all in one ``potential.energies_batch`` call. After every
``exchange_every`` sweeps, neighbouring temperatures try to swap replicas (DEO).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .cells import IncrementalCellList, face_widths
from .checkerboard import Checkerboard, CheckerboardError
from .checkpoint import load_checkpoint, save_checkpoint
from .exchange import ReplicaExchange
from .local import LocalEnergyChange, ReplicaState, full_energies
from .tuning import StepSizeTuner


class MonteCarloInputError(ValueError):
    """Invalid input to the Monte Carlo engine (overlaps, NaN, bad ladder, bad box)."""


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


def _validate_temperatures(temperatures) -> np.ndarray:
    temperatures = np.asarray(temperatures, dtype=np.float64)
    if temperatures.ndim != 1 or len(temperatures) < 1:
        raise MonteCarloInputError("temperatures must be a non-empty 1-D sequence")
    if not np.all(np.isfinite(temperatures)) or np.any(temperatures <= 0):
        raise MonteCarloInputError(f"temperatures must be finite and positive: {temperatures}")
    if np.any(np.diff(temperatures) <= 0):
        raise MonteCarloInputError(
            f"temperatures must be strictly increasing, got {temperatures.tolist()}"
        )
    return temperatures


def _check_overlaps(positions: np.ndarray, cell: np.ndarray, core_diameter: float) -> None:
    from pgnfast.potentials.pair import half_pairs

    i, j, _, distances = half_pairs(positions, cell, core_diameter, True)
    if len(i):
        worst = int(np.argmin(distances))
        raise MonteCarloInputError(
            f"overlapping cores: particles {int(i[worst])} and {int(j[worst])} are "
            f"{distances[worst]:.4g} nm apart, closer than the core diameter "
            f"{core_diameter:g} nm ({len(i)} overlapping pairs)"
        )


class ParallelTempering:
    """Parallel tempering of K replicas of N particles in a fixed periodic box.

    potential: follows :mod:`pgnfast.potentials.base` (energies_batch, receptive_field nm).
    positions: (N, 3) nm, shared start, or (K, N, 3), one start per replica.
    cell: (3, 3) nm, rows are box vectors. temperatures: (K,) strictly increasing, in kT units
    (the potential's energies are divided by them). types: (N,) ints or None.
    seed: root seed; each replica and the exchanges get their own stream.
    step_size: "auto" (start at 0.1 x median nearest-neighbour distance, tuned toward
    ``target_acceptance`` during the first ``equilibration_sweeps`` sweeps, then frozen), a
    float (nm), or (K,) floats; explicit sizes are never tuned.
    moves_per_sweep: trial moves per replica per sweep (default N).
    checkerboard: "auto" (when the box holds more than one active cell), True (raise if the
    box is too small) or False (one move per replica per batch).
    tune_temperatures: also retune the inner temperatures during equilibration so every pair
    rejects swaps equally often.
    max_batch_particles: most particles per ``energies_batch`` call ("auto": 1024 for a torch
    model on the CPU, unlimited otherwise; see :class:`pgnfast.mc.local.LocalEnergyChange`).
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
        _initial_energies=None,
    ):
        for name in ("energies_batch", "energies", "receptive_field"):
            if not hasattr(potential, name):
                raise TypeError(f"potential lacks {name!r}; see pgnfast.potentials.base")
        self.potential = potential
        self.temperatures_initial = _validate_temperatures(temperatures)
        k = len(self.temperatures_initial)
        cell = np.asarray(cell, dtype=np.float64)
        if cell.shape != (3, 3) or not np.all(np.isfinite(cell)):
            raise MonteCarloInputError("cell must be a finite (3, 3) array of box vectors (nm)")
        if abs(np.linalg.det(cell)) < 1e-12:
            raise MonteCarloInputError("cell is singular (zero volume)")
        self.cell = cell
        positions = np.asarray(positions, dtype=np.float64)
        if positions.ndim == 2:
            positions = np.broadcast_to(positions, (k,) + positions.shape)
        if positions.ndim != 3 or positions.shape[0] != k or positions.shape[2] != 3:
            raise MonteCarloInputError(
                f"positions must be (N, 3) or (K={k}, N, 3), got {positions.shape}"
            )
        if not np.all(np.isfinite(positions)):
            raise MonteCarloInputError("positions contain NaN or infinite values")
        n = positions.shape[1]
        if n < 1:
            raise MonteCarloInputError("need at least one particle")
        self.num_particles = n
        if types is not None:
            types = np.asarray(types)
            if types.shape != (n,) or not np.issubdtype(types.dtype, np.integer):
                raise MonteCarloInputError(f"types must be ({n},) integers")
            types = types.astype(np.int64)
        self.types = types
        self.types_or_zeros = np.zeros(n, np.int64) if types is None else types
        field_nm = float(potential.receptive_field)
        if math.isnan(field_nm) or field_nm < 0:
            raise MonteCarloInputError(f"receptive_field must be >= 0 nm, got {field_nm}")
        self.receptive_field = field_nm
        # the replicas this process holds and moves (all of them unless a subclass splits)
        self.owned = [int(r) for r in self._owned_replicas(k)]
        core = getattr(potential, "core_diameter", None)
        if core is not None and _initial_energies is None:
            for r in self.owned:
                _check_overlaps(positions[r], cell, float(core))
        self.seed = int(seed)
        self.moves_per_sweep = n if moves_per_sweep is None else int(moves_per_sweep)
        if self.moves_per_sweep < 1:
            raise MonteCarloInputError("moves_per_sweep must be at least 1")
        self.equilibration_sweeps = int(equilibration_sweeps)
        self.tune_temperatures = bool(tune_temperatures)
        self.exchange_every = max(1, int(exchange_every))
        self.ladder_interval = 10

        widths = face_widths(cell)
        # steps: explicit ones are frozen; "auto" starts from the nearest-neighbour distance
        self.auto_step = isinstance(step_size, str)
        if self.auto_step:
            if step_size != "auto":
                raise MonteCarloInputError(f"step_size must be 'auto' or nm, got {step_size!r}")
            steps = np.full(k, 0.1 * self._typical_spacing(positions[0]))
        else:
            steps = np.broadcast_to(np.asarray(step_size, dtype=np.float64), (k,)).copy()
            if not np.all(np.isfinite(steps)) or np.any(steps <= 0):
                raise MonteCarloInputError("step sizes must be positive and finite (nm)")
        max_step = 0.25 * float(widths.min())

        # how moves are evaluated: locally, in checkerboard batches, or by full recomputation
        volume = abs(np.linalg.det(cell))
        cluster_volume = 4.0 / 3.0 * math.pi * (2.0 * field_nm) ** 3
        self.full_recompute = math.isinf(field_nm) or cluster_volume >= volume
        self.board = None
        if checkerboard not in ("auto", True, False):
            raise MonteCarloInputError("checkerboard must be 'auto', True or False")
        if checkerboard is True:
            if math.isinf(field_nm):
                raise CheckerboardError("checkerboard moves need a finite receptive field")
            self.board = Checkerboard(cell, field_nm, n)
            self.full_recompute = False
        elif checkerboard == "auto" and not self.full_recompute:
            try:
                board = Checkerboard(cell, field_nm, n)
            except CheckerboardError:
                board = None
            if board is not None and board.useful:
                self.board = board
        if self.board is not None:
            max_step = min(max_step, 0.5 * float(self.board.cell_widths.min()))
        self.tuner = StepSizeTuner(target=target_acceptance, max_step=max_step)
        self.step_sizes = np.minimum(steps, max_step) if self.auto_step else steps
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

        if _initial_energies is None:
            energies = full_energies(potential, [positions[r] for r in self.owned], cell, types)
        else:
            energies = [np.asarray(_initial_energies[r], dtype=np.float64) for r in self.owned]
        for r, e in zip(self.owned, energies):
            if e.shape != (n,) or not np.all(np.isfinite(e)):
                raise MonteCarloInputError(
                    f"initial energy of replica {r} is not finite (overlapping particles or "
                    "a configuration outside the potential's domain)"
                )
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

    # -- helpers ---------------------------------------------------------------------------
    def _typical_spacing(self, positions: np.ndarray) -> float:
        from scipy.spatial import cKDTree

        if len(positions) < 2:
            return float(face_widths(self.cell).min()) / 4
        distances, _ = cKDTree(positions).query(positions, k=2)
        return float(np.median(distances[:, 1]))

    def _reset_statistics(self) -> None:
        k = len(self.temperatures_initial)
        self.stat_attempted = np.zeros(k, np.int64)
        self.stat_accepted = np.zeros(k, np.int64)
        self.stat_energy_sum = np.zeros(k)
        self.stat_energy_sq_sum = np.zeros(k)
        self.stat_samples = np.zeros(k, np.int64)
        self.total_attempted = np.zeros(k, np.int64)
        self.total_accepted = np.zeros(k, np.int64)
        self.left_cell = np.zeros(k, np.int64)  # checkerboard proposals rejected for leaving

    def reset_statistics(self) -> None:
        """Forget accumulated means and acceptance (e.g. after a manual equilibration)."""
        self._reset_statistics()

    @property
    def temperatures(self) -> np.ndarray:
        """(K,) current ladder (kT units)."""
        return self.exchange.temperatures

    @property
    def tuning_active(self) -> bool:
        return self.sweeps_done < self.equilibration_sweeps and (
            self.auto_step or self.tune_temperatures
        )

    @property
    def mode(self) -> str:
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

    # -- one sweep -------------------------------------------------------------------------
    def _propose(self, attempted: np.ndarray, left_cell: np.ndarray):
        """Trial moves for the held replicas: list of (replica, state, particle, new position,
        uniform)."""
        proposals = []
        for r, state in zip(self.owned, self.replicas):
            rng = self.replica_rngs[r]
            t = self.exchange.temperature_of[r]
            step = self.step_sizes[t]
            if self.board is None:
                particle = int(rng.integers(self.num_particles))
                displacement = rng.uniform(-step, step, 3)
                uniform = rng.random()
                attempted[t] += 1
                proposals.append(
                    (r, state, particle, state.positions[particle] + displacement, uniform)
                )
                continue
            particles, offset = self.board.choose(state.positions, rng)
            displacements = rng.uniform(-step, step, (len(particles), 3))
            uniforms = rng.random(len(particles))
            old = state.positions[particles]
            new = old + displacements
            attempted[t] += len(particles)
            stays = self.board.same_cell(old, new, offset)
            left_cell[t] += int(len(stays) - stays.sum())
            for index in np.flatnonzero(stays):
                proposals.append((r, state, int(particles[index]), new[index], uniforms[index]))
        return proposals

    def _substeps_per_sweep(self) -> int:
        if self.board is None:
            return self.moves_per_sweep
        return max(1, math.ceil(self.moves_per_sweep / self.board.active_per_batch))

    def _sweep(self) -> None:
        k = len(self.temperatures_initial)
        attempted = np.zeros(k, np.int64)
        accepted = np.zeros(k, np.int64)
        left_cell = np.zeros(k, np.int64)
        cluster_particles = 0
        betas = self.exchange.betas
        energy_time = 0.0
        for _ in range(self._substeps_per_sweep()):
            proposals = self._propose(attempted, left_cell)
            requests = [(state, p, new) for _, state, p, new, _ in proposals]
            start = time.perf_counter()
            results = self.evaluator.evaluate(requests)
            energy_time += time.perf_counter() - start
            for (r, state, particle, new_position, uniform), result in zip(proposals, results):
                t = self.exchange.temperature_of[r]
                delta = result.delta
                cluster_particles += result.cluster_size
                if not (delta <= 0.0 or uniform < math.exp(-betas[t] * delta)):
                    continue  # also rejects NaN
                state.positions[particle] = new_position
                state.energies[result.particles] = result.new_energies
                if state.cells is not None:
                    state.cells.move(particle, new_position)
                accepted[t] += 1
        counts = self._sum_counts(
            np.concatenate([attempted, accepted, left_cell, [cluster_particles]]).astype(np.int64)
        )
        attempted, accepted, left_cell = counts[:k], counts[k : 2 * k], counts[2 * k : 3 * k]
        self.left_cell += left_cell
        self.timings["cluster_particles"] += int(counts[-1])
        self.timings["energy_s"] += energy_time
        self.timings["moves"] += int(attempted.sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            self.last_sweep_acceptance = np.where(attempted > 0, accepted / attempted, np.nan)
        self.total_attempted += attempted
        self.total_accepted += accepted

        tuning = self.tuning_active
        energies = self._gather_energies()  # by replica: all a rank learns of the others
        self._track_lowest(energies)
        if not tuning:
            by_temperature = energies[self.exchange.replica_at]
            self.stat_attempted += attempted
            self.stat_accepted += accepted
            self.stat_energy_sum += by_temperature
            self.stat_energy_sq_sum += by_temperature**2
            self.stat_samples += 1
        else:
            if self.auto_step:
                self.step_sizes = self.tuner.update(self.step_sizes, attempted, accepted)
            if self.tune_temperatures and (self.sweeps_done + 1) % self.ladder_interval == 0:
                self.exchange.retune_ladder()
        if (self.sweeps_done + 1) % self.exchange_every == 0 and k > 1:
            self.exchange.step(energies, self.exchange_rng)
        self.sweeps_done += 1

    # -- the run ---------------------------------------------------------------------------
    def run(
        self,
        n_sweeps: int,
        *,
        checkpoint=None,
        checkpoint_every: int = 100,
        writers=(),
        progress: bool | None = None,
        quench_lowest="auto",
    ):
        """Do `n_sweeps` more sweeps (each `moves_per_sweep` trial moves per replica).

        checkpoint: path written atomically every `checkpoint_every` sweeps and at the end.
        writers: objects with open(engine)/write(engine)/close() (see pgnfast.mc.writers).
        progress: tqdm bar with sweeps/s (default: when stderr is a terminal).
        quench_lowest: locally minimise the lowest configuration seen and the final ones
        ("auto": when N <= 100 and the potential has forces). Returns a MonteCarloSummary.
        """
        import sys

        from tqdm.auto import tqdm

        n_sweeps = int(n_sweeps)
        if n_sweeps < 0:
            raise ValueError("n_sweeps must be >= 0")
        if progress is None:
            progress = sys.stderr.isatty()
        progress = bool(progress) and self.is_root
        for writer in writers:
            writer.open(self)
        start = time.perf_counter()
        bar = tqdm(total=n_sweeps, unit="sweep", disable=not progress, dynamic_ncols=True)
        try:
            for _ in range(n_sweeps):
                self._sweep()
                for writer in writers:
                    writer.write(self)
                if checkpoint is not None and self.sweeps_done % max(1, checkpoint_every) == 0:
                    self.save_checkpoint(checkpoint)
                bar.update(1)
                if progress and self.sweeps_done % 10 == 0:
                    bar.set_postfix(
                        acc=f"{np.nanmean(self.last_sweep_acceptance):.2f}",
                        E0=f"{self.energy_by_temperature()[0]:.4g}",
                    )
        finally:
            bar.close()
            for writer in writers:
                writer.close()
            self.timings["wall_s"] += time.perf_counter() - start
            self.timings["sweeps"] += n_sweeps
        if checkpoint is not None:
            self.save_checkpoint(checkpoint)
        return self.summary(quench_lowest=quench_lowest)

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

    # -- checkpoints -----------------------------------------------------------------------
    _STAT_NAMES = (
        "stat_attempted",
        "stat_accepted",
        "stat_energy_sum",
        "stat_energy_sq_sum",
        "stat_samples",
        "total_attempted",
        "total_accepted",
        "step_sizes",
        "last_sweep_acceptance",
        "lowest_positions",
        "left_cell",
    )

    def save_checkpoint(self, path) -> Path:
        """Write the complete state (positions, energies, RNG streams, counters) atomically.

        Collective in distributed subclasses: every process calls it, the root writes.
        """
        positions, energies, rng_states = self._all_replica_data()
        lowest_positions = self._lowest_positions()
        if not self.is_root:
            return self._after_checkpoint(Path(path))
        arrays = {
            "positions": positions,
            "energies": energies,
            "cell": self.cell,
            "types": self.types_or_zeros,
        }
        arrays.update(
            {
                name: np.asarray(getattr(self, name))
                for name in self._STAT_NAMES
                if name != "lowest_positions"
            }
        )
        arrays["lowest_positions"] = np.asarray(lowest_positions)
        arrays.update(
            {f"exchange_{k}": np.asarray(v) for k, v in self.exchange.state_dict().items()}
        )
        metadata = {
            "sweeps_done": self.sweeps_done,
            "has_types": self.types is not None,
            "seed": self.seed,
            "temperatures_initial": self.temperatures_initial.tolist(),
            "moves_per_sweep": self.moves_per_sweep,
            "mode": self.mode,
            "auto_step": self.auto_step,
            "equilibration_sweeps": self.equilibration_sweeps,
            "target_acceptance": self.tuner.target,
            "tune_temperatures": self.tune_temperatures,
            "exchange_every": self.exchange_every,
            "max_batch_particles": self.evaluator.max_batch_particles,
            "lowest_energy_sampled": self.lowest_energy_sampled,
            "replica_rngs": rng_states,
            "exchange_rng": self.exchange_rng.bit_generator.state,
            "receptive_field": self.receptive_field
            if math.isfinite(self.receptive_field)
            else "inf",
            "potential": repr(self.potential)[:500],
            "timings": {k: v for k, v in self.timings.items()},
        }
        return self._after_checkpoint(save_checkpoint(path, arrays, metadata))

    def _after_checkpoint(self, path: Path) -> Path:
        """Hook run by every process once the root has written a checkpoint."""
        return path

    @classmethod
    def from_checkpoint(cls, path, potential, **kwargs) -> ParallelTempering:
        """Rebuild an engine from a checkpoint; continuing it repeats the uninterrupted run.

        potential must be the same one the run used (its energies are not re-evaluated);
        kwargs go to the constructor of a subclass (e.g. ``comm`` for the MPI backend).
        """
        return cls._from_state(*load_checkpoint(path), potential, **kwargs)

    @classmethod
    def _from_state(cls, arrays, meta, potential, **kwargs) -> ParallelTempering:
        mode = meta["mode"]
        engine = cls(
            potential,
            arrays["positions"],
            arrays["cell"],
            meta["temperatures_initial"],
            types=arrays["types"] if meta["has_types"] else None,
            seed=meta["seed"],
            step_size="auto" if meta["auto_step"] else arrays["step_sizes"],
            moves_per_sweep=meta["moves_per_sweep"],
            checkerboard={"checkerboard": True, "local": False, "full": False}[mode],
            equilibration_sweeps=meta["equilibration_sweeps"],
            target_acceptance=meta["target_acceptance"],
            tune_temperatures=meta["tune_temperatures"],
            exchange_every=meta["exchange_every"],
            max_batch_particles=meta.get("max_batch_particles", "auto"),
            _initial_energies=list(arrays["energies"]),
            **kwargs,
        )
        if engine.mode != mode:
            raise ValueError(f"checkpoint was written in mode {mode!r}, rebuilt as {engine.mode!r}")
        for name in cls._STAT_NAMES:
            setattr(engine, name, np.array(arrays[name]))
        engine.exchange.load_state_dict(
            {k[len("exchange_") :]: v for k, v in arrays.items() if k.startswith("exchange_")}
        )
        engine.sweeps_done = int(meta["sweeps_done"])
        engine.lowest_energy_sampled = float(meta["lowest_energy_sampled"])
        for generator, state in zip(engine.replica_rngs, meta["replica_rngs"]):
            generator.bit_generator.state = state
        engine.exchange_rng.bit_generator.state = meta["exchange_rng"]
        engine.timings.update(meta.get("timings", {}))
        return engine
