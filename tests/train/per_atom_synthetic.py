"""Synthetic two-type glasses for per-atom training tests: jittered packings in a periodic
cubic box (Angstrom) with a per-atom label that is a known function of the local structure
(a type-weighted, smooth count of neighbours in two shells)."""

from __future__ import annotations

import json

import ase
import numpy as np

from pgnfast.data import write_extxyz
from pgnfast.neighbors import neighbor_list
from pgnfast.units import ATOMISTIC

SPACING = 2.6  # Angstrom between lattice sites before the jitter
SHELLS = (3.0, 4.2)  # Angstrom: outer radii of the first and second shell
SHELL_WEIGHTS = (1.0, -0.6)  # per neighbour in the first, second shell
TYPE_WEIGHTS = (1.0, 1.8)  # a Zr neighbour counts more than a Cu one


def packing(rng, sites_per_side: int = 3, jitter: float = 0.3) -> tuple:
    """(positions (N, 3), cell (3, 3), types (N,)) of N = sites_per_side^3 atoms: a simple
    cubic lattice, every site moved by up to jitter * SPACING, 64 % type 0 (Cu)."""
    m = sites_per_side
    grid = np.stack(np.meshgrid(*[np.arange(m)] * 3, indexing="ij"), -1).reshape(-1, 3)
    positions = (grid + rng.uniform(-jitter, jitter, grid.shape)) * SPACING
    cell = np.eye(3) * m * SPACING
    types = (rng.random(len(grid)) > 0.64).astype(np.int64)
    return positions % (m * SPACING), cell, types


def _smooth_step(r, edge, width=0.15):
    return 1.0 / (1.0 + np.exp((r - edge) / width))


def shell_label(positions, cell, types) -> np.ndarray:
    """(N,) the type-weighted smooth neighbour counts of two shells (periodic)."""
    nl = neighbor_list(positions, cell, SHELLS[1] + 1.0, pbc=True, backend="reference")
    i, j = np.asarray(nl.i), np.asarray(nl.j)
    r = np.linalg.norm(np.asarray(nl.vectors), axis=1)
    first = _smooth_step(r, SHELLS[0])
    second = _smooth_step(r, SHELLS[1]) - first
    weight = np.asarray(TYPE_WEIGHTS)[types[j]]
    per_edge = weight * (SHELL_WEIGHTS[0] * first + SHELL_WEIGHTS[1] * second)
    return np.bincount(i, weights=per_edge, minlength=len(positions))


def glass_atoms(rng, sites_per_side: int = 3, split: str | None = None) -> ase.Atoms:
    """One synthetic glass as ase.Atoms with the `type` and `barrier` columns (the shell
    label, mapped to about 0.5-3 eV) and the atomistic units in info."""
    positions, cell, types = packing(rng, sites_per_side)
    atoms = ase.Atoms(
        symbols=[("Cu", "Zr")[t] for t in types], positions=positions, cell=cell, pbc=True
    )
    atoms.new_array("type", types)
    atoms.new_array("barrier", 1.0 + 0.2 * shell_label(positions, cell, types))
    atoms.info["units"] = json.dumps(ATOMISTIC)
    if split is not None:
        atoms.info["split"] = split
    return atoms


def write_glasses(path, rng, splits, sites_per_side: int = 3):
    """One extxyz file of synthetic glasses, frame k in split splits[k]."""
    return write_extxyz(path, [glass_atoms(rng, sites_per_side, split) for split in splits])


def type_mean_baseline(train_atoms, validation_atoms) -> float:
    """Pearson r on validation of the no-structure predictor: each atom's label is the train
    mean of its type."""
    labels = np.concatenate([a.arrays["barrier"] for a in train_atoms])
    types = np.concatenate([a.arrays["type"] for a in train_atoms])
    means = np.array([labels[types == t].mean() for t in (0, 1)])
    predicted = np.concatenate([means[a.arrays["type"]] for a in validation_atoms])
    truth = np.concatenate([a.arrays["barrier"] for a in validation_atoms])
    return float(np.corrcoef(predicted, truth)[0, 1])
