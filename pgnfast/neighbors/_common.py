"""Input validation and geometry shared by every neighbor-list backend.

Convention (vesin's): ``vectors[k] = positions[j[k]] - positions[i[k]] + shifts[k] @ cell``,
cell rows are the box vectors (nm), shifts are integers (int32), i and j are int64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..geometry import check_cell, check_pbc
from ..geometry import face_widths as face_widths  # re-exported: its home is pgnfast.geometry
from ..validation import check_positive

try:
    import torch
except ImportError:  # pragma: no cover - torch is a hard dependency, kept soft for clarity
    torch = None


class NeighborListError(InputError):
    """Raised for invalid neighbor-list input (bad positions, cell, cutoff, shapes, devices).
    An InputError, so also a ValueError."""


@dataclass
class NeighborList:
    """Pairs within the cutoff.

    Fields (P pairs; numpy arrays or torch tensors like the input, on its device):
      i, j: (P,) int64 particle indices, sorted by i.
      shifts: (P, 3) int32 periodic image of j, in units of the cell rows.
      vectors: (P, 3) positions[j] - positions[i] + shifts @ cell, nm, dtype of positions.
      distances: (P,) |vectors|, nm.
    """

    i: Any
    j: Any
    shifts: Any
    vectors: Any
    distances: Any

    def __len__(self) -> int:
        return int(self.i.shape[0])

    def __iter__(self):
        return iter((self.i, self.j, self.shifts, self.vectors, self.distances))


@dataclass
class Geometry:
    """Validated input as float64 numpy (CPU work) plus what is needed to convert back."""

    positions: Any  # the caller's positions (numpy array or torch tensor), unchanged
    cell: Any  # the caller's cell, same kind/device/dtype as positions
    positions_np: np.ndarray | None  # float64 copy for CPU backends, None for device tensors
    cell_np: np.ndarray  # (3, 3) float64
    pbc: tuple[bool, bool, bool]
    cutoff: float
    is_torch: bool
    device: str
    dtype: Any


def check_cutoff(cutoff, name: str = "cutoff") -> float:
    """A positive finite cutoff (nm) as a float; bools, strings and NaN are refused.
    A 0-d numpy array or torch tensor is read as its value."""
    if getattr(cutoff, "ndim", None) == 0 and not isinstance(cutoff, np.generic):
        cutoff = cutoff.item()
    try:
        return check_positive(cutoff, name)
    except InputError as error:
        raise NeighborListError(str(error)) from None


def _check_pbc(pbc) -> tuple[bool, bool, bool]:
    try:
        return check_pbc(pbc)
    except InputError as error:
        raise NeighborListError(str(error)) from None


def _check_cell(cell, pbc) -> np.ndarray:
    """The cell as checked float64 (3, 3) numpy (finite, not singular along periodic rows)."""
    try:
        array = check_cell(cell, pbc)
    except InputError as error:
        raise NeighborListError(str(error)) from None
    return array


def validate(positions, cell, cutoff, pbc) -> Geometry:
    """Check shapes, dtypes, devices, finiteness, cutoff and cell; raise NeighborListError."""
    pbc3 = _check_pbc(pbc)
    cutoff = check_cutoff(cutoff)
    if cell is None:
        _check_cell(None, pbc3)  # refused with a periodic direction
    is_torch = torch is not None and isinstance(positions, torch.Tensor)
    if is_torch:
        if cell is None:
            cell = torch.zeros(3, 3, dtype=positions.dtype, device=positions.device)
        if not isinstance(cell, torch.Tensor):
            cell = torch.as_tensor(_numeric(cell), dtype=positions.dtype, device=positions.device)
        if cell.device != positions.device:
            raise NeighborListError(
                f"positions are on {positions.device} but cell is on {cell.device}; "
                "put both on the same device"
            )
        if positions.dtype not in (torch.float32, torch.float64):
            raise NeighborListError(f"positions must be float32 or float64, got {positions.dtype}")
        cell = cell.to(positions.dtype)
        device = str(positions.device)
        dtype = positions.dtype
    else:
        if torch is not None and isinstance(cell, torch.Tensor):
            raise NeighborListError("positions are a numpy array but cell is a torch tensor")
        positions = np.asarray(positions)
        if positions.dtype.kind not in "f":
            raise NeighborListError(
                f"positions must be a float32 or float64 array, got dtype {positions.dtype}"
            )
        if positions.dtype not in (np.float32, np.float64):
            positions = positions.astype(np.float64)
        cell = np.zeros((3, 3), positions.dtype) if cell is None else _numeric(cell)
        device = "cpu"
        dtype = positions.dtype
    if tuple(positions.shape[1:]) != (3,) or positions.ndim != 2:
        raise NeighborListError(f"positions must have shape (N, 3), got {tuple(positions.shape)}")
    if tuple(cell.shape) != (3, 3):
        raise NeighborListError(
            f"cell must have shape (3, 3) (rows are box vectors), got {tuple(cell.shape)}"
        )
    cell_np = _check_cell(cell.detach().cpu().numpy() if is_torch else cell, pbc3)

    if is_torch:
        finite = torch.isfinite(positions).all(dim=1)
        if not bool(finite.all()):
            bad = int(torch.nonzero(~finite)[0, 0])
            raise NeighborListError(f"positions[{bad}] is not finite (NaN or infinite)")
        positions_np = (
            positions.detach().numpy().astype(np.float64, copy=False)
            if positions.device.type == "cpu"
            else None
        )
    else:
        finite = np.isfinite(positions).all(axis=1)
        if not finite.all():
            bad = int(np.argmin(finite))
            raise NeighborListError(f"positions[{bad}] is not finite (NaN or infinite)")
        positions_np = np.ascontiguousarray(positions, dtype=np.float64)
    return Geometry(positions, cell, positions_np, cell_np, pbc3, cutoff, is_torch, device, dtype)


def _numeric(cell) -> np.ndarray:
    """A cell given as a list or array, as a float array (refusing text and objects)."""
    try:
        return np.asarray(cell, dtype=np.float64)
    except (TypeError, ValueError):
        raise NeighborListError(f"cell must be a (3, 3) array of numbers, got {cell!r}") from None


def search_basis(cell: np.ndarray, pbc: tuple[bool, bool, bool]) -> np.ndarray:
    """A non-singular basis whose periodic rows are the cell's and whose other rows are
    orthonormal and perpendicular to the periodic ones (binning ignores the cell there)."""
    basis = np.array(cell, dtype=np.float64, copy=True)
    periodic = [d for d in range(3) if pbc[d]]
    free = [d for d in range(3) if not pbc[d]]
    if not free:
        return basis
    if not periodic:
        return np.eye(3)
    span = basis[periodic]
    # orthonormal complement of the periodic span
    _, _, vt = np.linalg.svd(span)
    complement = vt[len(periodic) :]
    for d, v in zip(free, complement):
        basis[d] = v
    return basis


def image_range(cell: np.ndarray, pbc, cutoff: float) -> np.ndarray:
    """Images needed per direction for wrapped positions (|fractional difference| < 1)."""
    widths = face_widths(search_basis(cell, pbc))
    return np.where(np.asarray(pbc), np.ceil(cutoff / widths).astype(np.int64) + 1, 0)
