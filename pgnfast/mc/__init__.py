"""Parallel-tempering Monte Carlo with exact local energy differences.

    pt = pgnfast.mc.ParallelTempering(potential, positions, cell, temperatures, seed=0)
    summary = pt.run(1000, checkpoint="run/state.npz", writers=[JsonLinesLog("run/log.jsonl")])

Works with anything following :mod:`pgnfast.potentials.base` (the NequIP model, the DFT
functional, the analytic potentials in :mod:`pgnfast.potentials`).
"""

from .cells import IncrementalCellList
from .checkerboard import Checkerboard, CheckerboardError
from .checkpoint import load_checkpoint, save_checkpoint
from .engine import ParallelTempering
from .errors import MonteCarloInputError
from .exchange import ReplicaExchange
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
    "load_checkpoint",
    "quench",
    "save_checkpoint",
]
