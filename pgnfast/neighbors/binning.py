"""Cell binning in torch, shared by the GPU backends (CUDA and Triton).

Mirrors the binning of csrc/cpu/cell_list.cpp: fractional coordinates in the search basis,
wrapped along periodic directions, a grid of cells at least one cutoff wide between faces,
particles sorted by cell. Runs on whatever device the positions are on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..geometry import face_widths
from ._common import Geometry, NeighborListError, search_basis

# Bounds shared with csrc/cpu/cell_list.cpp: wrap counts and stencil reach per direction
# (shifts stay inside int32) and stencil cells per particle.
MAX_IMAGE = 2**29
MAX_STENCIL = 2**32


@dataclass
class Bins:
    positions: torch.Tensor  # (N, 3) float64, the caller's positions
    sorted_positions: torch.Tensor  # (N, 3) float64, wrapped, in cell order
    sorted_index: torch.Tensor  # (N,) int64, original index of each sorted slot
    sorted_cell: torch.Tensor  # (N,) int64, cell of each sorted slot
    image: torch.Tensor  # (N, 3) int32, wrap count per original index: wrapped = r - s @ cell
    cell_start: torch.Tensor  # (n_cells + 1,) int64, first sorted slot of every cell
    n_cells: tuple[int, int, int]
    n_search: tuple[int, int, int]
    periodic: tuple[bool, bool, bool]
    cell: torch.Tensor  # (3, 3) float64
    max_occupancy: int


def bin_particles(geometry: Geometry, max_cells: int | None = None) -> Bins:
    """Bin the particles of a validated geometry on their device."""
    if geometry.positions_np is not None:  # CPU input (numpy or torch), e.g. interpreted Triton
        positions = torch.from_numpy(geometry.positions_np)
    else:
        positions = geometry.positions.detach().to(torch.float64)
    device = positions.device
    n = positions.shape[0]
    pbc = geometry.pbc
    basis = search_basis(geometry.cell_np, pbc)
    inverse = torch.as_tensor(np.linalg.inv(basis), dtype=torch.float64, device=device)
    cell = torch.as_tensor(geometry.cell_np, dtype=torch.float64, device=device)
    periodic = torch.as_tensor(pbc, device=device)
    frac = positions @ inverse
    image = torch.where(periodic, torch.floor(frac), torch.zeros_like(frac))
    if n and float(image.abs().max()) > MAX_IMAGE:
        bad = int(torch.nonzero((image.abs() > MAX_IMAGE).any(dim=1))[0, 0])
        raise NeighborListError(
            f"positions[{bad}] lies more than 2^29 cell lengths from the cell; "
            "wrap the positions first"
        )
    frac = frac - image
    # a hair below an integer, frac rounds to 1.0: the particle sits on the next cell's face,
    # so it moves to frac 0 and its image count up by one, keeping wrapped and bin in step
    on_face = (frac >= 1.0) & periodic
    frac = torch.where(on_face, torch.zeros_like(frac), frac)
    image = image + on_face.to(image.dtype)
    wrapped = positions - image @ cell

    widths = face_widths(basis)
    if not all(pbc):
        low = frac.min(dim=0).values.cpu().numpy()
        high = frac.max(dim=0).values.cpu().numpy()
    n_cells, scaled = [], []
    for d in range(3):
        if pbc[d]:
            scaled.append(frac[:, d])
        else:
            widths[d] = float(high[d] - low[d])
            scaled.append((frac[:, d] - low[d]) / widths[d] if widths[d] > 0 else frac[:, d] * 0)
        cells = math.floor(widths[d] / geometry.cutoff) if widths[d] > 0 else 1
        n_cells.append(max(1, min(cells, 1_000_000)))
    cap = max(64, 2 * n) if max_cells is None else max_cells
    total = math.prod(n_cells)
    if total > cap:
        factor = (cap / total) ** (1 / 3)
        n_cells = [max(1, int(c * factor)) for c in n_cells]
    n_search = []
    for d in range(3):
        reach = math.ceil(geometry.cutoff * n_cells[d] / widths[d]) if widths[d] > 0 else 0
        if not pbc[d]:
            reach = min(reach, n_cells[d] - 1)
        if reach > MAX_IMAGE:
            raise MemoryError(
                f"cell list: the cutoff {geometry.cutoff:g} spans more than 2^29 cells along "
                f"direction {d}; too many periodic images to list"
            )
        n_search.append(max(reach, 1 if pbc[d] else 0))
    if math.prod(2 * s + 1 for s in n_search) > MAX_STENCIL:
        raise MemoryError(
            f"cell list: every cell would search a stencil of {n_search} cells on each side "
            "(cutoff far beyond the box); too many periodic images"
        )

    counts_per_dim = torch.tensor(n_cells, device=device)
    bins = torch.minimum(
        (torch.stack(scaled, dim=1) * counts_per_dim).to(torch.int64).clamp_min(0),
        counts_per_dim - 1,
    )
    cell_id = (bins[:, 0] * n_cells[1] + bins[:, 1]) * n_cells[2] + bins[:, 2]
    order = torch.sort(cell_id, stable=True).indices
    occupancy = torch.bincount(cell_id, minlength=math.prod(n_cells))
    cell_start = torch.zeros(math.prod(n_cells) + 1, dtype=torch.int64, device=device)
    cell_start[1:] = torch.cumsum(occupancy, 0)
    return Bins(
        positions=positions.contiguous(),
        sorted_positions=wrapped[order].contiguous(),
        sorted_index=order.contiguous(),
        sorted_cell=cell_id[order].contiguous(),
        image=image.to(torch.int32).contiguous(),
        cell_start=cell_start,
        n_cells=tuple(n_cells),
        n_search=tuple(n_search),
        periodic=tuple(pbc),
        cell=cell,
        max_occupancy=int(occupancy.max()) if n else 0,
    )
