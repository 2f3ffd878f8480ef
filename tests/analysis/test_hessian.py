"""Hessians: autograd against the analytic Lennard-Jones Hessian, finite differences of
forces, a small NequIP model, sum rules (float64, Angstrom and eV for argon)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgnfast.analysis.hessian import (
    asymmetry,
    force_constants,
    hessian_autograd,
    hessian_finite_differences,
    lennard_jones_energy,
    lennard_jones_hessian,
    model_energy_function,
    model_hessian,
)
from pgnfast.nn.potential import Potential
from pgnfast.systems.argon.reference import CUTOFF, EPSILON, MASS, SIGMA, argon_lj
from pgnfast.testing import random_positions, small_model

LATTICE = 5.26  # Angstrom


def _fcc(cells: int, a: float = LATTICE):
    """fcc argon: positions (4 cells^3, 3) and the cubic cell, Angstrom."""
    basis = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    grid = np.stack(np.meshgrid(*[np.arange(cells)] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
    return (grid + basis).reshape(-1, 3) * a, np.eye(3) * cells * a


def _jittered_fcc(rng):
    positions, cell = _fcc(2)  # 32 atoms in a 10.52 Angstrom box, smaller than 2 cutoffs
    return positions + rng.normal(0.0, 0.05, positions.shape), cell


def _cluster(rng, n=20):
    return random_positions(n, 12.0, rng, min_distance=3.2)  # spacing 4, jitter 0.4 Angstrom


def _sum_rule_error(hessian) -> float:
    """Largest |sum_j H_ij| over 3x3 block rows, relative to the largest entry."""
    n = hessian.shape[0] // 3
    blocks = np.asarray(hessian).reshape(n, 3, n, 3)
    return float(np.abs(blocks.sum(axis=2)).max() / np.abs(hessian).max())


def _relative(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b))


@pytest.mark.parametrize("system", ["fcc", "cluster"])
def test_autograd_equals_analytic_lennard_jones(system, rng):
    if system == "fcc":
        positions, cell = _jittered_fcc(rng)
    else:
        positions, cell = _cluster(rng), None
    exact = lennard_jones_hessian(positions, cell, EPSILON, SIGMA, CUTOFF, pbc=cell is not None)

    def energy(x):
        return lennard_jones_energy(x, cell, EPSILON, SIGMA, CUTOFF, pbc=cell is not None)

    automatic = hessian_autograd(energy, positions, chunk_size=25)
    assert automatic.dtype == torch.float64 and automatic.shape == exact.shape
    assert np.abs(automatic.numpy() - exact).max() <= 1e-10 * np.abs(exact).max()
    assert _sum_rule_error(exact) < 1e-12
    assert _sum_rule_error(automatic.numpy()) < 1e-12
    assert asymmetry(exact) < 1e-14


def test_row_by_row_equals_batched(rng):
    positions = _cluster(rng, 8)

    def energy(x):
        return lennard_jones_energy(x, None, EPSILON, SIGMA, CUTOFF, pbc=False)

    batched = hessian_autograd(energy, positions)
    by_row = hessian_autograd(energy, positions, chunk_size=5, batched=False)
    torch.testing.assert_close(batched, by_row, rtol=1e-13, atol=0.0)


def test_finite_differences_of_pgnfast_lennard_jones(rng):
    positions, cell = _jittered_fcc(rng)
    potential = argon_lj()
    exact = lennard_jones_hessian(positions, cell, EPSILON, SIGMA, CUTOFF)
    numeric = hessian_finite_differences(
        lambda x: potential.energy_forces(x, cell, None, True)[1], positions, step=1e-4
    )
    assert _relative(numeric, exact) < 1e-6
    assert asymmetry(numeric) < 1e-6


def _nequip_system(rng, n=8, box=1.2):
    model = small_model(torch.float64, seed=int(rng.integers(1 << 30)))
    positions = random_positions(n, box, rng, min_distance=0.24)
    return model, positions, box * np.eye(3), rng.integers(0, model.num_types, n)


def test_nequip_hessian_symmetric_and_matches_finite_differences(rng):
    model, positions, cell, types = _nequip_system(rng)
    hessian = model_hessian(model, positions, cell, types).numpy()
    assert asymmetry(hessian) < 1e-10
    assert _sum_rule_error(hessian) < 1e-10

    energy = model_energy_function(model, positions, cell, types)

    def forces(x):
        x = torch.tensor(x, requires_grad=True)
        (gradient,) = torch.autograd.grad(energy(x), x)
        return -gradient.numpy()

    _, potential_forces = Potential(model).energy_forces(positions, cell, types)
    np.testing.assert_allclose(forces(positions), potential_forces, rtol=0, atol=1e-12)
    numeric = hessian_finite_differences(forces, positions, step=1e-5)
    assert _relative(numeric, hessian) < 1e-6


def test_force_constants_layout(rng):
    positions = _cluster(rng, 6)
    hessian = lennard_jones_hessian(positions, None, EPSILON, SIGMA, CUTOFF, pbc=False)
    constants = force_constants(hessian)
    assert constants.shape == (6, 6, 3, 3)
    i, j, a, b = (int(k) for k in rng.integers(0, [6, 6, 3, 3]))
    assert constants[i, j, a, b] == hessian[3 * i + a, 3 * j + b]


def test_energy_linear_in_positions_has_zero_hessian(rng):
    positions = rng.normal(size=(4, 3))
    weights = torch.as_tensor(rng.normal(size=(4, 3)))
    hessian = hessian_autograd(lambda x: (weights * x).sum(), positions)
    assert torch.count_nonzero(hessian) == 0


def test_phonopy_fcc_argon_frequencies_at_x_are_positive(rng):
    phonopy = pytest.importorskip("phonopy")
    from phonopy.structure.atoms import PhonopyAtoms

    unit_positions, unit_cell = _fcc(1)
    positions, cell = _fcc(3)  # the perfect crystal; 3 x 3 x 3 supercell, 108 atoms
    hessian = lennard_jones_hessian(positions, cell, EPSILON, SIGMA, CUTOFF)
    unit = PhonopyAtoms(
        symbols=["Ar"] * 4,
        cell=unit_cell,
        scaled_positions=unit_positions / LATTICE,
        masses=[MASS] * 4,
    )
    phonon = phonopy.Phonopy(unit, supercell_matrix=np.eye(3, dtype=int) * 3, primitive_matrix="F")
    order = _match(phonon.supercell.positions, positions, cell)
    phonon.force_constants = force_constants(hessian)[np.ix_(order, order)]
    # X = (2 pi / a) (1, 0, 0), in the reciprocal coordinates of the fcc primitive cell
    phonon.run_qpoints([[0.0, 0.5, 0.5]])
    frequencies = np.asarray(phonon.qpoints.frequencies[0])  # THz, one atom: 3 branches
    assert frequencies.shape == (3,)
    assert np.all(np.isfinite(frequencies))
    assert np.all(frequencies > 0.1)
    transverse, other_transverse, longitudinal = np.sort(frequencies)
    assert abs(other_transverse - transverse) < 1e-8 * longitudinal  # degenerate at X
    assert longitudinal > 1.2 * transverse  # about 2.0 and 1.4 THz


def _match(target, positions, cell):
    """order such that positions[order[k]] is target[k] modulo the cell."""
    difference = target[:, None, :] - positions[None, :, :]
    fractional = difference @ np.linalg.inv(cell)
    fractional -= np.round(fractional)
    distances = np.linalg.norm(fractional @ cell, axis=2)
    order = distances.argmin(axis=1)
    assert np.all(distances[np.arange(len(order)), order] < 1e-8)
    assert len(set(order.tolist())) == len(order)
    return order
