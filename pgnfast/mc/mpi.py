"""The optional mpi4py backend: replicas spread over MPI ranks, one or more per rank.

    mpiexec -n 4 python my_run.py      # my_run.py builds MPIParallelTempering(...) and runs it

Each rank holds a contiguous block of replicas (``numpy.array_split`` of 0..K-1) and does
their sweeps with the single-process engine's code (local moves, checkerboard batches of its
own replicas in one ``energies_batch`` call). Per sweep the ranks exchange only small arrays:
one ``Allreduce`` of the (K,) replica energies (kT; each rank fills its own, zeros elsewhere,
so the sum is exact) and one of the per-temperature move counters. Every rank then takes the
same DEO swap decision with its own copy of the exchange random stream, so the temperature
labels never travel and stay identical on every rank. With the per-replica random streams of
the serial engine, a run gives the same trajectory as ``ParallelTempering`` with the same
seed, for any number of ranks (bit for bit when the potential's per-system energies do not
depend on what else is in the batch, as for the analytic potentials).

Checkpoints: rank 0 gathers positions, energies and RNG states and writes the one file of
the serial format, so a run can be resumed with the serial engine or any number of ranks;
rank 0 reads it on resume and broadcasts it (the file need only be visible to rank 0).
Writers run on every rank (trajectories gather positions collectively); rank 0 writes.
Every rank must call ``run``/``summary``/``save_checkpoint``/``positions_by_temperature``
together: they are collective.
"""

from __future__ import annotations

import numpy as np

from ..errors import PGNFastError
from .engine import ParallelTempering
from .errors import MonteCarloInputError


def _world():
    try:
        from mpi4py import MPI
    except ImportError as error:  # pragma: no cover - exercised only without mpi4py
        raise ImportError("the MPI backend needs mpi4py: pip install 'pgnfast[dist]'") from error
    return MPI.COMM_WORLD


class MPIParallelTempering(ParallelTempering):
    """``ParallelTempering`` with its K replicas split across the ranks of ``comm``.

    Same arguments as :class:`ParallelTempering` (positions (N, 3) or (K, N, 3) nm,
    temperatures in kT units, ...) plus comm: an mpi4py communicator (default COMM_WORLD)
    with at most K ranks. Every rank passes the same arguments.
    """

    def __init__(self, potential, positions, cell, temperatures, *, comm=None, **kwargs):
        self.comm = _world() if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.is_root = self.rank == 0
        self._lowest_rank = None  # rank holding the lowest positions; None: every rank
        super().__init__(potential, positions, cell, temperatures, **kwargs)

    # -- distribution ----------------------------------------------------------------------
    def _owned_replicas(self, k: int):
        if self.size > k:
            raise MonteCarloInputError(
                f"{self.size} MPI ranks for {k} replicas: use at most one rank per replica"
            )
        return np.array_split(np.arange(k), self.size)[self.rank].tolist()

    def _owner(self, replica: int) -> int:
        blocks = np.array_split(np.arange(len(self.temperatures_initial)), self.size)
        return next(rank for rank, block in enumerate(blocks) if replica in block)

    # -- the only per-sweep communication --------------------------------------------------
    def _sum_counts(self, counts: np.ndarray) -> np.ndarray:
        from mpi4py import MPI

        total = np.empty_like(counts)
        self.comm.Allreduce(np.ascontiguousarray(counts), total, op=MPI.SUM)
        return total

    def _gather_energies(self) -> np.ndarray:
        from mpi4py import MPI

        local = np.zeros(len(self.temperatures_initial))
        local[self.owned] = [s.energy for s in self.replicas]
        energies = np.empty_like(local)
        self.comm.Allreduce(local, energies, op=MPI.SUM)  # x + 0.0 + ... is exactly x
        self._energies = energies
        return energies

    def _replica_energies(self) -> np.ndarray:
        return self._energies.copy()  # as of the last sweep; every rank agrees

    # -- lowest configuration: positions stay on the rank that saw them --------------------
    def _copy_positions_of(self, replica: int):
        self._lowest_rank = self._owner(replica)
        return super()._copy_positions_of(replica) if replica in self.owned else None

    def _lowest_positions(self) -> np.ndarray:
        if self._lowest_rank is not None:
            self.lowest_positions = self.comm.bcast(self.lowest_positions, root=self._lowest_rank)
            self._lowest_rank = None
        return self.lowest_positions

    # -- collective views and checkpoints --------------------------------------------------
    def _all_positions(self) -> np.ndarray:
        blocks = self.comm.allgather([s.positions for s in self.replicas])
        return np.stack([p for block in blocks for p in block])

    def _all_replica_data(self):
        mine = (
            [s.positions for s in self.replicas],
            [s.energies for s in self.replicas],
            [self.replica_rngs[r].bit_generator.state for r in self.owned],
        )
        blocks = self.comm.gather(mine, root=0)
        labels = self.comm.allgather(self.exchange.replica_at.tolist())
        if any(label != labels[0] for label in labels):
            raise RuntimeError(f"MPI ranks disagree on the replica permutation: {labels}")
        if not self.is_root:
            return None, None, None
        return (
            np.stack([p for block in blocks for p in block[0]]),
            np.stack([e for block in blocks for e in block[1]]),
            [state for block in blocks for state in block[2]],
        )

    def _after_checkpoint(self, path):
        self.comm.Barrier()  # every rank returns once the file is in place
        return path

    @classmethod
    def from_checkpoint(
        cls, path, potential, comm=None, *, num_particles=None, temperatures=None, **kwargs
    ) -> MPIParallelTempering:
        """Resume on every rank of comm from a checkpoint that rank 0 reads (any earlier
        number of ranks, or the serial engine, may have written it). A checkpoint rank 0
        cannot read raises the same error on every rank."""
        from .checkpoint import checkpoint_path, load_checkpoint
        from .state import check_resume_matches

        comm = _world() if comm is None else comm
        state = None
        if comm.Get_rank() == 0:
            try:
                state = load_checkpoint(path)
            except (PGNFastError, OSError) as error:
                state = error
        state = comm.bcast(state, root=0)
        if isinstance(state, BaseException):
            raise state
        arrays, meta = state
        engine = cls._from_state(
            arrays, meta, potential, path=checkpoint_path(path), comm=comm, **kwargs
        )
        check_resume_matches(engine, path, num_particles=num_particles, temperatures=temperatures)
        engine._lowest_rank = None  # the checkpoint gave every rank the lowest positions
        return engine
