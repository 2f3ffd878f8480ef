"""The argon vacancy at tiny sizes: formation energy against an independent brute-force
computation, the migration saddle's Hessian, the Vineyard prefactor by two Hessian routes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import minimize

from pgnfast.analysis.paths import potential_band
from pgnfast.errors import InputError
from pgnfast.systems.argon import argon_lj, lattice_sites
from pgnfast.systems.argon.reference import CUTOFF, EPSILON, SIGMA
from pgnfast.systems.argon.vacancy import (
    find_vacancy,
    formation_energies,
    migration_endpoints,
    model_hessian_function,
    saddle_check,
    vacancy_study,
    vacancy_supercell,
)

SHIFTS = np.array(list(itertools.product((-1, 0, 1), repeat=3)), float)


def brute_force_energy_gradient(flat, cell):
    """Lennard-Jones energy and gradient by explicit images (-1, 0, 1) of wrapped positions
    (valid while the cutoff is below the box length), no neighbor list."""
    x = flat.reshape(-1, 3)
    x = x - np.floor(x @ np.linalg.inv(cell)) @ cell
    d = x[None, :, None, :] - x[:, None, None, :] + (SHIFTS @ cell)[None, None]
    r2 = np.einsum("ijsk,ijsk->ijs", d, d)
    keep = (r2 < CUTOFF**2) & (r2 > 1e-6)
    s6 = np.where(keep, (SIGMA**2 / np.where(keep, r2, 1.0)) ** 3, 0.0)
    energy = 0.5 * np.sum(4 * EPSILON * (s6 * s6 - s6))
    dphi_over_r = np.where(keep, 4 * EPSILON * (-12 * s6 * s6 + 6 * s6) / np.where(keep, r2, 1), 0)
    gradient = -np.einsum("ijs,ijsk->ik", dphi_over_r, d)
    return energy, gradient.reshape(-1)


def _relaxed_energy(positions, cell):
    found = minimize(
        brute_force_energy_gradient,
        positions.reshape(-1),
        args=(cell,),
        jac=True,
        method="L-BFGS-B",
        options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 5000},
    )
    return found.fun


def test_formation_energy_equals_a_brute_force_computation(rng):
    a0 = rng.uniform(5.2, 5.3)
    result = formation_energies(argon_lj(), 2, a0, fmax=1e-5)
    sites, cell = lattice_sites(2, a0)
    perfect, gradient = brute_force_energy_gradient(sites.reshape(-1), cell)
    assert np.abs(gradient).max() < 1e-10
    vacancy, cell = vacancy_supercell(2, a0, site=int(rng.integers(32)))
    relaxed = _relaxed_energy(vacancy, cell)
    expected = relaxed - perfect * 31 / 32
    assert result["formation_energy_constant_volume"] == pytest.approx(expected, abs=1e-8)
    # unrelaxed: removing an atom removes its bonds, so E_f = -E / N
    unrelaxed = brute_force_energy_gradient(vacancy.reshape(-1), cell)[0] - perfect * 31 / 32
    assert result["unrelaxed_formation_energy"] == pytest.approx(unrelaxed, rel=1e-12)
    assert result["formation_energy_constant_volume"] < unrelaxed


def test_zero_pressure_formation_energy_is_a_minimum_over_volume():
    result = formation_energies(argon_lj(), 2, None, fmax=1e-5)
    a0, a_p = result["lattice_constant"], result["zero_pressure_lattice_constant"]
    perfect = brute_force_energy_gradient(
        lattice_sites(2, a0)[0].reshape(-1), lattice_sites(2, a0)[1]
    )
    for delta in (-0.002, 0.002):  # a0 minimises the perfect crystal's energy
        sites, cell = lattice_sites(2, a0 * (1 + delta))
        assert brute_force_energy_gradient(sites.reshape(-1), cell)[0] > perfect[0]
    energies = []
    for a in (a_p * 0.998, a_p, a_p * 1.002):
        vacancy, cell = vacancy_supercell(2, a)
        energies.append(_relaxed_energy(vacancy, cell))
    assert energies[1] < min(energies[0], energies[2])
    expected = energies[1] - perfect[0] * 31 / 32
    assert result["formation_energy_zero_pressure"] == pytest.approx(expected, abs=1e-7)
    assert result["formation_energy_zero_pressure"] <= result["formation_energy_constant_volume"]


def test_find_vacancy_on_a_jittered_lattice(rng):
    site = int(rng.integers(108))
    positions, cell = vacancy_supercell(3, 5.3, site=site)
    positions = positions + rng.normal(0.0, 0.2, positions.shape)
    assert find_vacancy(positions, cell, 3) == site
    with pytest.raises(InputError, match="no vacancy"):
        find_vacancy(lattice_sites(3, 5.3)[0], cell, 3)


def test_migration_saddle_has_one_negative_mode_and_both_methods_agree():
    result = vacancy_study(argon_lj(), n_cells=2, fmax=5e-4)
    assert result["neb"]["converged"] and result["string"]["converged"]
    assert result["vineyard"]["saddle_negative_modes"] == 1
    assert result["endpoint_energy_difference"] == pytest.approx(0.0, abs=1e-6)
    assert result["string_barrier"] == pytest.approx(result["neb_barrier"], abs=1e-4)
    assert 0 < result["neb_barrier"] < result["formation_energy_constant_volume"]
    assert result["neb"]["calls"] > 1
    rates = result["harmonic_rates_per_ps"]
    assert rates["60"]["per_path"] < rates["80"]["per_path"]
    assert rates["80"]["total"] == pytest.approx(12 * rates["80"]["per_path"])


def test_vineyard_prefactor_by_finite_differences_equals_the_analytic_hessian():
    model = argon_lj()
    formation = formation_energies(model, 2, 5.27, fmax=1e-5)
    cell = formation["_cell"]
    initial, final, _ = migration_endpoints(model, formation["_positions"], cell, 2, fmax=1e-5)
    band = potential_band(model, cell)
    assert np.ptp(band(np.stack([initial, final]))[0]) < 1e-8
    analytic = model_hessian_function(model)
    with pytest.raises(InputError, match="exactly one negative"):  # a minimum is no saddle
        saddle_check(model, initial, final, cell)
    study = vacancy_study(model, n_cells=2, lattice_constant=5.27, fmax=1e-4)
    saddle = study["_neb"].images[study["_neb"].climbing_index]
    exact = saddle_check(model, initial, saddle, cell, hessian_function=analytic)
    numeric = saddle_check(
        model,
        initial,
        saddle,
        cell,
        hessian_function=lambda x, c: _finite_difference_hessian(model, x, c),
    )
    assert numeric["prefactor"] == pytest.approx(exact["prefactor"], rel=1e-4)


def _finite_difference_hessian(model, x, cell):
    from pgnfast.analysis.hessian import hessian_finite_differences

    hessian = hessian_finite_differences(lambda y: model.energy_forces(y, cell)[1], x, step=1e-4)
    return 0.5 * (hessian + hessian.T)


def test_nequip_model_hessian_route_matches_its_forces(rng):
    """A model's Hessian (autograd, positions wrapped first) against finite differences of its
    forces on a jittered vacancy cell with atoms outside the cell."""
    import torch

    from pgnfast.nn.potential import Potential
    from pgnfast.testing import small_model

    model = small_model(torch.float64, seed=int(rng.integers(1 << 30)), r_max=4.0, num_types=1)
    positions, cell = vacancy_supercell(2, 5.26)
    positions = positions + rng.normal(0.0, 0.1, positions.shape)
    positions[:4] -= cell[0]  # unwrapped atoms, as relaxations and bands leave them
    potential = Potential(model)
    hessian = model_hessian_function(potential)(positions, cell)
    step = 1e-4
    for row in rng.choice(positions.size, 4, replace=False):  # a few rows, by central differences
        moved = [positions.copy().reshape(-1) for _ in range(2)]
        moved[0][row] += step
        moved[1][row] -= step
        plus, minus = (potential.energy_forces(x.reshape(-1, 3), cell)[1] for x in moved)
        numeric = -(plus - minus).reshape(-1) / (2 * step)
        assert np.abs(hessian[row] - numeric).max() < 1e-6 * np.abs(hessian).max()
