"""extxyz datasets of labels (the PGN labeler's units: positions and cell nm, energy kT,
forces kT/nm; other systems record theirs in the manifest).

Each frame carries energy, forces and per-particle `energies` through an ASE
SinglePointCalculator, the integer `type` column, and in `info` the design parameters and
the solver diagnostics. A dataset is a folder with manifest.json (its shards, failures and
units) and shards/*.extxyz, or one extxyz file. Reading checks every frame: an empty or
truncated file, a frame that does not parse, non-finite positions, cell, energies or forces,
a manifest entry leading outside the folder and a missing shard raise FileFormatError
naming the file (and the frame index).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import ase.io
import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator

from .._atomic import atomic_path
from ..errors import FileFormatError, InputError
from ..units import check_units
from ..validation import LEGACY_TYPE_COLUMNS, TYPE_COLUMN, check_finite, read_type_column

MANIFEST = "manifest.json"


def write_extxyz(path, frames) -> Path:
    """Write ase.Atoms frames to `path` atomically (temp file in the same folder + os.replace).
    A legacy `types` column is written as the canonical `type`."""
    frames = [_canonical_type_column(atoms) for atoms in frames]
    with atomic_path(path) as temporary:
        ase.io.write(temporary, frames, format="extxyz")
    return Path(path)


def _canonical_type_column(atoms):
    legacy = [c for c in LEGACY_TYPE_COLUMNS if c in atoms.arrays]
    if not legacy or TYPE_COLUMN in atoms.arrays:
        return atoms
    copy = atoms.copy()
    results = getattr(atoms.calc, "results", None) if atoms.calc is not None else None
    if results:
        copy.calc = SinglePointCalculator(copy, **results)
    types = read_type_column(atoms)
    for column in legacy:
        del copy.arrays[column]
    copy.new_array(TYPE_COLUMN, types)
    return copy


def labeled_frame(atoms, result, design, content_hash: str):
    """A copy of `atoms` carrying the DFTResult `result` (energy kT, forces kT/nm) and the
    particle types in the `type` column."""
    frame = atoms.copy()
    types = read_type_column(atoms, design.n_types)
    for column in (TYPE_COLUMN, *LEGACY_TYPE_COLUMNS):
        if column in frame.arrays:
            del frame.arrays[column]
    frame.new_array(TYPE_COLUMN, types)
    frame.calc = SinglePointCalculator(
        frame, energy=result.energy, forces=result.forces, energies=result.energies
    )
    for key, value in design.to_dict().items():
        frame.info[f"design_{key}"] = json.dumps(value)
    frame.info.update(
        {
            "hash": content_hash,
            "converged": result.converged,
            "iterations": result.iterations,
            "residual": result.residual,
            "spacing": result.spacing,
            "solver": result.info["method"],
            "reach": result.info["reach"],
            "label_seconds": result.info["time_total"],
        }
    )
    return frame


def check_frame(atoms, where: str) -> None:
    """FileFormatError (naming `where`, e.g. "file.extxyz frame 3") when the frame's
    positions, cell, energy, per-particle energies or forces hold NaN or infinity."""
    results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
    values = {"positions": atoms.positions, "cell": atoms.cell[:]}
    for key in ("energy", "free_energy", "energies", "forces"):
        if key in results:
            values[key] = results[key]
        elif key in atoms.info:
            values[key] = atoms.info[key]
        elif key in atoms.arrays:
            values[key] = atoms.arrays[key]
    for key, value in values.items():
        try:
            check_finite(np.asarray(value, dtype=np.float64), key)
        except (InputError, TypeError, ValueError) as error:
            raise FileFormatError(f"{where}: {error}") from error


def read_extxyz(path) -> list:
    """Frames of one extxyz file, each checked (check_frame); FileFormatError naming the
    file and the frame index for an empty, truncated or unparsable file."""
    path = Path(path)
    try:
        text = path.read_bytes().decode()
    except OSError as error:
        raise FileFormatError(
            f"cannot read dataset file {path}: {error.strerror or error}"
        ) from error
    except UnicodeDecodeError as error:
        raise FileFormatError(f"dataset file {path} is not text (extxyz): {error}") from error
    lines = text.splitlines(keepends=True)
    if not any(line.strip() for line in lines):
        raise FileFormatError(f"dataset file {path} is empty")
    frames, start = [], 0
    while start < len(lines):
        if not lines[start].strip():
            start += 1
            continue
        where = f"{path} frame {len(frames)} (line {start + 1})"
        try:
            count = int(lines[start].split()[0])
        except ValueError:
            raise FileFormatError(
                f"{where}: expected the particle count, got {lines[start].strip()[:40]!r}"
            ) from None
        end = start + 2 + count
        if count < 0 or end > len(lines) or not lines[end - 1].endswith(("\n", "\r")):
            raise FileFormatError(
                f"{where} is truncated: it announces {count} particles, the file ends first"
            )
        try:
            atoms = ase.io.read(io.StringIO("".join(lines[start:end])), format="extxyz")
        except Exception as error:  # noqa: BLE001 - ASE's parser raises many kinds
            reason = str(error).splitlines()[0] if str(error) else ""
            raise FileFormatError(
                f"{where} cannot be parsed: {type(error).__name__}: {reason}"
            ) from error
        check_frame(atoms, where)
        frames.append(atoms)
        start = end
    return frames


def read_manifest(folder) -> dict:
    """The manifest of a dataset folder, checked: a mapping whose `shards` list names files
    inside the folder, and whose `units` (when recorded) is a dict."""
    folder = Path(folder)
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileFormatError(
            f"{folder} is a folder without {MANIFEST}: not a labeled dataset (give its extxyz "
            f"files, or label into it with `pgnfast label --out`)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FileFormatError(f"{path} cannot be read as JSON: {error}") from error
    if not isinstance(manifest, dict) or not isinstance(manifest.get("shards"), list):
        raise FileFormatError(f"{path} has no list of shards")
    if manifest.get("units") is not None and not isinstance(manifest["units"], dict):
        raise FileFormatError(f"{path}: units must be a mapping, got {manifest['units']!r}")
    root = folder.resolve()
    for index, shard in enumerate(manifest["shards"]):
        name = shard.get("file") if isinstance(shard, dict) else None
        if not isinstance(name, str) or not name:
            raise FileFormatError(f"{path}: shard {index} names no file")
        target = (folder / name).resolve()
        if not target.is_relative_to(root):
            raise FileFormatError(
                f"{path}: shard {index} file {name!r} leads outside the dataset folder {folder}"
            )
        if not target.is_file():
            raise FileFormatError(f"{path}: shard {index} file {folder / name} is missing")
    return manifest


def dataset_units(path) -> dict | None:
    """The units a dataset folder's manifest records (None for a plain file or an older
    dataset)."""
    path = Path(path)
    return read_manifest(path).get("units") if path.is_dir() else None


def read_dataset(path, *, units=None) -> list:
    """Frames (ase.Atoms with .calc results energy, forces, energies) of a dataset folder
    (its manifest's shards, in manifest order) or of one extxyz file, every frame checked.
    units: the unit system the caller expects ("pgn", a dict); a dataset recording others
    raises UnitsError (datasets that record none are not checked)."""
    return read_dataset_sources(path, units=units)[0]


def read_dataset_sources(path, *, units=None) -> tuple[list, list[str]]:
    """read_dataset's frames and, per frame, where it came from ("file frame k")."""
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"dataset {path} does not exist")
    files = [path]
    if path.is_dir():
        manifest = read_manifest(path)
        if units is not None and manifest.get("units") is not None:
            check_units(manifest["units"], units, f"dataset {path}")
        files = [path / shard["file"] for shard in manifest["shards"]]
    frames, sources = [], []
    for file in files:
        loaded = read_extxyz(file)
        frames += loaded
        sources += [f"{file} frame {k}" for k in range(len(loaded))]
    return frames, sources
