"""The direct-force baseline: symmetry of its forces, learning a tiny Lennard-Jones set,
model files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgnfast.errors import FileFormatError, IncompatibleModelError, UnitsError
from pgnfast.nn.direct_force import (
    DirectForceModel,
    load_direct_force_model,
    save_direct_force_model,
)
from pgnfast.nn.graph import build_graph
from pgnfast.potentials import LennardJones
from pgnfast.testing import random_orthogonal, random_positions, transform_graph


def _model(seed, **overrides):
    torch.manual_seed(seed)
    hyper = dict(r_max=2.0, num_layers=2, num_features=8, num_bessel=6, num_types=2)
    hyper.update(overrides)
    model = DirectForceModel(**hyper).double()
    model.set_avg_num_neighbors(10.0)
    return model


def _system(rng, n=14, box=3.2):
    positions = random_positions(n, box, rng, min_distance=0.7)
    cell = box * (np.eye(3) + 0.05 * rng.uniform(-1, 1, (3, 3)))
    positions = positions / box @ cell
    types = rng.integers(0, 2, n)
    return positions, cell, types


def _forces(model, positions, cell, types):
    graph = build_graph([(positions, cell, types, True)], model.r_max, dtype=torch.float64)
    return model(graph)["forces"].detach().numpy()


def test_forces_rotate_with_the_system(rng, test_seed):
    model = _model(test_seed)
    positions, cell, types = _system(rng)
    graph = build_graph([(positions, cell, types, True)], model.r_max, dtype=torch.float64)
    forces = model(graph)["forces"]
    assert forces.abs().max() > 1e-6
    for reflect in (False, True):
        matrix = random_orthogonal(reflect=reflect, seed=int(rng.integers(1 << 30)))
        moved = transform_graph(graph, matrix, translation=rng.normal(size=3))
        expected = forces @ matrix.T
        assert torch.allclose(model(moved)["forces"], expected, atol=1e-11, rtol=0)


def test_forces_invariant_under_translation_and_permutation(rng, test_seed):
    model = _model(test_seed)
    positions, cell, types = _system(rng)
    forces = _forces(model, positions, cell, types)
    shift = rng.uniform(-5, 5, 3)
    np.testing.assert_allclose(_forces(model, positions + shift, cell, types), forces, atol=1e-11)
    order = rng.permutation(len(positions))
    permuted = _forces(model, positions[order], cell, types[order])
    np.testing.assert_allclose(permuted, forces[order], atol=1e-11)


def _jacobian_asymmetry(forces_of, positions, step=1e-5):
    """max |J - J^T| / max |J| of the central-difference Jacobian of forces_of(positions)."""
    flat = positions.reshape(-1)
    jacobian = np.empty((flat.size, flat.size))
    for k in range(flat.size):
        plus, minus = flat.copy(), flat.copy()
        plus[k] += step
        minus[k] -= step
        difference = forces_of(plus.reshape(-1, 3)) - forces_of(minus.reshape(-1, 3))
        jacobian[:, k] = -difference.reshape(-1) / (2 * step)
    return np.abs(jacobian - jacobian.T).max() / np.abs(jacobian).max()


def test_forces_are_not_conservative(rng, test_seed):
    """A faithful baseline: its force field has a curl (an asymmetric Jacobian), far above
    the finite-difference noise that a conservative force (Lennard-Jones) shows."""
    model = _model(test_seed, num_types=1)
    positions, cell, _ = _system(rng, n=8)
    potential = LennardJones(epsilon=1.0, sigma=0.8, cutoff=2.0, shift=True)
    exact = _jacobian_asymmetry(
        lambda p: np.asarray(potential.energy_forces(p, cell, None, True)[1]), positions
    )
    learned = _jacobian_asymmetry(lambda p: _forces(model, p, cell, None), positions)
    assert exact < 1e-7
    assert learned > 100 * max(exact, 1e-9)


def _lennard_jones_set(rng, frames=10, n=12, box=3.3):
    potential = LennardJones(epsilon=1.0, sigma=1.0, cutoff=2.0, shift=True)
    systems = []
    for _ in range(frames):
        positions = random_positions(n, box, rng, min_distance=0.95)
        _, forces = potential.energy_forces(positions, np.eye(3) * box, None, True)
        systems.append((positions, np.eye(3) * box, np.asarray(forces)))
    return systems


def test_learns_lennard_jones_forces(rng, test_seed):
    model = _model(test_seed, num_types=1, num_features=16, num_layers=1)
    data = _lennard_jones_set(rng)
    graph = build_graph([(p, c, None, True) for p, c, _ in data], model.r_max, dtype=torch.float64)
    labels = torch.as_tensor(np.concatenate([f for _, _, f in data]))
    model.set_force_scale(float(labels.pow(2).mean().sqrt()))
    model.set_avg_num_neighbors(graph.senders.numel() / graph.num_nodes)

    def rmse():
        with torch.no_grad():
            return float((model(graph)["forces"] - labels).pow(2).mean().sqrt())

    untrained = rmse()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(250):
        optimizer.zero_grad()
        loss = (model(graph)["forces"] - labels).pow(2).mean()
        loss.backward()
        optimizer.step()
    assert rmse() < 0.3 * untrained


def test_model_file_round_trip(rng, test_seed, tmp_path):
    model = _model(test_seed)
    model.set_force_scale(float(rng.uniform(0.5, 2)))
    model.units = {"length": "Angstrom", "energy": "eV"}
    path = tmp_path / "direct.pt"
    save_direct_force_model(model, path, metadata={"note": "test", "seed": test_seed})
    loaded = load_direct_force_model(path, units={"length": "Angstrom", "energy": "eV"})
    positions, cell, types = _system(rng)
    np.testing.assert_array_equal(
        _forces(loaded, positions, cell, types), _forces(model, positions, cell, types)
    )
    assert loaded.metadata == {"note": "test", "seed": test_seed}
    assert loaded.hyperparameters == model.hyperparameters
    with pytest.raises(UnitsError, match="is in Angstrom for length, expected nm"):
        load_direct_force_model(path, units="pgn")


def test_model_file_refuses_damage_and_other_kinds(rng, test_seed, tmp_path):
    from pgnfast.nn.io import save_model
    from pgnfast.testing import small_model

    path = tmp_path / "direct.pt"
    save_direct_force_model(_model(test_seed), path)
    record = torch.load(path, weights_only=True)
    key = sorted(record["state_dict"])[int(rng.integers(len(record["state_dict"])))]
    record["state_dict"][key] = record["state_dict"][key] + 1.0
    torch.save(record, tmp_path / "damaged.pt")
    with pytest.raises(FileFormatError, match="checksum does not match"):
        load_direct_force_model(tmp_path / "damaged.pt")
    save_model(small_model(), tmp_path / "nequip.pt")
    with pytest.raises(IncompatibleModelError, match="not a pgnfast direct-force model"):
        load_direct_force_model(tmp_path / "nequip.pt")
