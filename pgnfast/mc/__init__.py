"""Parallel-tempering Monte Carlo with exact local energy differences.

    pt = pgnfast.mc.ParallelTempering(potential, positions, cell, temperatures, seed=0)
    summary = pt.run(1000, checkpoint="run/state.npz", writers=[JsonLinesLog("run/log.jsonl")])

Moves: single-particle displacements (default) or hybrid Monte Carlo trajectories of all
particles (``moves="hybrid"``, :mod:`pgnfast.mc.hybrid`). Works with anything following
:mod:`pgnfast.potentials.base` (the NequIP model, the DFT functional, the analytic
potentials in :mod:`pgnfast.potentials`).
"""

from .cells import IncrementalCellList
from .checkerboard import Checkerboard, CheckerboardError
from .checkpoint import load_checkpoint, save_checkpoint
from .engine import ParallelTempering
from .errors import MonteCarloInputError
from .exchange import ReplicaExchange
from .forces import energies_forces_batch
from .hybrid import check_hybrid, velocity_verlet
from .local import LocalEnergyChange, ReplicaState
from .naive import NaiveMonteCarlo
from .summary import MonteCarloSummary, quench
from .writers import JsonLinesLog, TrajectoryWriter

__all__ = [
    "Checkerboard",
    "CheckerboardError",
    "IncrementalCellList",
    "JsonLinesLog",
    "LocalEnergyChange",
    "MonteCarloInputError",
    "MonteCarloSummary",
    "NaiveMonteCarlo",
    "ParallelTempering",
    "ReplicaExchange",
    "ReplicaState",
    "TrajectoryWriter",
    "check_hybrid",
    "energies_forces_batch",
    "load_checkpoint",
    "quench",
    "save_checkpoint",
    "velocity_verlet",
]
