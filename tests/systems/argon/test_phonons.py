"""Phonons of fcc argon at 0 K (pgnfast.systems.argon.phonons): the exact Lennard-Jones's
force constants, phonopy's frequencies against a direct lattice sum of the dynamical matrix,
the relaxed lattice constant against the analytic lattice-sum minimum, a forces-only model
by finite differences and a NequIP model by autograd."""

from __future__ import annotations

import numpy as np
import pytest

from pgnfast.analysis.hessian import force_constants
from pgnfast.potentials import LennardJones
from pgnfast.systems.argon.phonons import (
    POINTS,
    Relaxation,
    compute_phonons,
    fcc_phonopy,
    fcc_supercell,
    frequencies_at,
    lj_direct_frequencies,
    lj_fcc_lattice_constant,
    phonon_model,
    plot_phonons,
    relax_lattice_constant,
)
from pgnfast.systems.argon.reference import CUTOFF, EPSILON, MASS, SIGMA, argon_lj

pytest.importorskip("phonopy")


def _exact_phonons(lattice_constant, n_cells=2, **kwargs):
    relaxation = Relaxation(lattice_constant, "fixed")
    return compute_phonons(phonon_model(**kwargs), relaxation, n_cells, band_points=5, mesh=4)


def test_lj_force_constants_obey_the_acoustic_sum_rule(rng):
    a = float(rng.uniform(5.1, 5.5))
    phonon = fcc_phonopy(a, 2)
    model = phonon_model()
    hessian = model.hessian(phonon.supercell.positions, phonon.supercell.cell)
    constants = force_constants(hessian)
    scale = np.abs(constants).max()
    assert np.abs(constants.sum(axis=1)).max() < 1e-12 * scale  # sum over j of FC[i, j]
    assert np.abs(constants.sum(axis=0)).max() < 1e-12 * scale
    autograd = phonon_model(hessian_method="autograd").hessian(
        phonon.supercell.positions, phonon.supercell.cell
    )
    assert np.abs(autograd - hessian).max() < 1e-10 * np.abs(hessian).max()


