"""The CUDA cell-list backend (pgnfast._cuda): torch binning, then count and fill kernels."""

from __future__ import annotations

import torch

from ._common import Geometry
from .binning import bin_particles


def pairs(geometry: Geometry, *, half: bool, self_interaction: bool):
    """(i, j, shifts, vectors, distances) as CUDA tensors, float64 vectors, sorted by i."""
    from pgnfast import _cuda

    bins = bin_particles(geometry)
    device = bins.positions.device
    n = bins.positions.shape[0]
    stream = torch.cuda.current_stream(device).cuda_stream
    common = (
        bins.positions,
        bins.sorted_positions,
        bins.sorted_index,
        bins.image,
        bins.cell_start,
        bins.n_cells,
        bins.n_search,
        bins.periodic,
        tuple(float(x) for x in bins.cell.cpu().reshape(-1)),
        geometry.cutoff,
        bool(half),
        bool(self_interaction),
    )
    counts = torch.empty(n, dtype=torch.int64, device=device)
    _cuda.cell_list_count(*common, counts, stream)
    offsets = torch.zeros(n + 1, dtype=torch.int64, device=device)
    torch.cumsum(counts, 0, out=offsets[1:])
    total = int(offsets[-1])
    out_i = torch.empty(total, dtype=torch.int64, device=device)
    out_j = torch.empty(total, dtype=torch.int64, device=device)
    shifts = torch.empty((total, 3), dtype=torch.int32, device=device)
    vectors = torch.empty((total, 3), dtype=torch.float64, device=device)
    distances = torch.empty(total, dtype=torch.float64, device=device)
    _cuda.cell_list_fill(*common, offsets, out_i, out_j, shifts, vectors, distances, stream)
    return out_i, out_j, shifts, vectors, distances
