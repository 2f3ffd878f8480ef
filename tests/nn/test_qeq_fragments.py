"""Charge equilibration with one charge constraint per fragment (e.g. per molecule): the
dense KKT solve against numpy, the constrained minimum, the iterative paths and their
implicit gradients against the dense one, and what fragments change for far-apart
molecules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgnfast.errors import InputError
from pgnfast.nn.electrostatics import coulomb_matrix
from pgnfast.nn.qeq import qeq, qeq_iterative

from .electrostatics._systems import tensor, triclinic_cell


def _structure(rng, n=9, fragments=3, periodic=True):
    """(positions, cell or None, fragment (n,) int64 with every fragment non-empty, chi,
    hardness, widths) of one random structure, Angstrom, eV/e, eV/e^2."""
    cell = triclinic_cell(rng, 7.0)
    positions = tensor(rng.uniform(0, 1, (n, 3)) @ cell)
    fragment = np.concatenate([np.arange(fragments), rng.integers(0, fragments, n - fragments)])
    return (
        positions,
        tensor(cell) if periodic else None,
        torch.as_tensor(rng.permutation(fragment)),
        tensor(rng.normal(0.0, 2.0, n)),
        tensor(rng.uniform(5.0, 10.0, n)),
        tensor(rng.uniform(0.7, 1.2, n)),
    )


def _numpy_kkt(chi, hardness, matrix, fragment, targets):
    n, f = len(chi), len(targets)
    indicator = np.zeros((n, f))
    indicator[np.arange(n), fragment] = 1.0
    system = np.zeros((n + f, n + f))
    system[:n, :n] = matrix + np.diag(hardness)
    system[:n, n:] = indicator
    system[n:, :n] = indicator.T
    solution = np.linalg.solve(system, np.concatenate([-chi, targets]))
    return solution[:n], solution[n:]


@pytest.mark.parametrize("periodic", [False, True], ids=["molecule", "periodic"])
def test_fragment_charges_are_kept_and_match_a_numpy_kkt_solve(rng, periodic):
    positions, cell, fragment, chi, hardness, widths = _structure(rng, periodic=periodic)
    targets = tensor(rng.uniform(-1.5, 1.5, 3))
    options = {"cell": cell, "pbc": True} if periodic else {}
    result = qeq(
        chi, hardness, positions, widths, fragment=fragment, fragment_charge=targets, **options
    )
    sums = torch.zeros(3, dtype=torch.float64).index_add(0, fragment, result.charges)
    assert torch.allclose(sums, targets, rtol=0, atol=1e-12)
    matrix = coulomb_matrix(positions, widths, **options).numpy()
    q, mu = _numpy_kkt(chi.numpy(), hardness.numpy(), matrix, fragment.numpy(), targets.numpy())
    np.testing.assert_allclose(result.charges.numpy(), q, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(result.chemical_potential.numpy(), mu, rtol=1e-10, atol=1e-12)
    assert torch.equal(result.constraint, fragment)


def test_perturbing_charges_within_each_fragment_raises_the_energy(rng):
    positions, _, fragment, chi, hardness, widths = _structure(rng, periodic=False)
    targets = tensor(rng.uniform(-1, 1, 3))
    result = qeq(chi, hardness, positions, widths, fragment=fragment, fragment_charge=targets)
    matrix = coulomb_matrix(positions, widths)

    def energy(q):
        return float(chi @ q + 0.5 * (hardness * q**2).sum() + 0.5 * q @ matrix @ q)

    base = energy(result.charges)
    assert base == pytest.approx(float(result.energy[0]), rel=1e-10)
    for _ in range(20):
        step = tensor(rng.normal(size=len(fragment)))
        means = torch.zeros(3, dtype=torch.float64).index_add(0, fragment, step)
        step = step - (means / torch.bincount(fragment))[fragment]  # keep every fragment sum
        assert energy(result.charges + 1e-3 * step) > base


def test_one_fragment_per_structure_equals_the_total_charge_constraint(rng):
    positions, cell, _, chi, hardness, widths = _structure(rng)
    fragment = torch.zeros(len(chi), dtype=torch.int64)
    total = float(rng.uniform(-1, 1))
    options = {"cell": cell, "pbc": True}
    plain = qeq(chi, hardness, positions, widths, total_charge=total, **options)
    split = qeq(
        chi, hardness, positions, widths, fragment=fragment, fragment_charge=[total], **options
    )
    assert torch.allclose(plain.charges, split.charges, rtol=0, atol=1e-13)
    assert torch.allclose(plain.chemical_potential, split.chemical_potential, atol=1e-12)


def _batch_with_fragments(rng):
    """Two structures (periodic, free), atoms interleaved, fragments numbered across them."""
    first = _structure(rng, n=8, fragments=2, periodic=True)
    second = _structure(rng, n=6, fragments=3, periodic=False)
    n = 14
    order = rng.permutation(n)
    batch = torch.as_tensor(np.repeat([0, 1], [8, 6])[order])
    fragment = torch.cat([first[2], second[2] + 2])[order]
    positions = torch.cat([first[0], second[0]])[order]
    cells = torch.stack([first[1], torch.zeros(3, 3, dtype=torch.float64)])
    chi, hardness, widths = (torch.cat([a, b])[order] for a, b in zip(first[3:], second[3:]))
    targets = tensor(rng.uniform(-1, 1, 5))
    return positions, cells, batch, fragment, targets, chi, hardness, widths


@pytest.mark.parametrize("method", ["ewald", "pme"])
def test_iterative_fragment_solve_and_its_gradients_equal_the_dense_path(rng, method):
    if method == "pme":
        pytest.importorskip("torchpme")
    positions, cells, batch, fragment, targets, chi, hardness, widths = _batch_with_fragments(rng)
    leaves = [t.clone().requires_grad_(True) for t in (chi, hardness, positions, widths, cells)]
    goal = targets.clone().requires_grad_(True)
    weights = tensor(rng.normal(size=len(batch)))
    pbc = [(True,) * 3, (False,) * 3]

    def loss(solver, **extra):
        result = solver(
            *leaves[:4],
            batch=batch,
            fragment=fragment,
            fragment_charge=goal,
            cell=leaves[4],
            pbc=pbc,
            **extra,
        )
        return (weights * result.charges).sum() + result.electrostatic_energy.sum()

    reference = torch.autograd.grad(loss(qeq), [*leaves, goal])
    extra = {"accuracy": 1e-7} if method == "pme" else {}
    fast = torch.autograd.grad(
        loss(qeq_iterative, method=method, tolerance=1e-13, **extra), [*leaves, goal]
    )
    tolerance = 1e-8 if method == "ewald" else 1e-4
    for name, a, b in zip(("chi", "J", "positions", "widths", "cell", "Q_f"), reference, fast):
        assert float((a - b).norm() / a.norm()) < tolerance, name


def test_far_apart_molecules_keep_their_charges_only_with_fragments(rng):
    """Two neutral molecules 40 Angstrom apart with different electronegativities: one total
    constraint moves charge between them (the known Qeq failure), fragments do not."""
    molecule = rng.uniform(-1.0, 1.0, (4, 3))
    positions = tensor(np.concatenate([molecule, molecule + [40.0, 0.0, 0.0]]))
    chi = tensor(np.concatenate([rng.normal(-2.0, 0.3, 4), rng.normal(2.0, 0.3, 4)]))
    hardness, widths = tensor(np.full(8, 6.0)), tensor(np.full(8, 0.8))
    fragment = torch.as_tensor(np.repeat([0, 1], 4))
    total = qeq(chi, hardness, positions, widths)
    split = qeq(chi, hardness, positions, widths, fragment=fragment, fragment_charge=[0.0, 0.0])
    moved = float(total.charges[:4].sum())
    assert abs(moved) > 0.1
    assert abs(float(split.charges[:4].sum())) < 1e-12


@pytest.mark.parametrize(
    "case, message",
    [
        ("across", r"fragment 0 has atoms in structures 0 and 1"),
        ("empty", r"fragment 2 has no atoms"),
        ("total", r"add up to .* not to its total_charge"),
        ("alone", r"fragment and fragment_charge must be given together"),
        ("range", r"fragment"),
    ],
)
def test_bad_fragments_are_refused_with_the_reason(rng, case, message):
    n = 6
    positions = tensor(rng.uniform(-3, 3, (n, 3)))
    chi, hardness, widths = tensor(rng.normal(size=n)), tensor(np.full(n, 6.0)), None
    batch = torch.as_tensor([0, 0, 0, 1, 1, 1])
    fragment = torch.as_tensor([0, 0, 0, 1, 1, 1])
    options = dict(batch=batch, fragment=fragment, fragment_charge=[0.0, 1.0])
    if case == "across":
        options["fragment"] = torch.as_tensor([0, 0, 1, 0, 1, 1])
    elif case == "empty":
        options["fragment_charge"] = [0.0, 1.0, 0.5]
    elif case == "total":
        options["total_charge"] = [0.0, 0.0]
    elif case == "alone":
        del options["fragment_charge"]
    else:
        options["fragment"] = torch.as_tensor([0, 0, 0, 1, 1, 2])
    with pytest.raises(InputError, match=message):
        qeq(chi, hardness, positions, widths, **options)
