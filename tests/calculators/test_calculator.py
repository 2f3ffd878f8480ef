"""The ASE calculator reads pgnfast's own files: the `type` column of a written extxyz frame
(and the legacy `types`) gives the energies of the model called with those types."""

from __future__ import annotations

import ase
import numpy as np
import pytest
import torch

from pgnfast.calculators import PGNCalculator
from pgnfast.data import read_dataset, write_extxyz
from pgnfast.nn import build_graph
from pgnfast.testing import random_positions, small_model


@pytest.fixture
def model(test_seed):
    return small_model(torch.float64, seed=test_seed % 2**31, num_layers=1, num_features=2)


def _frame(rng, n=12, box=1.3):
    positions = random_positions(n, box, rng, min_distance=0.25)
    types = np.zeros(n, np.int64)
    types[rng.permutation(n)[: n // 2]] = 1  # both types present
    atoms = ase.Atoms(positions=positions, cell=np.eye(3) * box, pbc=True, numbers=np.ones(n))
    atoms.new_array("type", types)
    return atoms, types


def test_calculator_on_a_written_two_type_frame_matches_the_model(model, rng, tmp_path):
    atoms, types = _frame(rng)
    write_extxyz(tmp_path / "frame.extxyz", [atoms])
    (back,) = read_dataset(tmp_path / "frame.extxyz")
    assert back.arrays["type"].tolist() == types.tolist()
    back.calc = PGNCalculator(model)
    cell = np.asarray(back.cell[:])  # as read back (extxyz keeps 8 decimals)
    direct = model(build_graph([(back.positions, cell, types, True)], model.r_max))
    energy = float(direct["energy"][0].detach())
    assert back.get_potential_energy() == pytest.approx(energy, abs=1e-12)
    np.testing.assert_allclose(back.get_forces(), direct["forces"].detach().numpy(), atol=1e-12)
    # all type 0 would differ: the types matter to this model
    zeros = model(build_graph([(back.positions, cell, np.zeros_like(types), True)], 0.6))
    assert abs(float(zeros["energy"][0].detach()) - energy) > 1e-6


def test_legacy_types_column_is_read_and_written_as_type(model, rng, tmp_path):
    atoms, types = _frame(rng)
    del atoms.arrays["type"]
    atoms.new_array("types", types)
    write_extxyz(tmp_path / "frame.extxyz", [atoms])
    (back,) = read_dataset(tmp_path / "frame.extxyz")
    assert "types" not in back.arrays and back.arrays["type"].tolist() == types.tolist()
    legacy = back.copy()
    del legacy.arrays["type"]
    legacy.new_array("types", types)
    for frame in (back, legacy):
        frame.calc = PGNCalculator(model)
    assert back.get_potential_energy() == legacy.get_potential_energy()


def test_one_type_model_needs_no_type_column(rng):
    model = small_model(torch.float64, num_types=1, num_layers=1, num_features=2)
    atoms, _ = _frame(rng)
    del atoms.arrays["type"]
    atoms.calc = PGNCalculator(model)
    assert np.isfinite(atoms.get_potential_energy())