def test_phonopy_frequencies_are_zero_at_gamma_and_match_the_direct_dynamical_matrix(rng):
    a = float(rng.uniform(5.15, 5.4))
    n_cells = 2
    result = _exact_phonons(a, n_cells)
    assert result.asymmetry == 0.0
    assert np.abs(result.at_points["Gamma"]).max() < 1e-5  # THz, acoustic
    for name in ("X", "L"):
        q = np.array(POINTS[name]) * 2 * np.pi / a
        direct = lj_direct_frequencies(q, a, EPSILON, SIGMA, CUTOFF, MASS)
        assert np.abs(np.array(result.at_points[name]) - direct).max() < 1e-6
    transverse, other, longitudinal = result.at_points["X"]
    assert abs(transverse - other) < 1e-9 and longitudinal > 1.2 * transverse
    # a random q commensurate with the supercell, in phonopy's reduced coordinates
    integers = rng.integers(-n_cells, n_cells + 1, size=3)
    q_cartesian = integers / n_cells  # units 2 pi / a
    result.phonopy.run_qpoints(
        [np.array([[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]) @ q_cartesian]
    )
    phonopy_values = np.sort(result.phonopy.qpoints.frequencies[0])
    direct = lj_direct_frequencies(q_cartesian * 2 * np.pi / a, a, EPSILON, SIGMA, CUTOFF)
    assert np.abs(phonopy_values - direct).max() < 1e-6


def test_relaxed_lattice_constant_is_the_lattice_sum_minimum(rng):
    sigma = float(rng.uniform(3.2, 3.6))
    potential = LennardJones(float(rng.uniform(0.005, 0.02)), sigma, 2.5 * sigma)
    model = phonon_model(potential)
    relaxation = relax_lattice_constant(model, n_cells=2, bounds=(1.45 * sigma, 1.7 * sigma))
    exact = lj_fcc_lattice_constant(potential.epsilon, sigma, potential.cutoff)
    assert relaxation.method == "energy minimum"
    assert abs(relaxation.lattice_constant - exact) < 1e-6 * exact
    assert abs(lj_fcc_lattice_constant(EPSILON, SIGMA, CUTOFF) - 5.2687) < 1e-3  # argon


def test_forces_only_model_by_finite_differences(rng):
    a = float(rng.uniform(5.2, 5.35))
    potential = argon_lj()

    def forces(positions, cell):
        return potential.energy_forces(positions, cell, None, True)[1]

    model = phonon_model(forces, "forces only", step=1e-3)
    assert model.energy is None and model.hessian_method == "finite_differences"
    fixed = relax_lattice_constant(model, lattice_constant=a)
    assert fixed.method == "fixed" and fixed.lattice_constant == a
    result = compute_phonons(model, fixed, 2, band_points=5, mesh=4)
    exact = _exact_phonons(a)
    assert 0 < result.asymmetry < 1e-6
    for name in ("X", "L"):
        assert np.abs(np.subtract(result.at_points[name], exact.at_points[name])).max() < 1e-5


def test_nequip_autograd_phonons_match_its_finite_differences(rng):
    torch = pytest.importorskip("torch")
    from pgnfast.testing import small_model

    model = small_model(
        torch.float64, seed=int(rng.integers(1000)), num_types=1, r_max=4.5, num_layers=1, l_max=1
    )
    a = float(rng.uniform(5.2, 5.35))
    relaxation = Relaxation(a, "fixed")
    automatic = compute_phonons(phonon_model(model), relaxation, 2, band_points=5, mesh=4)
    finite = phonon_model(model, hessian_method="finite_differences", step=1e-3)
    numeric = compute_phonons(finite, relaxation, 2, band_points=5, mesh=4)
    assert automatic.hessian_method == "autograd" and automatic.asymmetry < 1e-10
    assert numeric.asymmetry < 1e-5
    for name in ("X", "L"):
        values = np.array(automatic.at_points[name])
        assert np.abs(values - numeric.at_points[name]).max() < 1e-4 * np.abs(values).max()


def test_frequencies_and_plot(rng, tmp_path):
    a = float(rng.uniform(5.2, 5.35))
    result = _exact_phonons(a)
    assert set(frequencies_at(result.phonopy, ("X",))) == {"X"}
    assert result.band["frequencies"].shape == (5 * 5, 3)
    assert np.all(result.dos["dos"] >= 0)
    plot_phonons([result, _exact_phonons(a, hessian_method="autograd")], tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert result.summary()["frequencies_thz"]["X"] == result.at_points["X"]


class _DirectForces:
    """A stand-in for a direct-force model: forces, no energy."""

    has_energy = False
    r_max, num_types = 8.5, 1

    def forward(self, graph):
        raise AssertionError("phonons must call predict_forces")

    def predict_forces(self, positions, cell=None, types=None, pbc=True):
        return argon_lj().energy_forces(positions, cell, None, pbc)[1]


def test_direct_force_module_is_forces_only(rng):
    from pgnfast.errors import InputError

    a = float(rng.uniform(5.2, 5.35))
    model = phonon_model(_DirectForces())
    assert model.energy is None and model.hessian_method == "finite_differences"
    positions, cell = fcc_supercell(a, 1)
    positions = positions + rng.normal(0, 0.05, positions.shape)
    expected = argon_lj().energy_forces(positions, cell, None, True)[1]
    assert np.array_equal(model.forces(positions, cell), expected)
    with pytest.raises(InputError, match="has no energy to differentiate"):
        phonon_model(_DirectForces(), hessian_method="autograd")


def test_ase_calculators_relax_by_energy_or_by_zero_pressure(rng):
    from ase.calculators.calculator import Calculator, all_changes

    from pgnfast.md.calculator import PotentialCalculator, pair_results, voigt

    class ForcesAndStress(Calculator):
        implemented_properties = ["forces", "stress"]

        def calculate(self, atoms=None, properties=("forces",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            results = pair_results(argon_lj(), self.atoms.positions, self.atoms.cell[:], True, True)
            self.results = {"forces": results["forces"], "stress": voigt(results["stress"])}

    exact = lj_fcc_lattice_constant(EPSILON, SIGMA, CUTOFF)
    bounds = (float(rng.uniform(4.9, 5.1)), float(rng.uniform(5.5, 5.8)))
    by_energy = relax_lattice_constant(phonon_model(PotentialCalculator(argon_lj())), 2, bounds)
    by_pressure = relax_lattice_constant(phonon_model(ForcesAndStress()), 2, bounds)
    assert by_energy.method == "energy minimum" and by_pressure.method == "zero pressure"
    assert abs(by_energy.lattice_constant - exact) < 1e-6 * exact
    assert abs(by_pressure.lattice_constant - exact) < 1e-6 * exact
    assert abs(by_pressure.pressure) < 1e-9
