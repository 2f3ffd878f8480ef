"""The sweep loop of :class:`pgnfast.mc.ParallelTempering`: trial moves (sequential or in
checkerboard batches, or hybrid trajectories: :mod:`pgnfast.mc.hybrid`), Metropolis
acceptance, statistics, step-size and ladder tuning, DEO exchanges, and `run` with its
writers and checkpoints. Lengths nm, energies kT."""

from __future__ import annotations

import math
import time

import numpy as np

from .inputs import MonteCarloInputError, whole_number


class SweepLoop:
    """The moves and the run loop; the state they act on is set up by the engine."""

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
        probability_sum = np.zeros(k, np.int64)  # hybrid moves: for the time-step tuner
        substeps = 0 if self.moves == "hybrid" else self._substeps_per_sweep()
        if self.moves == "hybrid":
            probability_sum = self._hybrid_sweep(attempted, accepted)
        for _ in range(substeps):
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
            np.concatenate(
                [attempted, accepted, left_cell, probability_sum, [cluster_particles]]
            ).astype(np.int64)
        )
        attempted, accepted, left_cell = counts[:k], counts[k : 2 * k], counts[2 * k : 3 * k]
        probability_sum = counts[3 * k : 4 * k]
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
            if self.moves == "hybrid":
                self._tune_hybrid(attempted, probability_sum)
            elif self.auto_step:
                self.step_sizes = self.tuner.update(self.step_sizes, attempted, accepted)
            if self.tune_temperatures and (self.sweeps_done + 1) % self.ladder_interval == 0:
                self.exchange.retune_ladder()
        if (self.sweeps_done + 1) % self.exchange_every == 0 and k > 1:
            self.exchange.step(energies, self.exchange_rng)
        self.sweeps_done += 1

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

        n_sweeps = whole_number(n_sweeps, "n_sweeps")
        if n_sweeps < 0:
            raise MonteCarloInputError(f"n_sweeps must be >= 0, got {n_sweeps}")
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
