"""Glass data: the source pickles read and checked, positions shifted into the box, the
extxyz form with label columns and its round trip, a folder converted with the split."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pgnfast.data import read_dataset
from pgnfast.errors import FileFormatError, UnitsError
from pgnfast.geometry import minimum_image
from pgnfast.systems.glass import (
    LABELS,
    SPLIT,
    convert_glasses,
    glass_from_atoms,
    glass_to_atoms,
    read_glass,
    read_glass_extxyz,
    write_glass_extxyz,
)
from pgnfast.systems.glass.convert_cli import main as convert_main
from pgnfast.units import ATOMISTIC
from pgnfast.validation import TYPE_COLUMN
from tests.systems.glass.synthetic import glass_arrays, write_glass


def _pair_distances(positions, box):
    vectors = positions[:, None, :] - positions[None, :, :]
    return np.linalg.norm(minimum_image(vectors, np.diag(box)), axis=-1)


def test_a_glass_is_read_checked_and_shifted_into_its_box(tmp_path, rng):
    arrays = glass_arrays(rng)
    glass = read_glass(write_glass(tmp_path / "train3.pickle", arrays))
    box = arrays["box"].astype(np.float64)
    assert glass.name == "train3" and glass.n_atoms == 40
    np.testing.assert_array_equal(glass.box, box)
    np.testing.assert_array_equal(glass.cell, np.diag(box))
    assert ((glass.positions >= 0) & (glass.positions < box)).all()
    # the documented shift: +box/2, then wrapped (a whole-box translation at most)
    moved = glass.positions - (arrays["positions"] + box / 2)
    np.testing.assert_allclose(moved / box, np.round(moved / box), atol=1e-12)
    np.testing.assert_allclose(
        _pair_distances(glass.positions, box), _pair_distances(arrays["positions"], box)
    )
    np.testing.assert_array_equal(glass.types, arrays["types"] - 1)
    assert glass.types.dtype == np.int64
    for column, key in LABELS.items():
        np.testing.assert_array_equal(getattr(glass, column), arrays[key].astype(np.float64))
    np.testing.assert_array_equal(glass.ids, arrays["pos"][:, 0])
    stats = glass.statistics()
    assert stats["n_cu"] + stats["n_zr"] == 40
    assert stats["barrier_mean"] == pytest.approx(arrays["trajectory_start_velocities"].mean())


def test_atoms_carry_symbols_types_labels_and_units(tmp_path, rng):
    glass = read_glass(write_glass(tmp_path / "g.pickle", glass_arrays(rng)))
    atoms = glass_to_atoms(glass, split="train")
    symbols = np.array(atoms.get_chemical_symbols())
    np.testing.assert_array_equal(symbols == "Zr", glass.types == 1)
    np.testing.assert_array_equal(atoms.arrays[TYPE_COLUMN], glass.types)
    for column in LABELS:
        np.testing.assert_array_equal(atoms.arrays[column], getattr(glass, column))
    assert json.loads(atoms.info["units"]) == ATOMISTIC
    assert atoms.info["split"] == "train" and atoms.pbc.all()


def test_extxyz_round_trip(tmp_path, rng):
    glass = read_glass(write_glass(tmp_path / "train6.pickle", glass_arrays(rng, n=60)))
    path = write_glass_extxyz(glass, tmp_path / "out" / "train6.extxyz", split="validation")
    back = read_glass_extxyz(path)
    assert back.name == "train6"
    np.testing.assert_allclose(back.positions, glass.positions, atol=1e-7)
    np.testing.assert_allclose(back.box, glass.box, rtol=1e-12)
    np.testing.assert_array_equal(back.types, glass.types)
    np.testing.assert_array_equal(back.ids, glass.ids)
    for column in LABELS:
        np.testing.assert_allclose(getattr(back, column), getattr(glass, column), atol=1e-7)


def test_a_users_glass_without_type_column_reads_from_symbols(tmp_path, rng):
    glass = read_glass(write_glass(tmp_path / "g.pickle", glass_arrays(rng)))
    atoms = glass_to_atoms(glass)
    del atoms.arrays[TYPE_COLUMN]
    del atoms.info["units"]
    np.testing.assert_array_equal(glass_from_atoms(atoms).types, glass.types)


def test_an_extxyz_glass_in_other_units_is_refused(tmp_path, rng):
    glass = read_glass(write_glass(tmp_path / "g.pickle", glass_arrays(rng)))
    atoms = glass_to_atoms(glass)
    atoms.info["units"] = json.dumps({"length": "nm", "energy": "kT"})
    with pytest.raises(UnitsError, match="nm"):
        glass_from_atoms(atoms)


def test_a_folder_converts_with_the_papers_split(tmp_path, rng):
    data = tmp_path / "data"
    sources = {f"train{i}": glass_arrays(rng, n=int(rng.integers(10, 30))) for i in range(7)}
    for name, arrays in sources.items():
        write_glass(data / f"{name}.pickle", arrays)
    out = tmp_path / "converted"
    manifest = convert_glasses(data, out)
    assert manifest["split"] == {key: list(names) for key, names in SPLIT.items()}
    assert manifest["units"] == ATOMISTIC
    assert [shard["glass"] for shard in manifest["shards"]] == list(sources)
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    for shard in manifest["shards"]:
        glass = read_glass_extxyz(out / shard["file"])
        barrier = sources[shard["glass"]]["trajectory_start_velocities"]
        np.testing.assert_allclose(glass.barrier, barrier, atol=1e-7)
        assert shard["n_atoms"] == len(barrier)
    # a pgnfast dataset folder: read_dataset reads it and checks its units
    assert len(read_dataset(out, units="atomistic")) == 7
    with pytest.raises(UnitsError):
        read_dataset(out, units="pgn")


def test_one_bad_glass_stops_the_conversion_before_anything_is_written(tmp_path, rng):
    data = tmp_path / "data"
    write_glass(data / "train0.pickle", glass_arrays(rng))
    arrays = glass_arrays(rng)
    arrays["types"][3] = 7
    write_glass(data / "train1.pickle", arrays)
    with pytest.raises(FileFormatError, match=r"train1\.pickle.*atom 3 has type 7"):
        convert_glasses(data, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_conversion_command(tmp_path, rng, capsys):
    data = tmp_path / "data"
    for i in (0, 6):
        write_glass(data / f"train{i}.pickle", glass_arrays(rng))
    assert convert_main([str(data), str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "train6     validation" in printed and "wrote 2 glasses" in printed
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "manifest.json",
        "train0.extxyz",
        "train6.extxyz",
    ]
    assert convert_main([str(tmp_path / "nowhere"), str(tmp_path / "out2")]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_the_pgnfast_glass_convert_command(tmp_path, rng):
    from pgnfast.cli import main

    data = tmp_path / "data"
    write_glass(data / "train0.pickle", glass_arrays(rng))
    assert main(["glass-convert", str(data), str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "train0.extxyz").exists()
