"""Periodic-cell geometry shared by every layer: cell validation, face widths, fractional
coordinates, wrapping and the minimum image.

Cells are (3, 3) arrays whose rows are the box vectors; positions are (N, 3) Cartesian, in
the caller's length unit (the functions are unit-free).
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

# A periodic cell is singular when its volume is below this share of the product of its
# vector lengths (a relative test: a valid 1e-3 nm box passes, a flat one does not).
SINGULAR_VOLUME_SHARE = 1e-10


def check_pbc(pbc) -> tuple[bool, bool, bool]:
    """(3,) bools from a bool or a sequence of three bools."""
    if isinstance(pbc, (bool, np.bool_)):
        return (bool(pbc),) * 3
    try:
        values = np.asarray(pbc)
    except Exception as error:  # pragma: no cover - asarray accepts almost anything
        raise InputError(f"pbc must be a bool or three bools, got {pbc!r}") from error
    if values.shape != (3,) or values.dtype.kind not in "bi":
        raise InputError(f"pbc must be a bool or three bools, got {pbc!r}")
    if values.dtype.kind == "i" and not np.isin(values, (0, 1)).all():
        raise InputError(f"pbc must be a bool or three bools, got {pbc!r}")
    return tuple(bool(v) for v in values)


def check_cell(cell, pbc=(True, True, True), *, name: str = "cell") -> np.ndarray:
    """The cell as a float64 (3, 3) array, checked: right shape, finite, and, when any
    direction is periodic, not singular relative to its size.

    A cell of None or all zeros is accepted only without periodicity (returns zeros).
    """
    periodic = check_pbc(pbc)
    if cell is None:
        if any(periodic):
            raise InputError(f"{name} is None but pbc={periodic}: a periodic system needs a cell")
        return np.zeros((3, 3))
    if hasattr(cell, "detach"):  # a torch tensor
        cell = cell.detach().cpu().numpy()
    try:
        array = np.asarray(cell, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(f"{name} must be a (3, 3) array of numbers, got {cell!r}") from error
    if array.shape == (3,):
        array = np.diag(array)
    if array.shape != (3, 3):
        raise InputError(f"{name} must have shape (3, 3) (rows are box vectors), got {array.shape}")
    if not np.isfinite(array).all():
        raise InputError(f"{name} has non-finite entries: {array.tolist()}")
    if any(periodic):
        rows = array[[d for d in range(3) if periodic[d]]]
        lengths = np.linalg.norm(rows, axis=1)
        if (lengths == 0).any():
            raise InputError(f"{name} has a zero-length vector along a periodic direction")
        # volume spanned by the periodic rows (product of their singular values, accurate to
        # rounding even for exactly dependent rows), relative to their lengths
        share = np.prod(np.linalg.svd(rows, compute_uv=False)) / np.prod(lengths)
        if share < SINGULAR_VOLUME_SHARE:
            raise InputError(
                f"{name} is singular along its periodic directions (volume share {share:.3g} "
                f"of the product of its vector lengths): {array.tolist()}"
            )
    return array


def face_widths(cell: np.ndarray) -> np.ndarray:
    """Perpendicular distance between opposite faces of the parallelepiped spanned by the
    rows of a non-singular `cell` (3,), in the cell's length unit."""
    cell = np.asarray(cell, dtype=np.float64)
    volume = abs(np.linalg.det(cell))
    return volume / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)


def fractional(positions: np.ndarray, cell: np.ndarray, inverse: np.ndarray | None = None):
    """Fractional coordinates (N, 3) of Cartesian `positions` in `cell`."""
    inverse = np.linalg.inv(cell) if inverse is None else inverse
    return np.asarray(positions) @ inverse


def wrap(positions: np.ndarray, cell: np.ndarray, pbc=(True, True, True)):
    """Positions moved into the cell along periodic directions, and the integer images
    removed: ``positions = wrapped + images @ cell``. Returns (wrapped (N, 3), images (N, 3)
    int64)."""
    cell = np.asarray(cell, dtype=np.float64)
    periodic = np.asarray(check_pbc(pbc))
    frac = fractional(positions, cell)
    images = np.where(periodic, np.floor(frac), 0.0)
    frac = frac - images
    # rounding can leave a coordinate at exactly 1.0
    frac = np.where(periodic & (frac >= 1.0), 0.0, frac)
    return frac @ cell, images.astype(np.int64)


def minimum_image(vectors: np.ndarray, cell: np.ndarray, inverse: np.ndarray | None = None):
    """Difference vectors (..., 3) reduced to fractional components in [-1/2, 1/2] along
    every direction of a fully periodic `cell`. This is the nearest image whenever the
    vector is shorter than half the smallest face width."""
    inverse = np.linalg.inv(cell) if inverse is None else inverse
    frac = np.asarray(vectors) @ inverse
    return (frac - np.round(frac)) @ cell


def orthorhombic_lengths(cell: np.ndarray) -> np.ndarray | None:
    """The three box lengths if `cell` is diagonal (orthorhombic), else None."""
    cell = np.asarray(cell, dtype=np.float64)
    lengths = np.diag(cell).copy()
    if np.count_nonzero(cell - np.diag(lengths)) or (lengths <= 0).any():
        return None
    return lengths
