"""Ewald sums of point and Gaussian charges against exact references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pgnfast.nn.electrostatics import (
    COULOMB_CONSTANT,
    coulomb_matrix,
    ewald_energy,
    ewald_parameters,
    reciprocal_vectors,
)

from ._systems import (
    central_difference,
    random_structure,
    reciprocal_reference,
    screened_lattice_sum,
    spherical_lattice_sum,
    tensor,
)

K = COULOMB_CONSTANT


def _rotation(rng) -> torch.Tensor:
    matrix, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return tensor(matrix * np.sign(np.linalg.det(matrix)))


def _madelung(charges, positions, cell, nearest, rng, **options):
    """Madelung constant -E r0 / (k n_pairs) of a binary +-1 crystal, translated and rotated
    at random."""
    rotation = _rotation(rng)
    shifted = (tensor(positions) + tensor(rng.uniform(-3, 3, 3))) @ rotation
    energy = ewald_energy(tensor(charges), shifted, tensor(cell) @ rotation, **options)
    return -float(energy) * nearest / (K * len(charges) / 2)


def test_madelung_rock_salt_conventional_and_primitive(rng):
    a = rng.uniform(3.0, 7.0)
    fcc = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    positions = np.vstack([fcc, fcc + [0.5, 0, 0]]) * a
    charges = [1.0] * 4 + [-1.0] * 4
    assert _madelung(charges, positions, np.eye(3) * a, a / 2, rng) == pytest.approx(
        1.747565, abs=1e-6
    )
    # the two-atom primitive cell is triclinic (60 degree angles)
    primitive = np.array([[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]) * a
    two = np.array([[0.0, 0.0, 0.0], [0.5 * a, 0.0, 0.0]])
    assert _madelung([1.0, -1.0], two, primitive, a / 2, rng) == pytest.approx(1.747565, abs=1e-6)


def test_madelung_cesium_chloride(rng):
    a = rng.uniform(3.0, 7.0)
    positions = np.array([[0, 0, 0], [0.5, 0.5, 0.5]]) * a
    nearest = a * math.sqrt(3) / 2
    value = _madelung([1.0, -1.0], positions, np.eye(3) * a, nearest, rng)
    assert value == pytest.approx(1.762675, abs=1e-6)


@pytest.mark.parametrize("charged", [False, True], ids=["neutral", "charged"])
@pytest.mark.parametrize("gaussian", [False, True], ids=["point", "gaussian"])
def test_independent_of_the_splitting_parameter(rng, charged, gaussian):
    charges, positions, cell, widths = random_structure(
        rng, n=5, charged=charged, widths=(0.3, 0.7) if gaussian else None
    )
    alpha = ewald_parameters(cell, 5).alpha
    energies = [
        float(ewald_energy(charges, positions, cell, widths, alpha=a, accuracy=1e-13))
        for a in (0.6 * alpha, 2.0 * alpha)
    ]
    assert energies[0] == pytest.approx(energies[1], rel=1e-8, abs=1e-8)


@pytest.mark.parametrize("charged", [False, True], ids=["neutral", "charged"])
def test_wide_gaussians_match_the_plain_fourier_sum(rng, charged):
    # a small cell: the real-space cutoff reaches well beyond the box (many images)
    charges, positions, cell, widths = random_structure(
        rng, n=5, length=3.0, charged=charged, widths=(0.8, 1.2)
    )
    params = ewald_parameters(cell, 5, widths=widths)
    assert params.r_cut > 2 * float(torch.linalg.norm(cell, dim=1).max())
    energy = float(ewald_energy(charges, positions, cell, widths, accuracy=1e-13))
    reference = reciprocal_reference(charges, positions, cell, widths, K)
    assert energy == pytest.approx(reference, rel=1e-9, abs=1e-9)


def test_point_charges_match_torch_pme(rng):
    torchpme = pytest.importorskip("torchpme")
    from pgnfast.neighbors import neighbor_list

    charges, positions, cell, _ = random_structure(rng, n=6, widths=None)
    smearing, s = 1.0, 9.0  # torch-pme converges to 1e-9 from s = 8
    pairs = neighbor_list(positions, cell, s * math.sqrt(2) * smearing, half=True)
    calculator = torchpme.EwaldCalculator(
        torchpme.CoulombPotential(smearing=smearing),
        lr_wavelength=2 * math.pi / (2 * s / (math.sqrt(2) * smearing)),
    ).to(torch.float64)
    potentials = calculator(
        charges[:, None], cell, positions, torch.stack([pairs.i, pairs.j], 1), pairs.distances
    )
    reference = K * float((charges[:, None] * potentials).sum())
    energy = float(ewald_energy(charges, positions, cell, accuracy=1e-13))
    assert energy == pytest.approx(reference, rel=1e-8, abs=1e-8)


def test_reciprocal_vectors_cover_the_full_range(rng):
    _, _, cell, _ = random_structure(rng, n=1)
    k_max = rng.uniform(2.0, 4.0)
    found = reciprocal_vectors(cell, k_max).numpy()
    wide = np.arange(-40, 41)
    m = np.stack(np.meshgrid(wide, wide, wide, indexing="ij"), -1).reshape(-1, 3)
    k = 2 * np.pi * m @ np.linalg.inv(cell.numpy()).T
    norms = np.linalg.norm(k, axis=1)
    expected = k[(norms > 0) & (norms <= k_max)]
    assert len(found) == len(expected)
    # every k and -k present (the published code's single-valued range misses negatives)
    as_set = {tuple(np.round(v, 9)) for v in found}
    assert as_set == {tuple(np.round(v, 9)) for v in expected}
    assert all(tuple(np.round(-v, 9)) in as_set for v in found)


@pytest.mark.parametrize("gaussian", [False, True], ids=["point", "gaussian"])
def test_energy_is_half_q_a_q(rng, gaussian):
    charges, positions, cell, widths = random_structure(
        rng, n=5, charged=True, widths=(0.3, 0.9) if gaussian else None
    )
    energy = ewald_energy(charges, positions, cell, widths)
    matrix = coulomb_matrix(positions, widths, cell=cell, pbc=True)
    assert torch.allclose(matrix, matrix.T, rtol=0, atol=1e-12)
    assert float(0.5 * charges @ matrix @ charges) == pytest.approx(float(energy), rel=1e-10)


def test_self_energy_flag(rng):
    charges, positions, cell, widths = random_structure(rng, n=4, widths=(0.3, 0.9))
    with_self = ewald_energy(charges, positions, cell, widths)
    without = ewald_energy(charges, positions, cell, widths, include_self=False)
    expected = K * float((charges**2 / (2 * math.sqrt(math.pi) * widths)).sum())
    assert float(with_self - without) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("gaussian", [False, True], ids=["point", "gaussian"])
def test_gradients_match_finite_differences(rng, gaussian):
    charges, positions, cell, widths = random_structure(
        rng, n=3, length=4.0, charged=True, widths=(0.4, 0.8) if gaussian else None
    )
    options = {"alpha": 0.9, "r_cut": 9.0, "k_max": 8.0}
    inputs = [charges, positions, cell] + ([widths] if gaussian else [])
    inputs = [x.clone().requires_grad_(True) for x in inputs]

    def energy(q, r, h, s=None):
        return ewald_energy(q, r, h, s, **options)

    gradients = torch.autograd.grad(energy(*inputs), inputs)
    for index, gradient in enumerate(gradients):

        def moved(value, index=index):
            values = [x.detach() for x in inputs]
            values[index] = value
            return energy(*values)

        numeric = central_difference(moved, inputs[index])
        assert torch.allclose(gradient, numeric, rtol=1e-6, atol=1e-6), index


def test_rotation_and_translation_invariance(rng):
    charges, positions, cell, widths = random_structure(rng, n=5, widths=(0.3, 0.9))
    energy = ewald_energy(charges, positions, cell, widths)
    rotation = _rotation(rng)
    moved = (positions + tensor(rng.normal(size=3) * 10)) @ rotation
    other = ewald_energy(charges, moved, cell @ rotation, widths)
    assert float(other) == pytest.approx(float(energy), rel=1e-9, abs=1e-9)
    order = torch.as_tensor(rng.permutation(5))
    permuted = ewald_energy(charges[order], positions[order], cell, widths[order])
    assert float(permuted) == pytest.approx(float(energy), rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("charged", [False, True], ids=["neutral", "charged"])
def test_point_charges_match_a_fourier_plus_lattice_sum(rng, charged):
    # point charge = Gaussian of width s (plain Fourier sum) + the short-ranged difference
    # erfc(r / (2 s)) / r summed directly over lattice images, less the Gaussian self energy
    # and the Gaussians' interaction with the neutralising background
    charges, positions, cell, _ = random_structure(rng, n=5, length=4.0, charged=charged)
    width = 0.9
    widths = torch.full((5,), width, dtype=torch.float64)
    fourier = reciprocal_reference(charges, positions, cell, widths, K)
    lattice = K * screened_lattice_sum(charges, positions, cell, width, cutoff=2 * width * 7)
    self_energy = K * float((charges**2).sum()) / (2 * math.sqrt(math.pi) * width)
    volume = abs(float(torch.linalg.det(cell)))
    background = K * 2 * math.pi * float(charges.sum()) ** 2 * width**2 / volume
    reference = fourier + lattice - self_energy - background
    energy = float(ewald_energy(charges, positions, cell, accuracy=1e-13))
    assert energy == pytest.approx(reference, rel=1e-9, abs=1e-9)


def test_narrow_gaussians_become_point_charges(rng):
    charges, positions, cell, _ = random_structure(rng, n=5, widths=None)
    narrow = torch.full((5,), 1e-3, dtype=torch.float64)
    gaussian = ewald_energy(charges, positions, cell, narrow, include_self=False)
    point = ewald_energy(charges, positions, cell)
    assert float(gaussian) == pytest.approx(float(point), rel=1e-8, abs=1e-8)


def test_point_charges_match_a_spherical_lattice_sum(rng):
    # no Gaussians and no splitting: the plain Coulomb sum over a sphere of cell images,
    # with its dipole surface term removed (slow convergence: within 1e-3 in 20 draws)
    charges, positions, cell, _ = random_structure(rng, n=4, length=4.0, widths=None)
    reference = K * spherical_lattice_sum(charges, positions, cell)
    energy = float(ewald_energy(charges, positions, cell))
    assert energy == pytest.approx(reference, rel=5e-3, abs=5e-3 * K)
