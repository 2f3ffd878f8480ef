"""Metallic-glass barrier data (Cu64Zr36, Angstrom, eV): the released pickles read safely and
checked, and their extxyz form with per-atom label columns.

A source file is a pickled dict of numpy arrays (read by `pgnfast.data.safe_pickle`, which
runs none of the file's code):

| key | shape | meaning |
| --- | --- | --- |
| `box` | (3,) | orthorhombic box lengths, Angstrom |
| `positions` | (N, 3) | Angstrom, centred on 0 (in [-L/2, L/2]) |
| `types` | (N,) | 1 = Cu, 2 = Zr |
| `trajectory_start_velocities` | (N,) | per-atom energy barrier, eV (name from another format) |
| `pot` | (N,) | per-atom potential energy, eV |
| `press`, `von` | (N,) | per-atom pressure and von Mises stress (units not stated by the source) |
| `pos` | (N, 1) or (N,) | atom ids |

`Glass` holds them checked: positions shifted by +L/2 per direction (the centred box
[-L/2, L/2] becomes [0, L]) and wrapped into [0, L), types 0 = Cu and 1 = Zr.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import ase
import numpy as np

from ...data.io import read_extxyz, write_extxyz
from ...data.safe_pickle import load_numpy_pickle
from ...errors import FileFormatError, InputError
from ...geometry import check_cell, orthorhombic_lengths, wrap
from ...units import ATOMISTIC, check_units
from ...validation import TYPE_COLUMN, check_finite, check_positions, read_type_column

__all__ = [
    "BARRIER_KEY",
    "LABELS",
    "SOURCE_KEYS",
    "TYPE_NAMES",
    "Glass",
    "glass_from_arrays",
    "glass_from_atoms",
    "glass_to_atoms",
    "read_glass",
    "read_glass_extxyz",
    "write_glass_extxyz",
]

TYPE_NAMES = ("Cu", "Zr")
"""Chemical symbol of each type (type 0 = Cu = file type 1, type 1 = Zr = file type 2)."""
BARRIER_KEY = "trajectory_start_velocities"
LABELS = {
    "barrier": BARRIER_KEY,
    "potential_energy": "pot",
    "pressure": "press",
    "von_mises": "von",
}
"""Per-atom label: extxyz column name -> key in the source pickle."""
SOURCE_KEYS = ("box", "positions", "types", *LABELS.values(), "pos")
ID_COLUMN = "atom_id"


@dataclass(frozen=True, eq=False)
class Glass:
    """One glass, checked. positions (N, 3) Angstrom in [0, L); box (3,) Angstrom; types
    (N,) int64 (0 Cu, 1 Zr); barrier and potential_energy (N,) eV; pressure and von_mises
    (N,) as in the source; ids (N,) int64 atom ids."""

    name: str
    positions: np.ndarray
    box: np.ndarray
    types: np.ndarray
    barrier: np.ndarray
    potential_energy: np.ndarray
    pressure: np.ndarray
    von_mises: np.ndarray
    ids: np.ndarray

    @property
    def n_atoms(self) -> int:
        return len(self.types)

    @property
    def cell(self) -> np.ndarray:
        """(3, 3) diagonal cell, Angstrom."""
        return np.diag(self.box)

    def labels(self) -> dict[str, np.ndarray]:
        """The per-atom labels by column name (barrier first)."""
        return {column: getattr(self, column) for column in LABELS}

    def statistics(self) -> dict:
        """Counts, box and barrier statistics (eV), JSON-ready."""
        return {
            "n_atoms": self.n_atoms,
            "n_cu": int((self.types == 0).sum()),
            "n_zr": int((self.types == 1).sum()),
            "box": [float(x) for x in self.box],
            "barrier_mean": float(self.barrier.mean()),
            "barrier_std": float(self.barrier.std()),
            "barrier_min": float(self.barrier.min()),
            "barrier_max": float(self.barrier.max()),
        }


def _per_atom(values, n: int, what: str, *, allow_column: bool = False) -> np.ndarray:
    array = np.asarray(values)
    if allow_column and array.shape == (n, 1):
        array = array[:, 0]
    if array.dtype.kind not in "iuf":
        raise InputError(f"{what} must hold numbers, got dtype {array.dtype}")
    if array.shape != (n,):
        raise InputError(f"{what} must have shape ({n},) (one value per atom), got {array.shape}")
    check_finite(array, what)
    return array


def _box(values, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind not in "iuf" or array.shape != (3,):
        raise InputError(
            f"{name}: key 'box' must be 3 box lengths (Angstrom), got shape {array.shape} "
            f"dtype {array.dtype}"
        )
    box = array.astype(np.float64)
    check_finite(box, f"{name}: key 'box'")
    if (box <= 0).any():
        axis = int(np.flatnonzero(box <= 0)[0])
        raise InputError(f"{name}: key 'box' has length {box[axis]} along axis {axis}, not > 0")
    check_cell(np.diag(box), name=f"{name}: key 'box'")
    return box


def _file_types(values, n: int, name: str) -> np.ndarray:
    array = _per_atom(values, n, f"{name}: key 'types'")
    bad = ~np.isin(array, (1, 2))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{name}: key 'types': atom {i} has type {array[i]}, expected 1 (Cu) or 2 (Zr)"
        )
    return array.astype(np.int64) - 1


def _ids(values, n: int, what: str) -> np.ndarray:
    array = _per_atom(values, n, what, allow_column=True)
    if array.dtype.kind == "f" and (array != np.round(array)).any():
        raise InputError(f"{what} must be whole numbers")
    ids = array.astype(np.int64)
    _, first, counts = np.unique(ids, return_index=True, return_counts=True)
    if (counts > 1).any():
        repeated = np.setdiff1d(np.arange(n), first)[0]
        raise InputError(f"{what}: atom {repeated} repeats the id {ids[repeated]}")
    return ids


def glass_from_arrays(arrays: Mapping, name: str = "glass") -> Glass:
    """A checked Glass from a source dict (keys SOURCE_KEYS, see the module docstring).
    Positions are shifted by +box/2 and wrapped into [0, box). InputError naming `name`,
    the key and the first bad atom for a missing key, a wrong shape or dtype, a non-finite
    value, a type outside {1, 2}, a box length <= 0 or a repeated atom id."""
    if not isinstance(arrays, Mapping):
        raise InputError(f"{name} must be a dict of arrays, got {type(arrays).__name__}")
    missing = [key for key in SOURCE_KEYS if key not in arrays]
    if missing:
        raise InputError(f"{name} has no key {missing[0]!r} (a glass has {list(SOURCE_KEYS)})")
    box = _box(arrays["box"], name)
    positions = check_positions(arrays["positions"], f"{name}: key 'positions'")
    n = len(positions)
    if n == 0:
        raise InputError(f"{name}: key 'positions' holds no atoms")
    labels = {
        column: _per_atom(arrays[key], n, f"{name}: key {key!r} ({column})").astype(np.float64)
        for column, key in LABELS.items()
    }
    wrapped, _ = wrap(positions + box / 2, np.diag(box))
    return Glass(
        name=name,
        positions=wrapped,
        box=box,
        types=_file_types(arrays["types"], n, name),
        ids=_ids(arrays["pos"], n, f"{name}: key 'pos' (atom ids)"),
        **labels,
    )


def read_glass(path) -> Glass:
    """The glass in one source pickle, loaded safely and checked (glass_from_arrays); named
    after the file's stem. FileFormatError naming the path for an unreadable, hostile or
    damaged file and for contents that are not a valid glass."""
    path = Path(path)
    arrays = load_numpy_pickle(path)
    try:
        return glass_from_arrays(arrays, name=path.stem)
    except InputError as error:
        raise FileFormatError(f"glass file {path}: {error}") from error


def glass_to_atoms(glass: Glass, split: str | None = None) -> ase.Atoms:
    """An ase.Atoms of the glass: symbols Cu/Zr, orthorhombic periodic cell, the `type`
    column (0 Cu, 1 Zr), the label columns (LABELS), `atom_id`, and in info the glass name,
    its split (when given) and the units (JSON of pgnfast.units.ATOMISTIC)."""
    atoms = ase.Atoms(
        symbols=[TYPE_NAMES[t] for t in glass.types],
        positions=glass.positions,
        cell=glass.cell,
        pbc=True,
    )
    atoms.new_array(TYPE_COLUMN, glass.types.astype(np.int64))
    for column, values in glass.labels().items():
        atoms.new_array(column, np.asarray(values, dtype=np.float64))
    atoms.new_array(ID_COLUMN, glass.ids.astype(np.int64))
    atoms.info["glass"] = glass.name
    if split is not None:
        atoms.info["split"] = split
    atoms.info["units"] = json.dumps(ATOMISTIC)
    return atoms


def glass_from_atoms(atoms: ase.Atoms, name: str = "glass") -> Glass:
    """A checked Glass from an ase.Atoms written by glass_to_atoms (or any periodic
    orthorhombic Cu/Zr structure carrying the label columns). Units recorded in info are
    checked against Angstrom/eV (UnitsError); InputError for a non-periodic or
    non-orthorhombic cell, types other than Cu/Zr and a missing or non-finite label."""
    units = atoms.info.get("units")
    if isinstance(units, str):
        try:
            units = json.loads(units)
        except ValueError as error:
            raise InputError(f"{name}: info 'units' is not JSON: {units[:60]!r}") from error
    if units is not None and not isinstance(units, dict):
        raise InputError(f"{name}: info 'units' must be a mapping, got {units!r}")
    if units is not None:
        check_units(units, ATOMISTIC, name)
    if not atoms.pbc.all():
        raise InputError(f"{name}: a glass is periodic in all directions, got pbc {atoms.pbc}")
    cell = check_cell(atoms.cell[:], name=f"{name}: cell")
    box = orthorhombic_lengths(cell)
    if box is None:
        raise InputError(f"{name}: the cell must be orthorhombic (diagonal), got {cell.tolist()}")
    positions = check_positions(atoms.positions, f"{name}: positions")
    n = len(positions)
    types = read_type_column(atoms, len(TYPE_NAMES), TYPE_NAMES)
    labels = {}
    for column in LABELS:
        if column not in atoms.arrays:
            raise InputError(f"{name} has no per-atom column {column!r}")
        labels[column] = _per_atom(atoms.arrays[column], n, f"{name}: column {column!r}")
    ids = atoms.arrays.get(ID_COLUMN, np.arange(1, n + 1))
    return Glass(
        name=name,
        positions=wrap(positions, cell)[0],
        box=box,
        types=types,
        ids=_ids(ids, n, f"{name}: column {ID_COLUMN!r}"),
        **{column: values.astype(np.float64) for column, values in labels.items()},
    )


def write_glass_extxyz(glass: Glass, path, split: str | None = None) -> Path:
    """Write the glass as a one-frame extxyz file (glass_to_atoms), atomically."""
    return write_extxyz(path, [glass_to_atoms(glass, split)])


def read_glass_extxyz(path) -> Glass:
    """The glass of a one-frame extxyz file written by write_glass_extxyz; FileFormatError
    naming the path for a damaged file, several frames or a frame that is not a glass."""
    path = Path(path)
    frames = read_extxyz(path)
    if len(frames) != 1:
        raise FileFormatError(f"glass file {path} holds {len(frames)} frames, expected 1")
    name = str(frames[0].info.get("glass", path.stem))
    try:
        return glass_from_atoms(frames[0], name=name)
    except InputError as error:
        raise FileFormatError(f"glass file {path}: {error}") from error
