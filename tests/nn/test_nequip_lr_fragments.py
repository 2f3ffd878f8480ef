"""NequIP-LR with one charge constraint per fragment (charge_constraint="fragments"):
fragment charges kept, forces through the constrained solve, model files, the ASE
calculator and the training data path (extxyz column `fragment`, info `fragment_charges`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from pgnfast.calculators import PGNCalculator
from pgnfast.errors import InputError
from pgnfast.nn.io import load_model, save_model
from pgnfast.train.data import attach_neighbors, collate, samples_from_frames
from pgnfast.train.models import model_inputs

from .test_nequip_lr import _crystal, _graph, _molecule, small_lr


def _fragments(rng, sizes, per_structure=2):
    """fragment (N,) numbered across structures of `sizes` atoms, every fragment non-empty."""
    parts, offset = [], 0
    for n in sizes:
        local = np.concatenate([np.arange(per_structure), rng.integers(0, per_structure, n - 2)])
        parts.append(rng.permutation(local) + offset)
        offset += per_structure
    return torch.as_tensor(np.concatenate(parts))


def test_each_fragment_keeps_its_charge_and_forces_include_the_response(rng):
    model = small_lr(charge_constraint="fragments")
    graph = _graph([_crystal(rng), _molecule(rng)])
    fragment = _fragments(rng, [8, 6])
    charges = torch.as_tensor(rng.uniform(-1.0, 1.0, 4))
    totals = torch.stack([charges[:2].sum(), charges[2:].sum()])
    inputs = dict(total_charge=totals, fragment=fragment, fragment_charge=charges)
    out = model(graph, **inputs)
    sums = torch.zeros(4, dtype=torch.float64).index_add(0, fragment, out["charges"].detach())
    assert torch.allclose(sums, charges, rtol=0, atol=1e-10)
    assert out["chemical_potential"].shape == (4,)
    per_structure = torch.zeros(2, dtype=torch.float64).index_add(0, graph.batch, out["energies"])
    assert torch.allclose(per_structure, out["energy"], atol=1e-9)
    atom, axis, step = int(rng.integers(graph.num_nodes)), int(rng.integers(3)), 1e-5
    values = []
    for sign in (1.0, -1.0):
        positions = graph.positions.detach().clone()
        positions[atom, axis] += sign * step
        moved = model(replace(graph, positions=positions), compute_forces=False, **inputs)
        values.append(float(moved["energy"].detach().sum()))
    expected = -(values[0] - values[1]) / (2 * step)
    assert float(out["forces"][atom, axis]) == pytest.approx(expected, abs=1e-7)


def test_a_total_charge_model_ignores_fragments_and_files_keep_the_choice(rng, tmp_path):
    graph = _graph([_molecule(rng)])
    fragment = _fragments(rng, [6])
    charges = torch.as_tensor([0.5, -0.5], dtype=torch.float64)
    plain = small_lr()
    a = plain(graph, compute_forces=False)["charges"]
    b = plain(graph, fragment=fragment, fragment_charge=charges, compute_forces=False)["charges"]
    assert torch.equal(a, b)
    model = small_lr(charge_constraint="fragments")
    save_model(model, tmp_path / "lr.pt")
    loaded = load_model(tmp_path / "lr.pt")
    assert loaded.hyperparameters["charge_constraint"] == "fragments"
    out = loaded(graph, fragment=fragment, fragment_charge=charges, compute_forces=False)
    sums = torch.zeros(2, dtype=torch.float64).index_add(0, fragment, out["charges"])
    assert torch.allclose(sums, charges, atol=1e-10)
    with pytest.raises(InputError, match="charge_constraint"):
        small_lr(charge_constraint="molecules")


def _dimer(rng, fragment_charges=(1.0, -1.0)):
    positions, _, types, _ = _molecule(rng)
    atoms = Atoms(["Na" if t == 0 else "Cl" for t in types], positions=positions)
    atoms.arrays["fragment"] = np.array([0, 0, 0, 1, 1, 1])
    atoms.info["fragment_charges"] = list(fragment_charges)
    atoms.info["total_charge"] = float(sum(fragment_charges))
    return atoms


def test_the_calculator_reads_the_fragments_of_the_atoms(rng):
    atoms = _dimer(rng, (1.0, -2.0))
    atoms.calc = PGNCalculator(small_lr(charge_constraint="fragments"))
    charges = atoms.get_charges()
    assert charges[:3].sum() == pytest.approx(1.0, abs=1e-10)
    assert charges[3:].sum() == pytest.approx(-2.0, abs=1e-10)
    broken = _dimer(rng)
    broken.info["total_charge"] = 1.0
    broken.calc = PGNCalculator(small_lr(charge_constraint="fragments"))
    with pytest.raises(InputError, match="fragment_charges add up to"):
        broken.get_potential_energy()


def test_training_batches_number_fragments_across_frames(rng):
    frames = [_dimer(rng, (1.0, -1.0)), _dimer(rng, (0.5, 0.0))]
    frames.append(_dimer(rng))
    del frames[2].arrays["fragment"], frames[2].info["fragment_charges"]
    frames[2].info["total_charge"] = 0.0
    for atoms in frames:
        atoms.calc = SinglePointCalculator(atoms, energy=0.0, forces=np.zeros((6, 3)))
    samples, _ = samples_from_frames(frames, ["Na", "Cl"], charges_key="charges")
    attach_neighbors(samples, 3.0)
    graph, labels = collate(samples, 3.0, torch.float64)
    assert labels["fragment"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4]
    assert labels["fragment_charge"].tolist() == [1.0, -1.0, 0.5, 0.0, 0.0]
    model = small_lr(charge_constraint="fragments")
    out = model(graph, compute_forces=False, **model_inputs(model, labels))
    sums = torch.zeros(5, dtype=torch.float64).index_add(0, labels["fragment"], out["charges"])
    assert torch.allclose(sums, labels["fragment_charge"], atol=1e-10)
    bad = _dimer(rng)
    del bad.info["fragment_charges"]
    bad.calc = SinglePointCalculator(bad, energy=0.0, forces=np.zeros((6, 3)))
    with pytest.raises(InputError, match="needs both the per-atom column `fragment`"):
        samples_from_frames([bad], ["Na", "Cl"], charges_key="charges")
