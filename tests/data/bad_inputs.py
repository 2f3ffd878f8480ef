"""Bad inputs of the dataset layer: extxyz files, dataset folders and their manifests, and
the labeling farm's configurations."""

from __future__ import annotations

import json

import ase
import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator

from pgnfast.errors import FileFormatError, InputError, UnitsError
from tests.bad_inputs import bad_input


def labeled_frames(rng, count=3, n=6, box=2.0):
    """`count` random labeled frames (energy kT, forces kT/nm, two particle types)."""
    frames = []
    for _ in range(count):
        atoms = ase.Atoms(
            numbers=np.ones(n, int),
            positions=rng.uniform(0, box, (n, 3)),
            cell=np.eye(3) * box,
            pbc=True,
        )
        atoms.new_array("type", rng.integers(0, 2, n))
        atoms.calc = SinglePointCalculator(
            atoms, energy=float(rng.normal()), forces=rng.normal(size=(n, 3))
        )
        frames.append(atoms)
    return frames


def write_dataset(folder, frames, units=None):
    """A dataset folder as the labeler writes it: manifest.json and one shard per frame."""
    from pgnfast.data import write_extxyz

    shards = []
    for index, atoms in enumerate(frames):
        write_extxyz(folder / "shards" / f"s{index}.extxyz", [atoms])
        shards.append({"hash": f"s{index}", "file": f"shards/s{index}.extxyz"})
    manifest = {"shards": shards, "failures": []}
    if units is not None:
        manifest["units"] = units
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def _file(rng, tmp_path, edit=None):
    """An extxyz file of labeled frames, `edit(frames)` applied before writing."""
    from pgnfast.data import write_extxyz

    frames = labeled_frames(rng)
    if edit is not None:
        edit(frames)
    return write_extxyz(tmp_path / "data.extxyz", frames)


@bad_input("pgnfast.data.read_dataset", "an empty file", FileFormatError, r"data\.extxyz is empty")
def read_empty_file(rng, tmp_path):
    from pgnfast.data import read_dataset

    (tmp_path / "data.extxyz").write_text("")
    read_dataset(tmp_path / "data.extxyz")


@bad_input(
    "pgnfast.data.read_dataset",
    "a file cut inside its third frame",
    FileFormatError,
    r"data\.extxyz frame 2 \(line 17\) is truncated",
)
def read_truncated_frame(rng, tmp_path):
    from pgnfast.data import read_dataset

    path = _file(rng, tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: 16 + int(rng.integers(1, 8))]))
    read_dataset(path)


@bad_input(
    "pgnfast.data.read_dataset",
    "a frame line that is not a particle",
    FileFormatError,
    r"data\.extxyz frame 1 \(line 9\) cannot be parsed",
)
def read_garbled_frame(rng, tmp_path):
    from pgnfast.data import read_dataset

    path = _file(rng, tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    lines[11] = "X not a number\n"
    path.write_text("".join(lines))
    read_dataset(path)


@bad_input(
    "pgnfast.data.read_dataset",
    "a NaN position",
    FileFormatError,
    r"frame 1 \(line 9\): positions has a non-finite entry at flat index 7",
)
def read_nan_position(rng, tmp_path):
    from pgnfast.data import read_dataset

    def edit(frames):
        frames[1].positions[2, 1] = np.nan

    read_dataset(_file(rng, tmp_path, edit))


@bad_input(
    "pgnfast.data.read_dataset",
    "an infinite energy",
    FileFormatError,
    r"frame 2 \(line 17\): energy has a non-finite entry",
)
def read_infinite_energy(rng, tmp_path):
    from pgnfast.data import read_dataset

    def edit(frames):
        frames[2].calc.results["energy"] = np.inf

    read_dataset(_file(rng, tmp_path, edit))


@bad_input(
    "pgnfast.data.read_dataset",
    "a NaN force",
    FileFormatError,
    r"frame 0 \(line 1\): forces has a non-finite entry at flat index 4",
)
def read_nan_force(rng, tmp_path):
    from pgnfast.data import read_dataset

    def edit(frames):
        frames[0].calc.results["forces"][1, 1] = np.nan

    read_dataset(_file(rng, tmp_path, edit))


@bad_input(
    "pgnfast.data.read_dataset",
    "a manifest entry leading outside the dataset folder",
    FileFormatError,
    r"shard 1 file '\.\./outside\.extxyz' leads outside the dataset folder",
)
def read_manifest_outside(rng, tmp_path):
    from pgnfast.data import read_dataset, write_extxyz

    folder = write_dataset(tmp_path / "ds", labeled_frames(rng))
    write_extxyz(tmp_path / "outside.extxyz", labeled_frames(rng, 1))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["shards"][1]["file"] = "../outside.extxyz"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    read_dataset(folder)


@bad_input(
    "pgnfast.data.read_dataset",
    "a missing shard",
    FileFormatError,
    r"manifest\.json: shard 2 file .*s2\.extxyz is missing",
)
def read_missing_shard(rng, tmp_path):
    from pgnfast.data import read_dataset

    folder = write_dataset(tmp_path / "ds", labeled_frames(rng))
    (folder / "shards" / "s2.extxyz").unlink()
    read_dataset(folder)


@bad_input(
    "pgnfast.data.read_dataset",
    "a folder without manifest.json",
    FileFormatError,
    r"is a folder without manifest\.json",
)
def read_folder_without_manifest(rng, tmp_path):
    from pgnfast.data import read_dataset

    folder = write_dataset(tmp_path / "ds", labeled_frames(rng))
    (folder / "manifest.json").unlink()
    read_dataset(folder)


@bad_input(
    "pgnfast.data.read_dataset",
    "a manifest that is not JSON",
    FileFormatError,
    r"manifest\.json cannot be read as JSON",
)
def read_manifest_not_json(rng, tmp_path):
    from pgnfast.data import read_dataset

    folder = write_dataset(tmp_path / "ds", labeled_frames(rng))
    text = (folder / "manifest.json").read_text()
    (folder / "manifest.json").write_text(text[: int(rng.integers(1, len(text) - 1))])
    read_dataset(folder)


@bad_input(
    "pgnfast.data.read_dataset(units=...)",
    "a dataset recorded in other units",
    UnitsError,
    r"dataset .*ds is in Angstrom for length, expected nm",
)
def read_other_units(rng, tmp_path):
    from pgnfast.data import read_dataset
    from pgnfast.units import ATOMISTIC

    folder = write_dataset(tmp_path / "ds", labeled_frames(rng), units=ATOMISTIC)
    read_dataset(folder, units="pgn")


@bad_input(
    "pgnfast.data.label",
    "a configuration that is not an ase.Atoms",
    InputError,
    r"configuration 1 must be an ase\.Atoms, got ndarray",
)
def label_not_atoms(rng, tmp_path):
    from pgnfast.data import label
    from pgnfast.dft import default_design

    atoms = labeled_frames(rng, 1)[0]
    atoms.arrays["type"][:] = 0
    label([atoms, atoms.positions], default_design(), tmp_path / "ds", progress=False)


@bad_input(
    "pgnfast.data.label",
    "a type the design does not have",
    InputError,
    r"configuration 0: column 'type': particle 3 has type 1, out of range \(there are 1",
)
def label_type_out_of_range(rng, tmp_path):
    from pgnfast.data import label
    from pgnfast.dft import default_design

    atoms = labeled_frames(rng, 1)[0]
    atoms.arrays["type"][:] = 0
    atoms.arrays["type"][3] = 1
    label([atoms], default_design(), tmp_path / "ds", progress=False)
