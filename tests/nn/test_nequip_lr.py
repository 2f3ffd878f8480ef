"""NequIP-LR: charge constraint, forces through the Qeq solve, invariances, splitting
independence, model files, and a teacher system whose charges the model recovers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from pgnfast.errors import FileFormatError, UnitsError
from pgnfast.nn.graph import build_graph
from pgnfast.nn.io import load_model, save_model
from pgnfast.nn.model import NequIP
from pgnfast.nn.nequip_lr import NequIPLR, charge_loss
from pgnfast.nn.qeq import qeq

from .electrostatics._systems import triclinic_cell

R_MAX = 3.0


def small_lr(seed=0, **overrides) -> NequIPLR:
    """A tiny float64 NequIP-LR with perturbed weights (so every part matters)."""
    torch.manual_seed(seed)
    hyper = dict(
        r_max=R_MAX,
        num_types=2,
        type_names=["Na", "Cl"],
        num_features=4,
        radial_mlp_width=8,
        charge_layers=1,
        energy_layers=1,
        avg_num_neighbors=4.0,
        backend="reference",
    )
    hyper.update(overrides)
    model = NequIPLR(**hyper).to(torch.float64)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    model.set_energy_scale_shift([1.2, 0.8], [-0.3, 0.2])
    return model.eval()


def _molecule(rng, n=6):
    while True:
        positions = rng.uniform(0.0, 3.5, (n, 3))
        distances = np.linalg.norm(positions[:, None] - positions[None], axis=-1) + 9 * np.eye(n)
        if distances.min() > 1.0:
            return positions, None, rng.integers(0, 2, n), False


def _crystal(rng, n=8):
    cell = triclinic_cell(rng, 6.0, skew=0.15)
    while True:
        positions = rng.uniform(0.0, 1.0, (n, 3)) @ cell
        graph = build_graph([(positions, cell, None, True)], 1.0)
        if graph.senders.numel() == 0:
            return positions, cell, rng.integers(0, 2, n), True


def _graph(systems):
    return build_graph(systems, R_MAX, num_types=2)


def test_charges_sum_to_the_total_charge_of_each_structure(rng):
    model = small_lr()
    graph = _graph([_crystal(rng), _molecule(rng), _crystal(rng, 5)])
    totals = torch.as_tensor(rng.uniform(-2.0, 2.0, 3))
    out = model(graph, total_charge=totals, compute_forces=False)
    sums = torch.zeros(3, dtype=torch.float64).index_add(0, graph.batch, out["charges"])
    assert torch.allclose(sums, totals, rtol=0, atol=1e-10)
    assert out["charges"].shape == (graph.num_nodes,)
    assert out["electrostatic_energy"].shape == (3,)
    assert torch.allclose(out["energy"], out["short_range_energy"] + out["electrostatic_energy"])
    per_structure = torch.zeros(3, dtype=torch.float64).index_add(0, graph.batch, out["energies"])
    assert torch.allclose(per_structure, out["energy"], atol=1e-9)


def _finite_difference_forces(model, graph, total, atoms, step=1e-5):
    forces = np.zeros((len(atoms), 3))
    for row, atom in enumerate(atoms):
        for axis in range(3):
            values = []
            for sign in (1.0, -1.0):
                positions = graph.positions.detach().clone()
                positions[atom, axis] += sign * step
                out = model(
                    replace(graph, positions=positions), total_charge=total, compute_forces=False
                )
                values.append(float(out["energy"].detach().sum()))
            forces[row, axis] = -(values[0] - values[1]) / (2 * step)
    return forces


@pytest.mark.parametrize("kind", ["molecule", "crystal"])
def test_forces_are_minus_the_energy_gradient_including_the_charge_response(rng, kind):
    model = small_lr()
    system = _molecule(rng) if kind == "molecule" else _crystal(rng)
    graph = _graph([system])
    total = float(rng.uniform(-1.0, 1.0))
    out = model(graph, total_charge=total)
    atoms = rng.choice(graph.num_nodes, 3, replace=False)
    expected = _finite_difference_forces(model, graph, total, atoms)
    np.testing.assert_allclose(out["forces"].detach().numpy()[atoms], expected, atol=1e-7)
    # nonzero charges, so the charges' response to the positions is part of what is checked
    assert float(out["charges"].detach().abs().max()) > 1e-3


def test_stress_is_the_strain_derivative(rng):
    from pgnfast.testing import finite_difference_stress

    model = small_lr()
    graph = _graph([_crystal(rng)])
    out = model(graph, compute_stress=True)
    expected = finite_difference_stress(model, graph)
    np.testing.assert_allclose(out["stress"][0].detach().numpy(), expected, atol=1e-7)


def _random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


def test_rotation_translation_and_permutation_invariance(rng):
    model = small_lr()
    for system in (_molecule(rng), _crystal(rng)):
        positions, cell, types, pbc = system
        base = model(_graph([system]), total_charge=0.5)
        rotation = _random_rotation(rng)
        shift = rng.normal(size=3)
        order = rng.permutation(len(types))
        moved_cell = None if cell is None else cell @ rotation.T
        moved = ((positions @ rotation.T + shift)[order], moved_cell, types[order], pbc)
        out = model(_graph([moved]), total_charge=0.5)
        assert torch.allclose(out["energy"], base["energy"], atol=1e-10)
        assert torch.allclose(out["charges"], base["charges"][order], atol=1e-10)
        rotated_forces = base["forces"].detach().numpy()[order] @ rotation.T
        np.testing.assert_allclose(out["forces"].detach().numpy(), rotated_forces, atol=1e-9)


def test_the_fast_path_and_another_ewald_splitting_give_the_same_model(rng):
    """The dense exact path, CG on the exact Ewald matrix and CG on PME (a different
    splitting parameter, alpha = s / 8 Angstrom, and real-space cutoff)."""
    graph = _graph([_crystal(rng, 10), _molecule(rng)])
    totals = torch.as_tensor([1.0, -0.5], dtype=torch.float64)
    results = {}
    for solver, method in (("dense", "ewald"), ("iterative", "ewald"), ("iterative", "pme")):
        model = small_lr(solver=solver, periodic_method=method, accuracy=1e-8)
        results[solver, method] = model(graph, total_charge=totals)
    reference = results["dense", "ewald"]
    for key, tolerance in ((("iterative", "ewald"), 1e-8), (("iterative", "pme"), 1e-5)):
        for name in ("energy", "charges", "forces", "electrostatic_energy"):
            a, b = results[key][name].detach(), reference[name].detach()
            assert float((a - b).abs().max()) < tolerance * max(1.0, float(b.abs().max())), (
                key,
                name,
            )


def test_model_files_round_trip_and_old_files_still_load(rng, tmp_path):
    model = small_lr(learn_widths=True, electronegativity_band=3.0)
    path = tmp_path / "lr.pt"
    save_model(model, path, metadata={"system": "charges"})
    loaded = load_model(path, units="atomistic")
    assert isinstance(loaded, NequIPLR) and loaded.metadata == {"system": "charges"}
    graph = _graph([_crystal(rng)])
    a, b = model(graph, total_charge=1.0), loaded(graph, total_charge=1.0)
    for name in ("energy", "forces", "charges"):
        assert torch.equal(a[name], b[name])
    with pytest.raises(UnitsError):
        load_model(path, units="pgn")
    old = NequIP(r_max=0.5, num_features=4, radial_mlp_width=8, backend="reference")
    save_model(old, tmp_path / "old.pt")
    assert type(load_model(tmp_path / "old.pt")) is NequIP
    damaged = torch.load(path, weights_only=True)
    damaged["hyperparameters"]["hardness"] = [1.0, 1.0]
    torch.save(damaged, tmp_path / "damaged.pt")
    with pytest.raises(FileFormatError, match="checksum"):
        load_model(tmp_path / "damaged.pt")


def _teacher(positions, types):
    """Energy, forces and charges of a Qeq-plus-pair potential (two species)."""
    chi, hardness = np.array([-2.0, 2.0]), np.array([8.0, 8.0])
    x = torch.as_tensor(positions).requires_grad_(True)
    t = torch.as_tensor(types)
    ones = torch.ones(len(t), dtype=torch.float64)
    result = qeq(torch.as_tensor(chi)[t], torch.as_tensor(hardness)[t], x, ones)
    i, j = torch.triu_indices(len(t), len(t), 1)
    energy = result.energy.sum() + 3.0 * torch.exp(-(x[i] - x[j]).norm(dim=1) / 0.5).sum()
    (gradient,) = torch.autograd.grad(energy, x)
    return float(energy.detach()), -gradient, result.charges.detach()


def test_a_short_fit_to_a_teacher_recovers_its_charges(rng):
    """Fitted to the teacher's energies with a charge term on 10 structures, the model's
    charges follow the teacher's on 6 unseen structures and its energies improve. (Energies
    and forces alone fix the charges only up to their sign, E_elec(q) = E_elec(-q), and do
    not recover them within a few seconds reliably.)"""
    frames = []
    for _ in range(16):
        positions, _, _, _ = _molecule(rng)
        types = rng.permutation([0, 0, 0, 1, 1, 1])
        frames.append((positions, types, *_teacher(positions, types)))
    train, test = frames[:10], frames[10:]
    torch.manual_seed(int(rng.integers(1 << 31)))
    model = NequIPLR(
        r_max=3.5,
        num_types=2,
        type_names=["A", "B"],
        widths=[1.0, 1.0],
        hardness=[8.0, 8.0],
        num_features=4,
        radial_mlp_width=8,
        charge_layers=1,
        energy_layers=1,
        backend="reference",
    ).to(torch.float64)
    train_graph = build_graph([(p, None, t, False) for p, t, *_ in train], 3.5, num_types=2)
    test_graph = build_graph([(p, None, t, False) for p, t, *_ in test], 3.5, num_types=2)
    energies = torch.as_tensor([frame[2] for frame in train])
    train_charges = torch.cat([frame[4] for frame in train])
    teacher_charges = torch.cat([frame[4] for frame in test]).numpy()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-2)
    model.train()
    errors = []
    for _ in range(40):
        out = model(train_graph, compute_forces=False)
        energy_error = ((out["energy"] - energies) ** 2).mean()
        loss = energy_error + 100.0 * charge_loss(out, train_charges)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        errors.append(float(energy_error.detach()))
    charges = model.eval()(test_graph, compute_forces=False)["charges"].detach().numpy()
    assert float(np.corrcoef(charges, teacher_charges)[0, 1]) > 0.95
    assert errors[-1] < errors[0] / 3


def test_charge_loss_is_the_masked_mean_squared_error(rng):
    charges = torch.as_tensor(rng.normal(size=5))
    reference = rng.normal(size=5)
    mask = np.array([True, False, True, True, False])
    expected = float(((charges.numpy() - reference)[mask] ** 2).mean())
    assert abs(float(charge_loss({"charges": charges}, reference, mask)) - expected) < 1e-12
