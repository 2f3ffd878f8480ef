"""Input validation and geometry shared by every neighbor-list backend.

Convention (vesin's): ``vectors[k] = positions[j[k]] - positions[i[k]] + shifts[k] @ cell``,
cell rows are the box vectors (nm), shifts are integers (int32), i and j are int64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

try:
    import torch
except ImportError:  # pragma: no cover - torch is a hard dependency, kept soft for clarity
    torch = None


class NeighborListError(ValueError):
    """Raised for invalid neighbor-list input (bad positions, cell, cutoff, shapes, devices)."""


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


def _to_bool3(pbc) -> tuple[bool, bool, bool]:
    if isinstance(pbc, (bool, np.bool_)):
        return (bool(pbc),) * 3
    values = tuple(bool(p) for p in np.asarray(pbc).reshape(-1))
    if len(values) != 3:
        raise NeighborListError(f"pbc must be a bool or three bools, got {pbc!r}")
    return values


def validate(positions, cell, cutoff, pbc) -> Geometry:
    """Check shapes, dtypes, devices, finiteness, cutoff and cell; raise NeighborListError."""
    is_torch = torch is not None and isinstance(positions, torch.Tensor)
    if is_torch:
        if cell is None:
            cell = torch.zeros(3, 3, dtype=positions.dtype, device=positions.device)
        if not isinstance(cell, torch.Tensor):
            cell = torch.as_tensor(np.asarray(cell), dtype=positions.dtype, device=positions.device)
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
        cell = np.zeros((3, 3), positions.dtype) if cell is None else np.asarray(cell)
        device = "cpu"
        dtype = positions.dtype
    if tuple(positions.shape[1:]) != (3,) or positions.ndim != 2:
        raise NeighborListError(f"positions must have shape (N, 3), got {tuple(positions.shape)}")
    if tuple(cell.shape) != (3, 3):
        raise NeighborListError(
            f"cell must have shape (3, 3) (rows are box vectors), got {tuple(cell.shape)}"
        )
    cell_np = (cell.detach().cpu().numpy() if is_torch else np.asarray(cell)).astype(np.float64)
    if not np.isfinite(cell_np).all():
        raise NeighborListError("cell contains NaN or infinite entries")
    try:
        cutoff = float(cutoff)
    except (TypeError, ValueError):
        raise NeighborListError(f"cutoff must be a positive number, got {cutoff!r}") from None
    if not np.isfinite(cutoff) or cutoff <= 0:
        raise NeighborListError(f"cutoff must be positive and finite, got {cutoff}")
    pbc3 = _to_bool3(pbc)

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

    periodic_rows = cell_np[list(np.nonzero(pbc3)[0])]
    if len(periodic_rows):
        gram = periodic_rows @ periodic_rows.T
        scale = max(float(np.max(np.abs(gram))), 1e-300)
        if abs(np.linalg.det(gram)) <= 1e-12 * scale ** len(periodic_rows):
            raise NeighborListError(
                "cell is singular in the periodic directions "
                f"(pbc={pbc3}); periodic cell rows must be linearly independent"
            )
    return Geometry(positions, cell, positions_np, cell_np, pbc3, cutoff, is_torch, device, dtype)


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


def face_widths(basis: np.ndarray) -> np.ndarray:
    """Perpendicular distance between opposite faces of the parallelepiped spanned by rows."""
    inverse = np.linalg.inv(basis)
    return 1.0 / np.linalg.norm(inverse, axis=0)


def image_range(cell: np.ndarray, pbc, cutoff: float) -> np.ndarray:
    """Images needed per direction for wrapped positions (|fractional difference| < 1)."""
    widths = face_widths(search_basis(cell, pbc))
    return np.where(np.asarray(pbc), np.ceil(cutoff / widths).astype(np.int64) + 1, 0)
