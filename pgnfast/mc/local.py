"""Exact energy differences of single-particle moves, batched into one potential call.

Moving particle k changes E_i only for particles i within ``receptive_field`` (R) of k's old
or new position, and each such E_i depends only on particles within R of i. So the change is
computed on a non-periodic cluster of every periodic image within 2R + |displacement| of k:
the new per-particle energies of the affected particles (each taken at its image nearest k)
minus their stored values. That equals a full recomputation exactly, at a cost independent
of N. Potentials with an infinite receptive field (the DFT) are recomputed in full.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .cells import IncrementalCellList
from .errors import MonteCarloInputError


@dataclass
class ReplicaState:
    """One replica: positions (N, 3) nm unwrapped, per-particle energies (N,) kT, cell list."""

    positions: np.ndarray
    energies: np.ndarray
    cells: IncrementalCellList | None = None

    @property
    def energy(self) -> float:
        return float(np.sum(self.energies))


@dataclass
class MoveResult:
    """Energy change (kT) of one proposed move and the per-particle energies it would set."""

    delta: float
    particles: np.ndarray  # (A,) indices whose energies change (all N for a full recompute)
    new_energies: np.ndarray  # (A,) kT
    cluster_size: int


class LocalEnergyChange:
    """Computes exact move energy differences for many moves with one ``energies_batch`` call.

    potential: follows :mod:`pgnfast.potentials.base`; cell (3, 3) nm; types (N,) or None.
    full: recompute the whole periodic system for every move (automatic when R is infinite).
    max_batch_particles: split the systems of one ``evaluate`` into ``energies_batch`` calls
    of at most this many particles (a single system may exceed it); None: one call. "auto":
    1024 for a torch model on the CPU, where larger graphs cost more per particle (measured in
    benchmarks/bench_mc.py), None otherwise.
    """

    def __init__(
        self, potential, cell: np.ndarray, types, *, full: bool = False, max_batch_particles="auto"
    ):
        self.potential = potential
        self.cell = np.asarray(cell, dtype=np.float64)
        self.types = types
        self.receptive_field = float(potential.receptive_field)
        self.full = bool(full) or math.isinf(self.receptive_field)
        if max_batch_particles == "auto":
            max_batch_particles = 1024 if _torch_on_cpu(potential) else None
        self.max_batch_particles = None if max_batch_particles is None else int(max_batch_particles)

    def _energies_batch(self, systems) -> list:
        cap = self.max_batch_particles
        if cap is None or not systems:
            return list(self.potential.energies_batch(systems)) if systems else []
        out, chunk, size = [], [], 0
        for system in systems:
            n = len(system[0])
            if chunk and size + n > cap:
                out.extend(self.potential.energies_batch(chunk))
                chunk, size = [], 0
            chunk.append(system)
            size += n
        out.extend(self.potential.energies_batch(chunk))
        return out

    def _cluster(self, state: ReplicaState, particle: int, new_position: np.ndarray):
        """(cluster positions after the move, cluster types, chosen entries, affected ids)."""
        radius_field = self.receptive_field
        old_position = state.positions[particle]
        displacement = new_position - old_position
        step = float(np.sqrt(displacement @ displacement))
        radius = 2.0 * radius_field + step + 1e-9 * (1.0 + radius_field)
        ids, _, images = state.cells.query(state.positions, old_position, radius)
        is_moved = ids == particle
        new_images = images.copy()
        new_images[is_moved] += displacement
        d_old = np.linalg.norm(images - old_position, axis=1)
        d_new = np.linalg.norm(new_images - new_position, axis=1)
        nearest = np.minimum(d_old, d_new)
        affected = np.flatnonzero(nearest <= radius_field)
        # one image per affected particle: the one nearest the move
        order = np.lexsort((nearest[affected], ids[affected]))
        affected = affected[order]
        first = np.ones(len(affected), bool)
        first[1:] = ids[affected][1:] != ids[affected][:-1]
        chosen = affected[first]
        cluster_types = None if self.types is None else self.types[ids]
        return new_images, cluster_types, chosen, ids[chosen]

    def evaluate(self, requests) -> list[MoveResult]:
        """requests: sequence of (ReplicaState, particle, new_position (3,) nm).

        Moves of the same replica must be farther apart than 2R (checkerboard), so that each
        difference is exact on its own. Returns one MoveResult per request, in order.
        """
        systems, bookkeeping = [], []
        for state, particle, new_position in requests:
            new_position = np.asarray(new_position, dtype=np.float64)
            if self.full:
                positions = state.positions.copy()
                positions[particle] = new_position
                systems.append((positions, self.cell, self.types, True))
                bookkeeping.append((state, None, None))
            else:
                cluster, cluster_types, chosen, affected = self._cluster(
                    state, particle, new_position
                )
                systems.append((cluster, self.cell, cluster_types, False))
                bookkeeping.append((state, chosen, affected))
        energies = self._energies_batch(systems)
        if len(energies) != len(systems):
            raise MonteCarloInputError(
                f"potential.energies_batch returned {len(energies)} results for "
                f"{len(systems)} systems"
            )
        results = []
        for system, (state, chosen, affected), new in zip(systems, bookkeeping, energies):
            new = np.asarray(new, dtype=np.float64)
            if new.shape != (len(system[0]),):
                raise MonteCarloInputError(
                    f"the potential returned {new.size} energies for {len(system[0])} "
                    "particles (energies_batch must give one energy per particle)"
                )
            if chosen is None:
                delta = float(np.sum(new)) - float(np.sum(state.energies))
                results.append(MoveResult(delta, np.arange(len(new)), new, len(new)))
            else:
                values = new[chosen]
                delta = float(np.sum(values)) - float(np.sum(state.energies[affected]))
                results.append(MoveResult(delta, affected, values, len(new)))
        return results


def _torch_on_cpu(potential) -> bool:
    """Whether the potential evaluates a torch module on the CPU."""
    model = getattr(potential, "model", None)
    parameters = getattr(model, "parameters", None)
    if parameters is None:
        return False
    try:
        return next(iter(parameters())).device.type == "cpu"
    except (StopIteration, TypeError):
        return False


def full_energies(potential, positions_list, cell, types) -> list[np.ndarray]:
    """Per-particle energies (N,) kT of several periodic systems in one batched call."""
    systems = [(np.asarray(p, dtype=np.float64), cell, types, True) for p in positions_list]
    return [np.asarray(e, dtype=np.float64) for e in potential.energies_batch(systems)]
