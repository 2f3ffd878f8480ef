"""Batched particle graphs: what the NequIP model takes as input."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..neighbors import neighbor_list


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


def build_graph(
    systems,
    r_max: float,
    *,
    dtype=torch.float64,
    device="cpu",
    neighbor_backend: str = "auto",
    neighbor_lists=None,
) -> Graph:
    """Concatenate systems into one Graph with edges shorter than r_max (nm).

    systems: sequence of tuples (positions (N,3), cell (3,3) or None, types (N,) or None,
    pbc bool/3 bools[, descriptors (N, D) or None]); numpy or torch. neighbor_lists: optional
    precomputed NeighborList per system (i = receiver, j = sender) to reuse (e.g. Verlet).
    """
    positions, types, cells, batch, senders, receivers, shifts, descriptors = ([] for _ in range(8))
    offset = 0
    for index, system in enumerate(systems):
        pos, cell, typ, pbc = system[:4]
        desc = system[4] if len(system) > 4 else None
        pos_np = _as_numpy(pos)
        n = pos_np.shape[0]
        if cell is None:
            cell_np = np.zeros((3, 3))
            pbc = False
        else:
            cell_np = _as_numpy(cell).reshape(3, 3)
        if neighbor_lists is not None and neighbor_lists[index] is not None:
            nl = neighbor_lists[index]
        else:
            nl = neighbor_list(pos_np, cell_np, r_max, pbc=pbc, backend=neighbor_backend)
        positions.append(pos_np)
        types.append(np.zeros(n, np.int64) if typ is None else _as_numpy(typ, np.int64).reshape(n))
        cells.append(cell_np)
        batch.append(np.full(n, index, np.int64))
        receivers.append(_as_numpy(nl.i, np.int64) + offset)
        senders.append(_as_numpy(nl.j, np.int64) + offset)
        shifts.append(_as_numpy(nl.shifts))
        if desc is not None:
            descriptors.append(_as_numpy(desc).reshape(n, -1))
        offset += n
    if descriptors and len(descriptors) != len(positions):
        raise ValueError("descriptors must be given for every system or for none")

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
