"""Small engines run both serially and under MPI (tests/mc/test_mpi.py)."""

from __future__ import annotations

import numpy as np

from pgnfast.potentials import Harmonic, LennardJones

SPLIT, TOTAL = 7, 13  # sweeps before the checkpoint and in all (tuning ends at sweep 6)


def checkerboard(cls, **kwargs):
    """64 tethered particles, checkerboard batches, 3 replicas, tuned steps."""
    positions = np.random.default_rng(5).random((64, 3)) * 4.0
    return cls(
        Harmonic(2.0, centers=positions),
        positions,
        np.eye(3) * 4.0,
        [0.5, 1.0, 2.0],
        types=np.arange(64),
        seed=9,
        equilibration_sweeps=6,
        **kwargs,
    )


def local(cls, **kwargs):
    """125 Lennard-Jones particles, sequential local moves, 3 replicas that swap often."""
    rng = np.random.default_rng(6)
    grid = np.stack(np.meshgrid(*[np.arange(5)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5
    positions = grid * 1.3 + rng.normal(0, 0.05, grid.shape)
    return cls(
        LennardJones(cutoff=1.5),
        positions,
        np.eye(3) * 6.5,
        [0.8, 0.9, 1.0],
        seed=4,
        equilibration_sweeps=6,
        moves_per_sweep=40,
        **kwargs,
    )


CASES = {"checkerboard": checkerboard, "local": local}


def cli_config(folder, backend: str):
    """A small `pgnfast mc` YAML file in `folder` (LJ, 27 particles, 3 temperatures)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mc.yaml"
    path.write_text(
        "potential: {kind: lennard_jones, cutoff: 1.5}\nnum_particles: 27\n"
        "box: 4.0\ntemperatures: {min: 1.0, max: 2.0, count: 3}\nsweeps: 4\n"
        f"equilibration_sweeps: 2\noutput: {folder / 'out'}\nbackend: {backend}\n"
    )
    return path
