"""The checks every public entry point runs on its input, in one place.

Each function returns the input converted to the canonical dtype and raises
`pgnfast.errors.InputError` naming the argument, the problem and the first bad index.
They accept numpy arrays and, where noted, torch tensors (checked on their own device).
Cell and pbc checks live in `pgnfast.geometry` and are re-exported here.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .errors import InputError
from .geometry import check_cell, check_pbc

__all__ = [
    "LEGACY_TYPE_COLUMNS",
    "TYPE_COLUMN",
    "check_cell",
    "check_finite",
    "check_indices",
    "check_pbc",
    "check_positions",
    "check_positive",
    "check_probability",
    "check_seed",
    "check_types",
    "read_fragments",
    "read_type_column",
]

TYPE_COLUMN = "type"
"""The per-particle integer type column of pgnfast's extxyz files and ASE Atoms."""
LEGACY_TYPE_COLUMNS = ("types",)
"""Other names read (never written) for files written before the name was fixed."""


def _first_bad(mask) -> int:
    return int(np.flatnonzero(np.asarray(mask).reshape(-1))[0])


def check_finite(values, name: str) -> None:
    """Refuse NaN or infinite entries (numpy array or torch tensor), naming the first."""
    if hasattr(values, "detach"):
        import torch

        bad = ~torch.isfinite(values)
        if bool(bad.any()):
            index = int(torch.nonzero(bad.reshape(-1))[0])
            raise InputError(f"{name} has a non-finite entry at flat index {index}")
        return
    array = np.asarray(values)
    if array.dtype.kind in "fc":
        bad = ~np.isfinite(array)
        if bad.any():
            raise InputError(f"{name} has a non-finite entry at flat index {_first_bad(bad)}")


