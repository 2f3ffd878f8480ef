"""Batched particle graphs: what the NequIP model takes as input."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..errors import InputError
from ..geometry import check_cell, check_pbc
from ..neighbors import neighbor_list
from ..validation import check_finite, check_positions, check_positive, check_types


@dataclass
class Graph:
    """One or several systems concatenated into one graph (N particles, E directed edges).

    positions: (N, 3) nm. types: (N,) int64 in [0, num_types). cell: (B, 3, 3) box rows, nm
    (zeros for non-periodic systems). batch: (N,) int64 system index. senders, receivers:
    (E,) int64, edge e carries sender -> receiver, receivers sorted. shifts: (E, 3) periodic
    image of the sender in cell rows, so the edge vector is
    positions[sender] - positions[receiver] + shifts @ cell[batch[receiver]]. descriptors:
    (N, D) per-particle design scalars or None. num_graphs: B.
    """

    positions: torch.Tensor
    types: torch.Tensor
    cell: torch.Tensor
    batch: torch.Tensor
    senders: torch.Tensor
    receivers: torch.Tensor
    shifts: torch.Tensor
    num_graphs: int
    descriptors: torch.Tensor | None = None

    @property
    def num_nodes(self) -> int:
        return int(self.positions.shape[0])

    def to(self, device=None, dtype=None) -> Graph:
        """Copy to a device and/or floating dtype (integer fields keep theirs)."""

        def move(x, floating):
            if x is None:
                return None
            return x.to(device=device, dtype=dtype if floating else None)

        return replace(
            self,
            positions=move(self.positions, True),
            types=move(self.types, False),
            cell=move(self.cell, True),
            batch=move(self.batch, False),
            senders=move(self.senders, False),
            receivers=move(self.receivers, False),
            shifts=move(self.shifts, True),
            descriptors=move(self.descriptors, True),
        )


def _as_numpy(x, dtype=np.float64):
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


_NUMPY_DTYPES = {torch.float16: np.float16, torch.float32: np.float32}


def check_no_coincident(positions, cell, senders, receivers, shifts, dtype, label="") -> None:
    """Refuse an edge shorter than the model dtype's resolution of these coordinates (two
    particles, or a particle and a periodic image of another, at one place have no defined
    energy: the edge direction is undefined and the model gives NaN), naming the pair."""
    if len(senders) == 0:
        return
    kind = _NUMPY_DTYPES.get(dtype, np.float64)
    vectors = positions[senders] - positions[receivers] + shifts @ cell
    lengths = np.abs(vectors).max(axis=1)
    scale = max(1.0, float(np.abs(positions).max(initial=0.0)), float(np.abs(cell).max()))
    resolution = 4 * float(np.finfo(kind).eps) * scale
    close = lengths <= resolution
    if close.any():
        e = int(np.flatnonzero(close)[0])
        i, j = int(receivers[e]), int(senders[e])
        image = (
            "" if not np.any(shifts[e]) else f" (periodic image {shifts[e].astype(int).tolist()})"
        )
        raise InputError(
            f"{label}particles {min(i, j)} and {max(i, j)} coincide{image}: distance "
            f"{lengths[e]:.3g}, within the {np.dtype(kind).name} resolution {resolution:.2g} of "
            f"these coordinates (two particles at one place have no defined energy)"
        )


def check_system(system, label: str, num_types):
    """(positions (N, 3), cell (3, 3), types (N,), pbc, descriptors or None) as checked numpy
    arrays."""
    if not 4 <= len(system) <= 5:
        raise InputError(
            f"{label}a system is (positions, cell, types, pbc[, descriptors]), got {len(system)} "
            f"items"
        )
    pos, cell, typ, pbc = system[:4]
    desc = system[4] if len(system) > 4 else None
    positions = check_positions(_as_numpy(pos), name=f"{label}positions")
    n = positions.shape[0]
    if cell is None:
        cell_np, pbc = np.zeros((3, 3)), (False, False, False)
    else:
        pbc = check_pbc(pbc)
        cell_np = check_cell(_as_numpy(cell), pbc, name=f"{label}cell")
    if typ is None:
        types = np.zeros(n, np.int64)
    else:
        if isinstance(typ, torch.Tensor):
            typ = typ.detach().cpu().numpy()
        types = check_types(typ, n, num_types, name=f"{label}types")
    if desc is not None:
        desc = _as_numpy(desc)
        if desc.ndim == 1:
            desc = np.broadcast_to(desc, (n, desc.shape[0]))
        if desc.ndim != 2 or desc.shape[0] != n:
            raise InputError(f"{label}descriptors must have shape ({n}, D), got {desc.shape}")
        check_finite(desc, f"{label}descriptors")
    return positions, cell_np, types, pbc, desc


def build_graph(
    systems,
    r_max: float,
    *,
    dtype=torch.float64,
    device="cpu",
    neighbor_backend: str = "auto",
    neighbor_lists=None,
    num_types: int | None = None,
) -> Graph:
    """Concatenate systems into one Graph with edges shorter than r_max (length unit of the
    model).

    systems: sequence of tuples (positions (N,3), cell (3,3) or None, types (N,) or None,
    pbc bool/3 bools[, descriptors (N, D), (D,) or None]); numpy or torch. neighbor_lists:
    optional precomputed NeighborList per system (i = receiver, j = sender) to reuse (e.g.
    Verlet). num_types: the model's number of types (types are checked to lie below it).
    Raises InputError for non-finite positions, a bad cell, pbc or types, and coincident
    particles (naming the first bad system, particle or pair).
    """
    systems = list(systems)
    check_positive(r_max, "r_max")
    positions, types, cells, batch, senders, receivers, shifts, descriptors = ([] for _ in range(8))
    offset = 0
    for index, system in enumerate(systems):
        label = f"system {index}: " if len(systems) > 1 else ""
        pos_np, cell_np, types_np, pbc, desc = check_system(system, label, num_types)
        n = pos_np.shape[0]
        if neighbor_lists is not None and neighbor_lists[index] is not None:
            nl = neighbor_lists[index]
        else:
            nl = neighbor_list(pos_np, cell_np, r_max, pbc=pbc, backend=neighbor_backend)
        nl_i, nl_j = _as_numpy(nl.i, np.int64), _as_numpy(nl.j, np.int64)
        nl_shifts = _as_numpy(nl.shifts)
        check_no_coincident(pos_np, cell_np, nl_j, nl_i, nl_shifts, dtype, label)
        positions.append(pos_np)
        types.append(types_np)
        cells.append(cell_np)
        batch.append(np.full(n, index, np.int64))
        receivers.append(nl_i + offset)
        senders.append(nl_j + offset)
        shifts.append(nl_shifts)
        if desc is not None:
            descriptors.append(desc)
        offset += n
    if descriptors and len(descriptors) != len(positions):
        raise InputError("descriptors must be given for every system or for none")

    def tensor(parts, kind, width=None):
        if parts:
            array = np.concatenate(parts)
        else:
            array = np.zeros((0,) if width is None else (0, width))
        return torch.as_tensor(array, device=device, dtype=kind)

    return Graph(
        positions=tensor(positions, dtype, 3),
        types=tensor(types, torch.int64),
        cell=torch.as_tensor(
            np.stack(cells) if cells else np.zeros((0, 3, 3)), device=device, dtype=dtype
        ),
        batch=tensor(batch, torch.int64),
        senders=tensor(senders, torch.int64),
        receivers=tensor(receivers, torch.int64),
        shifts=tensor(shifts, dtype, 3),
        num_graphs=len(positions),
        descriptors=tensor(descriptors, dtype) if descriptors else None,
    )
