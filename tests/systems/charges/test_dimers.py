"""The charged-dimer reader (pgnfast.systems.charges.dimers) on a small synthetic folder
written here: split by separation per pair type, total charges, errors for missing keys,
the dataset `pgnfast train` reads, and interaction energies E(AB) - E(A) - E(B) of tiny
untrained NequIP-LR and NequIP models (Angstrom, eV, e)."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest
import torch
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from pgnfast.errors import InputError, UnitsError
from pgnfast.nn.graph import build_graph
from pgnfast.nn.io import save_model
from pgnfast.nn.model import NequIP
from pgnfast.nn.nequip_lr import NequIPLR
from pgnfast.systems.charges.dimers import (
    closest_intermolecular_distances,
    interaction_energies,
    read_dimers,
    write_dimer_dataset,
)

CELL = 14.0  # Angstrom, periodic cubic
R_MAX = 2.5  # Angstrom, the tiny models' cutoff
# pair types: label -> (chargeA, chargeB) e
PAIRS = {"CP": (-1.0, 0.0), "CC": (1.0, -1.0)}
DISTANCES = (3.5, 4.0, 5.0, 6.0, 7.5)  # Angstrom, centre to centre


def _molecule(rng) -> Atoms:
    """An O-H-H molecule of ~1 Angstrom bonds near the origin."""
    bonds = rng.normal(size=(2, 3))
    bonds *= rng.uniform(0.95, 1.05, (2, 1)) / np.linalg.norm(bonds, axis=1, keepdims=True)
    return Atoms("OHH", positions=np.vstack([np.zeros(3), bonds]))


def _dimer_frames(rng, label: str) -> list[Atoms]:
    """Frames of one rigid pair at DISTANCES (shuffled), arbitrary energies and forces."""
    charge_a, charge_b = PAIRS[label]
    molecule_a, molecule_b = _molecule(rng), _molecule(rng)
    frames = []
    for distance in rng.permutation(DISTANCES):
        shifted = molecule_b.copy()
        shifted.positions += [float(distance), 0.0, 0.0]
        atoms = molecule_a + shifted
        atoms.positions += CELL / 4
        atoms.cell, atoms.pbc = np.eye(3) * CELL, True
        energy = -100.0 - 0.5 / float(distance) + rng.normal(scale=0.01)
        atoms.info.update(
            label=label,
            chargeA=charge_a,
            chargeB=charge_b,
            energyA=-60.0,
            energyB=-40.0,
            indexB=len(molecule_a),
            distance=float(distance),
            inter_energy=energy + 100.0,
        )
        forces = rng.normal(scale=0.1, size=(len(atoms), 3))
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
        frames.append(atoms)
    return frames


@pytest.fixture
def dimer_folder(tmp_path, rng):
    folder = tmp_path / "dimers"
    folder.mkdir()
    for index, label in enumerate(PAIRS):
        ase.io.write(folder / f"train-id{index}.xyz", _dimer_frames(rng, label), format="extxyz")
    return folder


def test_split_by_separation_per_pair_type_and_total_charges(dimer_folder):
    frames = read_dimers(dimer_folder)
    assert len(frames) == len(PAIRS) * len(DISTANCES)
    for label, (charge_a, charge_b) in PAIRS.items():
        group = [f for f in frames if f.info["label"] == label]
        split = {f.info["distance"]: f.info["split"] for f in group}
        expected = {7.5: "test", 6.0: "test", 5.0: "validation", 4.0: "validation"}
        assert split == {**expected, 3.5: "train"}
        for atoms in group:
            assert atoms.info["total_charge"] == charge_a + charge_b
            assert atoms.info["chargeA"] == charge_a and atoms.info["chargeB"] == charge_b
            assert atoms.info["indexB"] == 3
    counted = read_dimers(dimer_folder, num_test=1, num_validation=1)
    for label in PAIRS:
        group = sorted(
            (f for f in counted if f.info["label"] == label), key=lambda f: f.info["distance"]
        )
        assert [f.info["split"] for f in group] == [
            "train",
            "train",
            "train",
            "validation",
            "test",
        ]
    with pytest.raises(InputError, match="too few"):
        read_dimers(dimer_folder, num_test=3, num_validation=2)
    closest = closest_intermolecular_distances(frames)
    assert np.all(closest > 0) and np.all(closest < [f.info["distance"] + 2.1 for f in frames])


def test_missing_info_key_names_the_file_and_key(dimer_folder):
    path = dimer_folder / "train-id1.xyz"
    frames = ase.io.read(path, index=":")
    del frames[2].info["chargeB"]
    ase.io.write(path, frames, format="extxyz")
    with pytest.raises(InputError, match=r"train-id1\.xyz frame 2.*'chargeB'"):
        read_dimers(dimer_folder)


def test_written_dataset_reads_back_through_the_training_reader(dimer_folder, tmp_path):
    from pgnfast.train.config import TrainConfig
    from pgnfast.train.data import make_split, read_labeled_frames, samples_from_frames

    expected = read_dimers(dimer_folder)
    dataset = write_dimer_dataset(dimer_folder, tmp_path / "dataset")
    frames, sources = read_labeled_frames(dataset, units="atomistic")
    samples, names = samples_from_frames(frames, None, (), sources, charges_key="charges")
    assert names == ["H", "O"]
    assert len(samples) == len(expected)
    for sample, atoms, original in zip(samples, frames, expected):
        assert sample.total_charge == original.info["total_charge"]
        assert sample.charges is None
        expected_fragments = np.arange(sample.num_particles) >= original.info["indexB"]
        np.testing.assert_array_equal(sample.fragments, expected_fragments)
        assert list(sample.fragment_charges) == [
            original.info["chargeA"],
            original.info["chargeB"],
        ]
        assert sample.energy == pytest.approx(original.get_potential_energy(), abs=1e-9)
        np.testing.assert_allclose(sample.forces, original.get_forces(), atol=1e-9)
        assert atoms.info["split"] == original.info["split"]
    config = TrainConfig.from_dict(
        {"data": str(dataset), "units": "atomistic", "split_key": "split", "model": {"r_max": 3}}
    )
    split = make_split(config, frames)
    assert len(split["train"]) == 2 and len(split["test"]) == 4 and not split["unused"]
    with pytest.raises(UnitsError):
        read_labeled_frames(dataset, units="pgn")


def _tiny(kind: str):
    """A tiny float64 model of types H, O with perturbed weights (so every part matters)."""
    torch.manual_seed(7)
    shared = dict(
        r_max=R_MAX,
        num_types=2,
        type_names=["H", "O"],
        l_max=0,
        num_features=4,
        num_bessel=4,
        radial_mlp_width=8,
        avg_num_neighbors=2.0,
        backend="reference",
    )
    if kind.startswith("nequip_lr"):
        constraint = "fragments" if kind == "nequip_lr_fragments" else "total"
        model = NequIPLR(
            charge_layers=1,
            energy_layers=1,
            charge_embedding_size=4,
            charge_constraint=constraint,
            **shared,
        )
    else:
        model = NequIP(num_layers=2, **shared)
    model = model.to(torch.float64)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    model.set_energy_scale_shift(1.3, [-0.4, -2.0])
    model.units = {"length": "Angstrom", "energy": "eV"}
    return model.eval()


def _direct_energy(model, atoms, total_charge: float, fragments=None) -> float:
    """The model's energy (eV) of `atoms` (periodic) evaluated on a graph built here;
    fragments: (fragment (N,), charges (F,)) or None."""
    types = np.array([model.type_names.index(s) for s in atoms.get_chemical_symbols()])
    graph = build_graph(
        [(atoms.positions, atoms.cell[:], types, (True, True, True))],
        model.r_max,
        dtype=torch.float64,
        num_types=2,
    )
    options = {}
    if isinstance(model, NequIPLR):
        options = {"total_charge": torch.tensor([total_charge], dtype=torch.float64)}
        options["pbc"] = [(True, True, True)]
        if fragments is not None:
            options["fragment"] = torch.as_tensor(fragments[0])
            options["fragment_charge"] = torch.tensor(fragments[1], dtype=torch.float64)
    return float(model(graph, compute_forces=False, **options)["energy"][0].detach())


@pytest.mark.parametrize("kind", ["nequip_lr", "nequip_lr_fragments", "nequip"])
def test_interaction_energies_equal_the_dimer_minus_each_molecule_alone(
    dimer_folder, tmp_path, kind
):
    # the shortest and longest separation of each pair type
    frames = [f for f in read_dimers(dimer_folder) if f.info["distance"] in (3.5, 7.5)]
    model = _tiny(kind)
    expected = []
    for atoms in frames:
        split = atoms.info["indexB"]
        charge_a, charge_b = atoms.info["chargeA"], atoms.info["chargeB"]
        fragments = ((np.arange(len(atoms)) >= split).astype(np.int64), [charge_a, charge_b])
        expected.append(
            _direct_energy(model, atoms, charge_a + charge_b, fragments)
            - _direct_energy(model, atoms[:split], charge_a)
            - _direct_energy(model, atoms[split:], charge_b)
        )
    got = interaction_energies(model, frames)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    path = tmp_path / f"{kind}.pt"
    save_model(model, path)
    np.testing.assert_allclose(interaction_energies(path, frames), expected, rtol=0, atol=1e-9)
    beyond = closest_intermolecular_distances(frames) > R_MAX
    assert beyond.any()
    if kind == "nequip":  # no edge between the molecules: no interaction at all
        np.testing.assert_allclose(got[beyond], 0.0, atol=1e-9)
    else:  # electrostatics between the molecules, and the charged pair's charges
        assert np.abs(got[beyond]).max() > 1e-6
