"""Reading datasets: damaged extxyz files and manifests raise pgnfast exceptions naming the
file, units recorded by a dataset are checked, legacy type columns are rewritten."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from pgnfast import errors
from pgnfast.data import read_dataset, write_extxyz
from pgnfast.data.io import dataset_units
from pgnfast.units import ATOMISTIC, PGN
from tests.corruption import damage

from .bad_inputs import labeled_frames, write_dataset


def test_dataset_folder_round_trip_with_units(rng, tmp_path):
    frames = labeled_frames(rng, 4)
    folder = write_dataset(tmp_path / "ds", frames, units=PGN)
    assert dataset_units(folder) == PGN
    back = read_dataset(folder, units="pgn")
    assert len(back) == 4
    for a, b in zip(frames, back):
        np.testing.assert_allclose(a.positions, b.positions, atol=1e-8)
        assert a.arrays["type"].tolist() == b.arrays["type"].tolist()
        assert b.get_potential_energy() == pytest.approx(a.get_potential_energy(), abs=1e-8)
    with pytest.raises(errors.UnitsError):
        read_dataset(folder, units=ATOMISTIC)


def test_datasets_without_recorded_units_are_not_checked(rng, tmp_path):
    folder = write_dataset(tmp_path / "ds", labeled_frames(rng, 2))
    assert dataset_units(folder) is None
    assert len(read_dataset(folder, units="atomistic")) == 2
    assert dataset_units(write_extxyz(tmp_path / "one.extxyz", labeled_frames(rng, 1))) is None


def test_a_file_without_final_line_end_is_truncated(rng, tmp_path):
    path = write_extxyz(tmp_path / "data.extxyz", labeled_frames(rng, 2))
    path.write_text(path.read_text().rstrip("\n"))
    with pytest.raises(errors.FileFormatError, match=r"frame 1 \(line 9\) is truncated"):
        read_dataset(path)


def test_damaged_extxyz_files_raise_pgnfast_errors(rng, tmp_path, test_seed):
    data = write_extxyz(tmp_path / "good.extxyz", labeled_frames(rng, 3)).read_bytes()
    damaged = tmp_path / "damaged.extxyz"

    @seed(test_seed)
    @settings(max_examples=30, deadline=None, database=None)
    @given(st.data())
    def check(draw):
        damaged.write_bytes(damage(data, draw.draw))
        try:
            frames = read_dataset(damaged)
        except errors.PGNFastError as error:
            assert "damaged.extxyz" in str(error)
            return
        for atoms in frames:  # damage the format tolerates: still finite labels
            assert np.isfinite(atoms.positions).all()

    check()


def test_damaged_manifests_raise_pgnfast_errors(rng, tmp_path, test_seed):
    folder = write_dataset(tmp_path / "ds", labeled_frames(rng, 2), units=PGN)
    data = (folder / "manifest.json").read_bytes()

    @seed(test_seed)
    @settings(max_examples=30, deadline=None, database=None)
    @given(st.data())
    def check(draw):
        (folder / "manifest.json").write_bytes(damage(data, draw.draw))
        try:
            read_dataset(folder, units="pgn")
        except errors.PGNFastError:
            return

    check()
    assert json.loads(data)["units"] == PGN
