"""The fast path: PME against the exact Ewald sum, iterative Qeq (preconditioned CG) against
the dense solve, implicit-differentiation gradients against the dense path's autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgnfast.nn.electrostatics import ewald_energy
from pgnfast.nn.pme import PMECoulombOperator, pme_energy
from pgnfast.nn.qeq import qeq, qeq_iterative

from .electrostatics._systems import random_structure, tensor, triclinic_cell

pytest.importorskip("torchpme")


def _batch(rng, sizes=(5, 7, 4), periodic=(True, False, True)):
    """A batch of structures (atoms interleaved): positions, cells (B, 3, 3), pbc per
    structure, batch (N,), chi, J, widths."""
    parts, cells, batch = [], [], []
    for b, (n, p) in enumerate(zip(sizes, periodic)):
        cell = triclinic_cell(rng, 6.0)
        cells.append(cell if p else np.zeros((3, 3)))
        parts.append(rng.uniform(0, 1, (n, 3)) @ cell)
        batch += [b] * n
    order = rng.permutation(len(batch))
    positions = tensor(np.concatenate(parts)[order])
    batch = torch.as_tensor(np.asarray(batch)[order])
    n = len(batch)
    chi = tensor(rng.normal(0.0, 2.0, n))
    hardness = tensor(rng.uniform(5.0, 10.0, n))
    widths = tensor(rng.uniform(0.7, 1.2, n))
    return (
        positions,
        tensor(np.stack(cells)),
        [(p,) * 3 for p in periodic],
        batch,
        chi,
        hardness,
        widths,
    )


def test_cg_charges_equal_the_dense_solve(rng):
    positions, cells, pbc, batch, chi, hardness, widths = _batch(rng)
    totals = tensor(rng.uniform(-2, 2, 3))
    options = dict(batch=batch, total_charge=totals, cell=cells, pbc=pbc)
    dense = qeq(chi, hardness, positions, widths, **options)
    fast = qeq_iterative(
        chi, hardness, positions, widths, method="ewald", tolerance=1e-13, **options
    )
    error = (fast.charges - dense.charges).norm() / dense.charges.norm()
    assert float(error) < 1e-8
    sums = torch.zeros(3, dtype=torch.float64).index_add(0, batch, fast.charges)
    assert torch.allclose(sums, totals, rtol=0, atol=1e-10)
    for name in ("energy", "electrostatic_energy", "chemical_potential"):
        assert torch.allclose(getattr(fast, name), getattr(dense, name), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("method", ["ewald", "pme"])
def test_implicit_gradients_equal_the_dense_autograd_gradients(rng, method):
    positions, cells, pbc, batch, chi, hardness, widths = _batch(rng, (6, 5), (True, False))
    leaves = [t.clone().requires_grad_(True) for t in (chi, hardness, positions, widths, cells)]
    weights = tensor(rng.normal(size=len(batch)))
    total = tensor(rng.uniform(-1, 1, 2))

    def loss(solver, **extra):
        result = solver(
            *leaves[:4], batch=batch, total_charge=total, cell=leaves[4], pbc=pbc, **extra
        )
        return (weights * result.charges).sum() + result.electrostatic_energy.sum()

    reference = torch.autograd.grad(loss(qeq), leaves)
    extra = {"accuracy": 1e-7} if method == "pme" else {}
    fast = torch.autograd.grad(loss(qeq_iterative, method=method, tolerance=1e-13, **extra), leaves)
    tolerance = 1e-8 if method == "ewald" else 1e-4
    for name, a, b in zip(("chi", "J", "positions", "widths", "cell"), reference, fast):
        assert float((a - b).norm() / a.norm()) < tolerance, name


def test_implicit_gradients_are_differentiable_for_force_training(rng):
    charges, positions, cell, _ = random_structure(rng, n=6, length=6.0)
    chi, hardness, widths = (
        tensor(rng.normal(size=6)).requires_grad_(True),
        tensor(rng.uniform(5, 10, 6)).requires_grad_(True),
        tensor(rng.uniform(0.7, 1.2, 6)).requires_grad_(True),
    )
    grads = []
    for solver, extra in ((qeq, {}), (qeq_iterative, {"method": "ewald", "tolerance": 1e-13})):
        x = positions.clone().requires_grad_(True)
        result = solver(chi, hardness, x, widths, cell=cell, pbc=True, total_charge=0.5, **extra)
        (forces,) = torch.autograd.grad(-result.electrostatic_energy.sum(), x, create_graph=True)
        grads.append(torch.autograd.grad((forces**2).sum(), (chi, hardness, widths)))
    for a, b in zip(*grads):
        assert float((a - b).norm() / a.norm()) < 1e-8


@pytest.mark.parametrize("accuracy", [1e-4, 1e-6])
@pytest.mark.parametrize("gaussian", [False, True], ids=["point", "gaussian"])
@pytest.mark.parametrize("charged", [False, True], ids=["neutral", "charged"])
def test_pme_energy_forces_and_stress_against_the_exact_ewald_sum(rng, accuracy, gaussian, charged):
    charges, positions, cell, widths = random_structure(
        rng, n=24, length=9.0, charged=charged, widths=(0.7, 1.2) if gaussian else None
    )

    def evaluate(function, **options):
        x = positions.clone().requires_grad_(True)
        h = cell.clone().requires_grad_(True)
        energy = function(charges, x, h, widths, **options)
        return (energy, *torch.autograd.grad(energy, (x, h)))

    fast = evaluate(pme_energy, accuracy=accuracy)
    exact = evaluate(ewald_energy, accuracy=1e-14)
    scale = float((charges**2).sum()) * 14.4  # eV: energies and forces are this order
    assert abs(float(fast[0].detach() - exact[0].detach())) < 10 * accuracy * scale
    assert float((fast[1] - exact[1]).abs().max()) < 10 * accuracy * scale
    assert float((fast[2] - exact[2]).abs().max()) < 10 * accuracy * scale


def test_pme_energy_is_independent_of_the_splitting(rng):
    charges, positions, cell, widths = random_structure(rng, n=16, length=8.0, charged=True)
    energies = [float(pme_energy(charges, positions, cell, widths, r_cut=r)) for r in (7.0, 10.0)]
    exact = float(ewald_energy(charges, positions, cell, widths))
    scale = float((charges**2).sum()) * 14.4
    for energy in energies:
        assert abs(energy - exact) < 1e-5 * scale


def test_pme_operator_is_symmetric(rng):
    _, positions, cell, widths = random_structure(rng, n=20, length=8.0)
    operator = PMECoulombOperator(positions, cell, widths)
    u, v = tensor(rng.normal(size=20)), tensor(rng.normal(size=20))
    left = u @ operator.matvec(v, positions, cell, widths)
    right = v @ operator.matvec(u, positions, cell, widths)
    assert abs(float(left - right)) < 1e-12 * abs(float(left)) + 1e-12
    both = operator.matvec(torch.stack([u, v], 1), positions, cell, widths)
    assert torch.allclose(both[:, 0], operator.matvec(u, positions, cell, widths), atol=1e-12)


def test_pme_cg_charges_match_the_dense_solve_at_the_pme_accuracy(rng):
    positions, cells, pbc, batch, chi, hardness, widths = _batch(rng, (30,), (True,))
    dense = qeq(chi, hardness, positions, widths, cell=cells[0], pbc=True, total_charge=1.0)
    fast = qeq_iterative(
        chi, hardness, positions, widths, cell=cells[0], pbc=True, total_charge=1.0, accuracy=1e-7
    )
    assert float((fast.charges - dense.charges).abs().max()) < 1e-5
    assert abs(float(fast.charges.sum()) - 1.0) < 1e-10


def _random_ionic_box(rng, n, density=0.05):
    """n atoms uniformly in a slightly triclinic box at `density` atoms / Angstrom^3, with
    Gaussian widths, hardness and the H diagonal of the Qeq preconditioner."""
    length = (n / density) ** (1.0 / 3.0)
    cell = tensor(length * (np.eye(3) + 0.05 * rng.uniform(-1.0, 1.0, (3, 3))))
    positions = tensor(rng.uniform(0.0, 1.0, (n, 3))) @ cell
    widths = tensor(rng.uniform(0.8, 1.2, n))
    hardness = tensor(rng.uniform(5.0, 10.0, n))
    operator = PMECoulombOperator(positions, cell, widths, accuracy=1e-5)
    diagonal = operator.diagonal(widths, hardness) + hardness
    return operator, positions, cell, widths, hardness, diagonal


def test_long_wave_preconditioner_is_symmetric_positive_definite(rng):
    operator, positions, cell, widths, _, diagonal = _random_ionic_box(rng, 80)
    inverse = operator.preconditioner(diagonal, positions, cell, widths)
    matrix = inverse(torch.eye(80, dtype=torch.float64))
    assert torch.allclose(matrix, matrix.T, rtol=0, atol=1e-12 * float(matrix.abs().max()))
    assert float(torch.linalg.eigvalsh(matrix).min()) > 0.0


def test_long_wave_preconditioner_bounds_the_longest_charge_wave(rng):
    """Under Jacobi the longest charge wave of a 1000-atom box has a Rayleigh quotient
    lambda / d >> 1 (about 11 here, growing as the box length squared); the k-space
    correction maps it to e + (1 - e) lambda / d, e = exp(-k^2 / k_e^2) the envelope, which
    stays below 1 + (k_c / k_e)^2 = 5 whatever the box."""
    operator, positions, cell, widths, hardness, diagonal = _random_ionic_box(rng, 1000)
    apply = operator.bind(positions, cell, widths)
    inverse = operator.preconditioner(diagonal, positions, cell, widths)
    wavevector = 2.0 * np.pi * torch.linalg.inv(cell).T[int(rng.integers(0, 3))]
    wave = torch.cos(positions @ wavevector + float(rng.uniform(0, 2 * np.pi)))
    h_wave = apply(wave) + hardness * wave
    jacobi = float(wave @ (h_wave / diagonal) / (wave @ wave))
    corrected = float(wave @ inverse(h_wave) / (wave @ wave))
    density = 1000 / float(torch.linalg.det(cell).abs())
    k_corrected_sq = 14.399645 * 4 * np.pi * density / float(diagonal.mean())
    envelope = np.exp(-float(wavevector @ wavevector) / (0.25 * k_corrected_sq))
    assert jacobi > 5.0
    assert corrected == pytest.approx(envelope + (1 - envelope) * jacobi, rel=0.2)
    assert corrected < 5.0


def test_mesh_transfer_equals_torch_pme_spreading_and_gathering(rng):
    """The once-per-geometry weights reproduce torch-pme's own points_to_mesh and
    mesh_to_points (the reference) on random positions, charges and mesh values."""
    from torchpme.lib import MeshInterpolator

    from pgnfast.nn.pme import _mesh_transfer, mesh_points

    cell = tensor(triclinic_cell(rng, 9.0))
    positions = tensor(rng.uniform(0, 1, (40, 3))) @ cell
    mesh = mesh_points(cell, 0.9)
    interpolation = MeshInterpolator(cell, mesh, 6, method="Lagrange")
    interpolation.compute_weights(positions)
    to_mesh, to_points = _mesh_transfer(interpolation, mesh)
    charges = tensor(rng.normal(size=(40, 3)))
    values = tensor(rng.normal(size=(3, *mesh.tolist())))
    assert to_mesh is not interpolation.points_to_mesh  # the fast path, not the fallback
    assert torch.allclose(to_mesh(charges), interpolation.points_to_mesh(charges), atol=1e-12)
    assert torch.allclose(to_points(values), interpolation.mesh_to_points(values), atol=1e-12)
