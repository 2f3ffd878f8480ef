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
