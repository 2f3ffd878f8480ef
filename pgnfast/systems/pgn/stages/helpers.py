"""Small pieces several stages use: JSON-able results, trajectories, random starts, the
resumable Monte Carlo run, thread counts. Units: nm, kT."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pgnfast.analysis.structure import half_box  # noqa: F401  (the stages import it from here)


def plain(value):
    """JSON-able copy of nested results (numpy scalars and arrays to Python)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def thread_count(config) -> int:
    """The torch/Numba threads of the main process: config.threads, or every core."""
    return int(config.threads or cores())


def say(config, text: str) -> None:
    """A progress line, when config.progress."""
    if config.progress:
        print(text, flush=True)


def read_trajectory(path, after_sweep: int = -1) -> list:
    """Frames of a TrajectoryWriter file with sweep > after_sweep, one per sweep (the last
    written, so records repeated by a run resumed from an older checkpoint count once)."""
    import ase.io

    path = Path(path)
    if not path.exists():
        return []
    by_sweep = {}
    for atoms in ase.io.read(path, index=":", format="extxyz"):
        by_sweep[int(atoms.info["sweep"])] = atoms
    return [by_sweep[s] for s in sorted(by_sweep) if s > after_sweep]


def pentagonal_face_fraction(voronoi) -> float:
    """Share of Voronoi faces that are pentagons (`VoronoiIndices.pentagonal_face_fraction`)."""
    return voronoi.pentagonal_face_fraction


def frame_energy(atoms) -> float:
    """Energy (kT) of a trajectory frame (ASE moves info["energy"] into a calculator)."""
    if "energy" in atoms.info:
        return float(atoms.info["energy"])
    return float(atoms.get_potential_energy())


def geometric_ladder(t_min: float, t_max: float, count: int) -> np.ndarray:
    """`count` temperatures (kT units) from t_min to t_max, evenly spaced in log T."""
    if count == 1:
        return np.array([float(t_min)])
    return np.geomspace(float(t_min), float(t_max), int(count))


def mean_abs_difference(a, b) -> float:
    """Mean |a - b| over bins (g(r) differences: dimensionless)."""
    return float(np.mean(np.abs(np.asarray(a) - np.asarray(b))))


def random_melts(config, n_particles: int, count: int, seed_offset: int) -> list:
    """`count` random configurations (ase.Atoms) of `n_particles` cores of the design, with
    the labels' type fractions and seed config.seed + seed_offset (each stage its own)."""
    from ..configurations import random_configurations

    return random_configurations(
        config.pgn_design(),
        n_particles,
        count,
        seed=config.seed + seed_offset,
        kind="random",
        fractions=config.labels.type_fractions,
    )


def resume_or_start(checkpoint: Path, potential, start):
    """The ParallelTempering engine saved in `checkpoint` (or its .prev copy) by an
    interrupted run, else `start()`, a fresh one."""
    from pgnfast.mc import ParallelTempering

    if checkpoint.exists() or checkpoint.with_name(checkpoint.name + ".prev").exists():
        return ParallelTempering.from_checkpoint(checkpoint, potential)
    return start()


def run_to(engine, sweeps: int, *, checkpoint: Path, checkpoint_every: int, writers, progress):
    """Run `engine` until it has done `sweeps` sweeps in all (none if it has already),
    checkpointing; returns its MonteCarloSummary."""
    return engine.run(
        max(0, sweeps - engine.sweeps_done),
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        writers=writers,
        progress=progress,
        quench_lowest=False,
    )
