"""The Au2-MgO reader: atomic units into Angstrom / eV / e, the Hirshfeld charges column,
the total charge, the stratified split, clear errors, and the round trip into pgnfast's
training data (a small synthetic atomic-units file, seeded)."""

from __future__ import annotations

from collections import Counter

import ase
import ase.io
import numpy as np
import pytest
from ase.calculators.singlepoint import SinglePointCalculator

from pgnfast.errors import FileFormatError, InputError
from pgnfast.systems.charges.au2_mgo import (
    BOHR_IN_ANGSTROM,
    HARTREE_IN_EV,
    read_au2_mgo,
    write_au2_mgo_dataset,
)
from pgnfast.train.data import read_labeled_frames, samples_from_frames, split_by_key

FRAMES = 12  # 6 undoped, 6 doped
CELL_BOHR = np.diag([12.0, 12.0, 30.0])


def _source_frames(seed, charge_offset=0.0, with_charges=True) -> list:
    """Atomic-units frames (Bohr, Hartree, Hartree/Bohr, e): Mg2 O2 Au2 or Mg1 Al1 O2 Au2."""
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(FRAMES):
        symbols = (
            ["Mg", "Mg", "O", "O", "Au", "Au"]
            if index % 2 == 0
            else ["Mg", "Al", "O", "O", "Au", "Au"]
        )
        positions = rng.uniform(0.0, 1.0, (6, 3)) * np.diag(CELL_BOHR) * 0.8 + 1.0
        atoms = ase.Atoms(symbols, positions=positions, cell=CELL_BOHR, pbc=True)
        charges = rng.normal(0.0, 0.4, 6)
        charges += charge_offset - charges.mean()
        if with_charges:
            atoms.set_initial_charges(charges)
        atoms.calc = SinglePointCalculator(
            atoms, energy=-1000.0 + rng.normal(), forces=rng.normal(0.0, 0.01, (6, 3))
        )
        frames.append(atoms)
    return frames


def _write(folder, frames):
    """The atomic-units file and its frames as ASE reads them back (8 written decimals)."""
    path = folder / "gold.extxyz"
    ase.io.write(path, frames, format="extxyz")
    return path


def _read(path, **split):
    return read_au2_mgo(path, **{"train": 8, "validation": 2, "test": 2, **split})


@pytest.fixture
def source(tmp_path, test_seed):
    path = _write(tmp_path, _source_frames(test_seed))
    return path, ase.io.read(path, index=":")


def test_units_charges_and_total_charge(source):
    path, originals = source
    frames = _read(path)
    assert len(frames) == FRAMES
    for atoms, original in zip(frames, originals):
        np.testing.assert_allclose(atoms.positions, original.positions * 0.529177210903)
        np.testing.assert_allclose(atoms.cell[:], CELL_BOHR * BOHR_IN_ANGSTROM)
        assert atoms.get_potential_energy() == pytest.approx(
            original.get_potential_energy() * 27.211386245988, rel=1e-14
        )
        np.testing.assert_allclose(
            atoms.get_forces(), original.get_forces() * 51.422067476326, rtol=1e-11
        )
        np.testing.assert_array_equal(atoms.arrays["charges"], original.get_initial_charges())
        assert atoms.info["total_charge"] == 0.0
        assert atoms.info["doped"] == ("Al" in original.get_chemical_symbols())
    assert HARTREE_IN_EV / BOHR_IN_ANGSTROM == pytest.approx(51.42206747632, rel=1e-10)


def test_integer_total_charge_and_non_integer_refused(tmp_path, test_seed):
    path = _write(tmp_path, _source_frames(test_seed, charge_offset=1.0 / 6))
    assert {a.info["total_charge"] for a in _read(path)} == {1.0}
    path = _write(tmp_path, _source_frames(test_seed, charge_offset=0.3 / 6))
    with pytest.raises(InputError, match="sum to 0.3000 e"):
        _read(path)


def test_split_counts_stratified_and_seeded(source):
    path, _ = source
    frames = read_au2_mgo(path, train=6, validation=2, test=4, seed=3)
    names = [a.info["split"] for a in frames]
    assert Counter(names) == {"train": 6, "validation": 2, "test": 4}
    for name, count in (("train", 6), ("validation", 2), ("test", 4)):
        doped = [a.info["doped"] for a in frames if a.info["split"] == name]
        assert sum(doped) == count // 2, name
    assert names == [
        a.info["split"] for a in read_au2_mgo(path, train=6, validation=2, test=4, seed=3)
    ]
    assert names != [
        a.info["split"] for a in read_au2_mgo(path, train=6, validation=2, test=4, seed=4)
    ]
    leftover = read_au2_mgo(path, train=4, validation=2, test=2)
    assert Counter(a.info["split"] for a in leftover)["unused"] == 4
    with pytest.raises(InputError, match="split counts"):
        read_au2_mgo(path, train=80)


def test_clear_errors(tmp_path, test_seed):
    path = _write(tmp_path, _source_frames(test_seed, with_charges=False))
    with pytest.raises(FileFormatError, match="initial_charges"):
        _read(path)
    with pytest.raises(FileFormatError, match="does not exist"):
        read_au2_mgo(tmp_path / "missing.extxyz")
    frames = _source_frames(test_seed)
    frames[1].calc = SinglePointCalculator(frames[1], energy=-1.0)
    with pytest.raises(FileFormatError, match="frame 1: no per-atom column `forces`"):
        _read(_write(tmp_path, frames))


def test_written_dataset_round_trips_into_training_samples(source, tmp_path):
    path, _ = source
    written = write_au2_mgo_dataset(path, tmp_path / "converted", train=8, validation=2, test=2)
    expected = _read(path)
    frames, sources = read_labeled_frames(str(written), units="atomistic")
    samples, type_names = samples_from_frames(frames, sources=sources, charges_key="charges")
    assert type_names == ["Al", "Au", "Mg", "O"]
    decimals = dict(rtol=0, atol=6e-9)  # ASE writes per-atom columns with 8 decimals
    for sample, atoms in zip(samples, expected):
        np.testing.assert_allclose(sample.positions, atoms.positions, **decimals)
        np.testing.assert_allclose(sample.cell, atoms.cell[:], rtol=1e-12)
        assert sample.energy == pytest.approx(atoms.get_potential_energy(), rel=1e-12)
        np.testing.assert_allclose(sample.forces, atoms.get_forces(), **decimals)
        np.testing.assert_allclose(sample.charges, atoms.arrays["charges"], **decimals)
        assert sample.total_charge == 0.0
    split = split_by_key(frames, "split")
    assert [len(split[k]) for k in ("train", "validation", "test")] == [8, 2, 2]