def check_positions(positions, name: str = "positions") -> np.ndarray:
    """(N, 3) finite float64 positions."""
    try:
        array = np.asarray(positions, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(f"{name} must be an (N, 3) array of numbers") from error
    if array.ndim != 2 or array.shape[1] != 3:
        raise InputError(f"{name} must have shape (N, 3), got {array.shape}")
    check_finite(array, name)
    return array


def check_types(types, n_particles: int, n_types: int | None = None, name: str = "types"):
    """(N,) int64 particle types in [0, n_types). Refuses floats that are not whole numbers
    (a float array of whole numbers is converted), bools, the wrong length and values out of
    range, naming the first bad particle."""
    array = np.asarray(types)
    if array.dtype.kind == "b" or array.dtype.kind not in "iuf":
        raise InputError(f"{name} must be integers, got dtype {array.dtype}")
    if array.shape != (n_particles,):
        raise InputError(f"{name} must have shape ({n_particles},), got {array.shape}")
    if array.dtype.kind == "f":
        whole = np.isfinite(array) & (array == np.round(array))
        if not whole.all():
            i = _first_bad(~whole)
            raise InputError(f"{name} must be whole numbers: particle {i} has type {array[i]}")
    array = array.astype(np.int64)
    if n_particles:
        upper = np.inf if n_types is None else n_types
        bad = (array < 0) | (array >= upper)
        if bad.any():
            i = _first_bad(bad)
            limit = "" if n_types is None else f" (there are {n_types} types: 0..{n_types - 1})"
            raise InputError(f"{name}: particle {i} has type {array[i]}, out of range{limit}")
    return array


def check_indices(index, size: int, name: str, length: int | None = None):
    """Integer indices into an axis of `size` (numpy array or torch tensor, kept as given):
    refuses a non-integer dtype, another length than `length`, negative values and values
    >= size, naming the first bad position."""
    if hasattr(index, "detach"):
        import torch

        if index.dtype in (torch.bool,) or index.dtype.is_floating_point or index.is_complex():
            raise InputError(f"{name} must be an integer tensor, got {index.dtype}")
        if index.dim() != 1 or (length is not None and index.shape[0] != length):
            want = "(E,)" if length is None else f"({length},)"
            raise InputError(f"{name} must have shape {want}, got {tuple(index.shape)}")
        if index.numel():
            bad = (index < 0) | (index >= size)
            if bool(bad.any()):
                k = int(torch.nonzero(bad)[0])
                raise InputError(f"{name}[{k}] = {int(index[k])} is out of range for {size} rows")
        return index
    array = np.asarray(index)
    if array.dtype.kind not in "iu":
        raise InputError(f"{name} must be an integer array, got {array.dtype}")
    if array.ndim != 1 or (length is not None and array.shape[0] != length):
        want = "(E,)" if length is None else f"({length},)"
        raise InputError(f"{name} must have shape {want}, got {array.shape}")
    if array.size:
        bad = (array < 0) | (array >= size)
        if bad.any():
            k = _first_bad(bad)
            raise InputError(f"{name}[{k}] = {int(array[k])} is out of range for {size} rows")
    return array


def _real(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a real number, got {value!r}")
    return float(value)


def check_positive(value, name: str, *, allow_zero: bool = False) -> float:
    """A finite real number > 0 (>= 0 with allow_zero); bools and strings are refused."""
    number = _real(value, name)
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InputError(f"{name} must be a finite number {bound}, got {value!r}")
    return number


def check_probability(value, name: str) -> float:
    """A real number strictly inside (0, 1)."""
    number = _real(value, name)
    if not 0.0 < number < 1.0:  # NaN fails too
        raise InputError(f"{name} must lie strictly between 0 and 1, got {value!r}")
    return number


def check_seed(seed, name: str = "seed") -> int:
    """A non-negative integer random seed (numpy and Python ints; no bools, no floats)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise InputError(f"{name} must be a non-negative integer, got {seed!r}")
    if seed < 0:
        raise InputError(f"{name} must be a non-negative integer, got {seed!r}")
    return int(seed)


def read_type_column(atoms, n_types: int | None = None, type_names=None) -> np.ndarray:
    """Particle types of an ASE Atoms: the `type` column, else a legacy column name, else the
    chemical symbols looked up in `type_names`; all zeros only for a one-type model (or
    n_types None). Anything else raises, naming what is missing."""
    n = len(atoms)
    for column in (TYPE_COLUMN, *LEGACY_TYPE_COLUMNS):
        if column in atoms.arrays:
            return check_types(atoms.arrays[column], n, n_types, name=f"column {column!r}")
    if type_names is not None:
        symbols = atoms.get_chemical_symbols()
        names = list(type_names)
        if all(s in names for s in symbols):
            return np.array([names.index(s) for s in symbols], np.int64)
    if n_types is None or n_types == 1:
        return np.zeros(n, np.int64)
    raise InputError(
        f"these atoms have no {TYPE_COLUMN!r} column and their chemical symbols are not the "
        f"model's type names {list(type_names or [])}: cannot tell the {n_types} types apart"
    )


def read_fragments(atoms, total_charge: float) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(fragment of each atom (N,) int64 in 0..F-1, charges (F,) e) from the per-atom column
    `fragment` and info `fragment_charges`, or (None, None) when the frame has neither;
    InputError when one comes without the other, an index is out of range, a fragment is
    empty, or the charges do not add up to the frame's total charge."""
    has_column, has_charges = "fragment" in atoms.arrays, "fragment_charges" in atoms.info
    if not has_column and not has_charges:
        return None, None
    if has_column != has_charges:
        raise InputError(
            "a frame with fragments needs both the per-atom column `fragment` and info "
            "`fragment_charges` (e, one per fragment)"
        )
    fragments = np.asarray(atoms.arrays["fragment"])
    if fragments.dtype.kind not in "iu" or fragments.shape != (len(atoms),):
        raise InputError(f"column `fragment` must hold one integer per atom, got {fragments.dtype}")
    charges = np.atleast_1d(np.asarray(atoms.info["fragment_charges"], dtype=np.float64))
    if charges.ndim != 1 or not np.all(np.isfinite(charges)):
        raise InputError(f"info fragment_charges must be finite numbers, got {charges}")
    if fragments.min(initial=0) < 0 or fragments.max(initial=0) >= len(charges):
        raise InputError(
            f"column `fragment` must index fragment_charges (0..{len(charges) - 1}), got "
            f"{int(fragments.min())}..{int(fragments.max())}"
        )
    empty = np.flatnonzero(np.bincount(fragments, minlength=len(charges)) == 0)
    if empty.size:
        raise InputError(f"fragment {int(empty[0])} has no atoms")
    if abs(charges.sum() - total_charge) > 1e-6 * (1 + abs(total_charge)):
        raise InputError(
            f"fragment_charges add up to {charges.sum()}, not to total_charge {total_charge}"
        )
    return fragments.astype(np.int64), charges
