"""`torch.ops.pgnfast.neighbor_pairs`: the neighbor search as a torch custom op.

Returns only the integer part of the list (i, j, shifts); a model computes
``vectors = positions[j] - positions[i] + shifts @ cell`` itself so that forces and stress
flow through autograd. The fake implementation gives the pair count a dynamic size, so the
op can sit inside ``torch.compile`` graphs.
"""

from __future__ import annotations

import torch

from .api import neighbor_list


@torch.library.custom_op("pgnfast::neighbor_pairs", mutates_args=())
def neighbor_pairs(
    positions: torch.Tensor,
    cell: torch.Tensor,
    cutoff: float,
    pbc: list[bool],
    half: bool = False,
    self_interaction: bool = False,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(i, j, shifts): int64 (P,), int64 (P,), int32 (P, 3); see pgnfast.neighbor_list."""
    nl = neighbor_list(
        positions.detach(),
        cell.detach(),
        cutoff,
        pbc=tuple(pbc),
        half=half,
        self_interaction=self_interaction,
        backend=backend,
    )
    return nl.i.clone(), nl.j.clone(), nl.shifts.clone()


@neighbor_pairs.register_fake
def _(positions, cell, cutoff, pbc, half=False, self_interaction=False, backend="auto"):
    pairs = torch.library.get_ctx().new_dynamic_size()
    device = positions.device
    return (
        positions.new_empty(pairs, dtype=torch.int64, device=device),
        positions.new_empty(pairs, dtype=torch.int64, device=device),
        positions.new_empty((pairs, 3), dtype=torch.int32, device=device),
    )
