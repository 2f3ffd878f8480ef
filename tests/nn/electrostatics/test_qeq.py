"""Charge equilibration: constraint, dense reference solve, minimum, invariance, forces."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgnfast.nn.electrostatics import coulomb_matrix, electrostatic_energy
from pgnfast.nn.qeq import qeq

from ._systems import central_difference, random_structure, tensor


def _parameters(rng, n):
    """(chi (n,) eV/e, J (n,) eV/e^2, widths (n,) Angstrom)."""
    return (
        tensor(rng.normal(0.0, 2.0, n)),
        tensor(rng.uniform(5.0, 10.0, n)),
        tensor(rng.uniform(0.6, 1.2, n)),
    )


def _molecule(rng, n):
    return tensor(rng.uniform(-3.0, 3.0, (n, 3)))


def _numpy_solve(chi, hardness, matrix, total):
    n = len(chi)
    system = np.zeros((n + 1, n + 1))
    system[:n, :n] = matrix + np.diag(hardness)
    system[:n, n] = system[n, :n] = 1.0
    return np.linalg.solve(system, np.concatenate([-chi, [total]]))[:n]


@pytest.mark.parametrize("periodic", [False, True], ids=["molecule", "periodic"])
def test_charges_sum_to_the_total_and_match_a_numpy_solve(rng, periodic):
    n = 6
    chi, hardness, widths = _parameters(rng, n)
    total = float(rng.uniform(-2.0, 2.0))
    if periodic:
        _, positions, cell, _ = random_structure(rng, n=n, length=5.0)
        options = {"cell": cell, "pbc": True}
    else:
        positions, options = _molecule(rng, n), {}
    result = qeq(chi, hardness, positions, widths, total_charge=total, **options)
    assert float(result.charges.sum()) == pytest.approx(total, abs=1e-12)
    matrix = coulomb_matrix(positions, widths, **options).numpy()
    expected = _numpy_solve(chi.numpy(), hardness.numpy(), matrix, total)
    np.testing.assert_allclose(result.charges.numpy(), expected, rtol=1e-10, atol=1e-12)
    coulomb = electrostatic_energy(result.charges, positions, widths, **options)
    assert float(result.electrostatic_energy[0]) == pytest.approx(float(coulomb), rel=1e-9)


def test_perturbing_the_charges_within_the_constraint_raises_the_energy(rng):
    n = 7
    chi, hardness, widths = _parameters(rng, n)
    positions = _molecule(rng, n)
    result = qeq(chi, hardness, positions, widths, total_charge=1.0)
    matrix = coulomb_matrix(positions, widths)

    def energy(q):
        return float(chi @ q + 0.5 * (hardness * q**2).sum() + 0.5 * q @ matrix @ q)

    assert energy(result.charges) == pytest.approx(float(result.energy[0]), rel=1e-12)
    for _ in range(10):
        step = tensor(rng.normal(size=n))
        step -= step.mean()
        step *= float(rng.uniform(1e-3, 1e-1))
        assert energy(result.charges + step) > energy(result.charges)


def test_batch_of_different_sizes_equals_separate_solves(rng):
    sizes = [3, 5, 4]
    pieces = [_parameters(rng, n) + (_molecule(rng, n),) for n in sizes]
    totals = [0.0, -1.0, 2.0]
    chi, hardness, widths, positions = (torch.cat(p) for p in zip(*pieces))
    batch = torch.repeat_interleave(torch.arange(3), torch.tensor(sizes))
    order = torch.as_tensor(rng.permutation(len(batch)))  # atoms need not be grouped
    result = qeq(
        chi[order],
        hardness[order],
        positions[order],
        widths[order],
        batch=batch[order],
        total_charge=torch.tensor(totals, dtype=torch.float64),
    )
    charges = torch.empty_like(result.charges)
    charges[order] = result.charges
    start = 0
    for b, (n, piece) in enumerate(zip(sizes, pieces)):
        alone = qeq(*piece[:2], piece[3], piece[2], total_charge=totals[b])
        assert torch.allclose(charges[start : start + n], alone.charges, rtol=1e-12, atol=1e-12)
        assert float(result.energy[b]) == pytest.approx(float(alone.energy[0]), rel=1e-12)
        start += n


def test_invariance_under_rotation_translation_and_permutation(rng):
    n = 6
    chi, hardness, widths = _parameters(rng, n)
    positions = _molecule(rng, n)
    reference = qeq(chi, hardness, positions, widths, total_charge=0.5)
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    moved = positions @ tensor(rotation) + tensor(rng.normal(size=3) * 5)
    other = qeq(chi, hardness, moved, widths, total_charge=0.5)
    assert float(other.energy[0]) == pytest.approx(float(reference.energy[0]), rel=1e-10)
    order = torch.as_tensor(rng.permutation(n))
    permuted = qeq(chi[order], hardness[order], positions[order], widths[order], total_charge=0.5)
    assert float(permuted.energy[0]) == pytest.approx(float(reference.energy[0]), rel=1e-10)
    assert torch.allclose(permuted.charges, reference.charges[order], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("periodic", [False, True], ids=["molecule", "periodic"])
def test_forces_include_the_charge_response(rng, periodic):
    n = 4
    chi, hardness, widths = _parameters(rng, n)
    if periodic:
        _, positions, cell, _ = random_structure(rng, n=n, length=4.0)
        options = {"cell": cell, "pbc": True, "accuracy": 1e-12}
    else:
        positions, options = _molecule(rng, n), {}
    positions = positions.clone().requires_grad_(True)
    for quantity in ("energy", "electrostatic_energy"):

        def value(r, quantity=quantity):
            result = qeq(chi, hardness, r, widths, total_charge=1.0, **options)
            return getattr(result, quantity)[0]

        (gradient,) = torch.autograd.grad(value(positions), positions)
        numeric = central_difference(value, positions)
        assert torch.allclose(gradient, numeric, rtol=1e-6, atol=1e-6), quantity
    # the charges really move with the positions (the response is not zero)
    result = qeq(chi, hardness, positions, widths, total_charge=1.0, **options)
    (response,) = torch.autograd.grad(result.charges[0], positions)
    assert float(response.abs().max()) > 1e-4


def test_batch_mixes_periodic_and_free_structures(rng):
    n_free, n_cell = 3, 4
    free = _parameters(rng, n_free) + (_molecule(rng, n_free),)
    _, cell_positions, cell, _ = random_structure(rng, n=n_cell)
    periodic = _parameters(rng, n_cell) + (cell_positions,)
    chi, hardness, widths, positions = (torch.cat(p) for p in zip(free, periodic))
    batch = torch.tensor([0] * n_free + [1] * n_cell)
    cells = torch.stack([torch.zeros(3, 3, dtype=torch.float64), cell])
    result = qeq(chi, hardness, positions, widths, batch=batch, cell=cells, pbc=[False, True])
    alone_free = qeq(*free[:2], free[3], free[2])
    alone_cell = qeq(*periodic[:2], periodic[3], periodic[2], cell=cell, pbc=True)
    expected = torch.cat([alone_free.charges, alone_cell.charges])
    assert torch.allclose(result.charges, expected, rtol=1e-12, atol=1e-12)
    assert float(result.energy[1]) == pytest.approx(float(alone_cell.energy[0]), rel=1e-12)
