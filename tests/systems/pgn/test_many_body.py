"""The pair + three-body force fit of pgnfast.systems.pgn.many_body on synthetic frames whose
forces are known to lie in (or outside) the fitted spaces."""

from __future__ import annotations

import ase
import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator

from pgnfast.errors import InputError
from pgnfast.systems.pgn.many_body import (
    many_body_force_residual,
    pair_force_columns,
    triplet_energies,
    triplet_force_columns,
    triplet_terms,
)


def _frame(rng, n=14, box=6.0, minimum=1.0):
    positions = []
    while len(positions) < n:
        trial = rng.uniform(0, box, 3)
        d = np.array(positions) - trial if positions else np.zeros((0, 3))
        d -= box * np.round(d / box)
        if len(d) == 0 or np.linalg.norm(d, axis=1).min() > minimum:
            positions.append(trial)
    cell = np.diag(rng.uniform(0.95, 1.05, 3)) * box
    cell[0, 1] = rng.uniform(-0.3, 0.3)  # a triclinic cell
    return ase.Atoms("X" * n, positions=np.array(positions), cell=cell, pbc=True)


def test_three_body_forces_are_minus_the_gradient(rng):
    atoms = _frame(rng)
    columns = triplet_force_columns(atoms, 2.5, 3)
    assert columns.shape == (3 * len(atoms), len(triplet_terms(3)))
    assert np.abs(columns).max() > 0
    h = 1e-5
    for particle, axis in [(int(rng.integers(len(atoms))), int(rng.integers(3))) for _ in range(3)]:
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[particle, axis] += h
        minus.positions[particle, axis] -= h
        numeric = -(triplet_energies(plus, 2.5, 3) - triplet_energies(minus, 2.5, 3)) / (2 * h)
        np.testing.assert_allclose(columns[3 * particle + axis], numeric, rtol=1e-6, atol=1e-9)


def test_three_body_energies_are_invariant(rng):
    atoms = _frame(rng)
    energies = triplet_energies(atoms, 2.5, 3)
    moved = atoms.copy()
    moved.positions = moved.positions[rng.permutation(len(atoms))] + rng.normal(size=3)
    np.testing.assert_allclose(triplet_energies(moved, 2.5, 3), energies, rtol=1e-10)


def test_fit_recovers_pair_plus_three_body_forces(rng):
    frames, grid, cutoff = [], np.linspace(0.9, 2.5, 12), 2.0
    pair_values = rng.normal(size=len(grid))
    pair_values[-1] = 0.0
    triplet = rng.normal(size=len(triplet_terms(4)))
    parts = []
    for _ in range(16):
        atoms = _frame(rng)
        pair = pair_force_columns(atoms, grid) @ pair_values
        parts.append((atoms, pair, triplet_force_columns(atoms, cutoff, 4) @ triplet))
    # the three-body forces at half the pair forces' RMS: a part no pair force can hold
    pair_rms = np.sqrt(np.mean(np.concatenate([p for _, p, _ in parts]) ** 2))
    three_rms = np.sqrt(np.mean(np.concatenate([t for _, _, t in parts]) ** 2))
    for atoms, pair, three in parts:
        forces = pair + 0.5 * pair_rms / three_rms * three
        atoms.calc = SinglePointCalculator(atoms, forces=forces.reshape(-1, 3))
        frames.append(atoms)
    out = many_body_force_residual(
        frames, 2.5, [cutoff, 1.5], radial_count=4, knots=12, inner=0.9, test_fraction=0.25
    )
    assert out["frames"] == {"fit": 12, "held-out": 4}
    assert out["pair"]["held-out"] > 0.05  # the three-body part is real
    assert out["pair+triplet"][cutoff]["fit"] < 1e-8  # and exactly representable
    # held-out frames may reach directions the fitted frames left free (a rarely seen knot)
    assert out["pair+triplet"][cutoff]["held-out"] < out["pair"]["held-out"] / 3
    assert out["pair+triplet"][1.5]["held-out"] > 1e-3  # a shorter triplet range misses some


def test_fit_needs_both_sides_of_the_split(rng):
    atoms = _frame(rng)
    atoms.calc = SinglePointCalculator(atoms, forces=np.zeros((len(atoms), 3)))
    with pytest.raises(InputError, match="both sides of the split"):
        many_body_force_residual([atoms], 2.5, [2.0])
