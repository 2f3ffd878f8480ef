"""Run under ``mpiexec -n 2 python -m tests.mc.hybrid_mpi_runner OUT``: hybrid moves with the
MPI backend through a checkpoint and resume (tests/mc/test_hybrid_mpi.py compares)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from pgnfast.mc.mpi import MPIParallelTempering
from pgnfast.potentials import LennardJones

SPLIT, TOTAL = 3, 7  # sweeps before the checkpoint and in all (tuning ends at sweep 4)


def make(cls):
    """27 Lennard-Jones particles, 3 replicas, hybrid moves with a tuned time step."""
    rng = np.random.default_rng(8)
    grid = np.stack(np.meshgrid(*[np.arange(3)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5
    positions = grid * 1.25 + rng.normal(0, 0.05, grid.shape)
    return cls(
        LennardJones(cutoff=1.6, shift=True),
        positions,
        np.eye(3) * 3.75,
        [0.9, 1.1, 1.4],
        seed=5,
        equilibration_sweeps=4,
        moves="hybrid",
        hybrid={"trajectory_time": 0.2},
    )


def main(out: Path) -> None:
    engine = make(MPIParallelTempering)
    engine.run(SPLIT, checkpoint=out / "split.npz")
    resumed = MPIParallelTempering.from_checkpoint(out / "split.npz", engine.potential)
    resumed.run(TOTAL - SPLIT, checkpoint=out / "final.npz")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
