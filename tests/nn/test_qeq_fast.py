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


def _coarse_model(operator, positions, cell, widths, diagonal):
    """The dense (n, n) matrix D + W^T G W that the two-level preconditioner inverts, built
    here from its documented parts: W the 4-node Lagrange interpolation onto the coarse
    mesh, G the enveloped long-wave Coulomb kernel k_e 4 pi / k^2 exp(-k^2 (s^2 +
    1 / k_env^2)) per volume."""
    from torchpme.lib import MeshInterpolator

    from pgnfast.nn import pme

    n = len(positions)
    volume = float(torch.linalg.det(cell).abs())
    mean_diagonal = float(1.0 / (1.0 / diagonal).mean())
    strength = 14.399645 * 4 * np.pi * n / volume
    k_env = pme.LONG_WAVE_ENVELOPE * np.sqrt(strength / mean_diagonal)
    spacing = min(max(2 * np.pi / (pme.LONG_WAVE_MESH_POINTS * k_env), 0.5), 8.0)
    mesh = pme.mesh_points(cell, spacing)
    interpolation = MeshInterpolator(cell, mesh, 4, method="Lagrange")
    interpolation.compute_weights(positions)
    spreading = interpolation.points_to_mesh(torch.eye(n, dtype=torch.float64))
    w = spreading.reshape(n, -1)  # (n, M): row a = atom a's weights on the mesh
    shape = tuple(int(v) for v in mesh)
    fx, fy, fz = (np.fft.fftfreq(m, 1.0 / m) for m in shape)
    grid = np.stack(np.meshgrid(fx, fy, fz, indexing="ij"), -1).reshape(-1, 3)
    k = 2 * np.pi * grid @ np.linalg.inv(cell.numpy()).T
    k2 = (k**2).sum(1)
    spread = float((widths**2).mean())
    with np.errstate(divide="ignore"):
        kernel = 14.399645 * 4 * np.pi / k2 * np.exp(-k2 * (spread + 1.0 / k_env**2))
    kernel[k2 == 0] = 0.0
    nodes = np.stack(np.meshgrid(*(np.arange(m) for m in shape), indexing="ij"), -1).reshape(-1, 3)
    fourier = np.exp(2j * np.pi * (grid @ (nodes / np.array(shape)).T))  # (M, M)
    coulomb = (fourier.conj().T @ (kernel[:, None] * fourier)).real / volume
    return torch.diag(diagonal) + w @ torch.as_tensor(coulomb) @ w.T


def test_two_level_preconditioner_inverts_its_coarse_model(rng, monkeypatch):
    """With the coarse system solved to convergence, P^-1 is the exact inverse (Woodbury)
    of the model D + W^T G W, built densely here from its definition."""
    from pgnfast.nn import pme

    monkeypatch.setattr(pme, "COARSE_ITERATIONS", 80)
    operator, positions, cell, widths, _, diagonal = _random_ionic_box(rng, 40)
    model = _coarse_model(operator, positions, cell, widths, diagonal)
    inverse = operator.preconditioner(diagonal, positions, cell, widths)
    x = tensor(rng.normal(size=(40, 2)))
    assert float((model - torch.diag(diagonal)).abs().max()) > 0.1  # a real correction
    torch.testing.assert_close(inverse(model @ x), x, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("n", [1000, 3000])
def test_two_level_preconditioner_keeps_the_iteration_count_low(rng, n):
    """Jacobi needs about 32 and 45 iterations at N = 1e3 and 3e3 (growing as the box
    length); the two-level preconditioner about 13 (measured flat to 3e4)."""
    import importlib

    solver = importlib.import_module("pgnfast.nn.qeq")
    operator, positions, cell, widths, hardness, diagonal = _random_ionic_box(rng, n)
    apply = operator.bind(positions, cell, widths)

    def h(x):
        return apply(x) + hardness[:, None] * x

    rhs = torch.stack([tensor(rng.normal(0, 2, n)), torch.ones(n, dtype=torch.float64)], 1)
    inverse = operator.preconditioner(diagonal, positions, cell, widths)
    with torch.no_grad():
        solution, iterations = solver._conjugate_gradients(h, inverse, rhs, 1e-6, 200)
        _, jacobi = solver._conjugate_gradients(h, lambda r: r / diagonal[:, None], rhs, 1e-6, 200)
    assert float((h(solution) - rhs).norm() / rhs.norm()) < 1e-6
    assert iterations <= 20 < jacobi


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
