"""The reference neighbor search: explicit enumeration of periodic images, all pairs.

O(N^2 x images), written in plain torch so every step is easy to check; it is the oracle
the fast backends are tested against. Works on any device torch supports.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from ._common import Geometry, image_range, search_basis


def positive_shift(shifts: torch.Tensor) -> torch.Tensor:
    """True where the first non-zero component of each (P, 3) shift is positive."""
    sign = torch.zeros(shifts.shape[0], dtype=torch.int64, device=shifts.device)
    for d in (2, 1, 0):  # the first non-zero component wins, so visit it last
        s = shifts[:, d].to(torch.int64)
        sign = torch.where(s != 0, torch.sign(s), sign)
    return sign > 0


def keep_half(i: torch.Tensor, j: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Mask keeping one of each pair (i, j, S) / (j, i, -S): i < j, or i == j with S > 0."""
    return (i < j) | ((i == j) & positive_shift(shifts))


def wrap(positions: torch.Tensor, cell: np.ndarray, pbc) -> tuple[torch.Tensor, torch.Tensor]:
    """Wrap positions into the cell along periodic directions.

    Returns (wrapped positions, image counts s (N, 3) int64) with
    wrapped = positions - s @ cell.
    """
    basis = torch.as_tensor(search_basis(cell, pbc), dtype=torch.float64, device=positions.device)
    frac = positions.to(torch.float64) @ torch.linalg.inv(basis)
    periodic = torch.as_tensor(pbc, device=positions.device)
    image = torch.where(periodic, torch.floor(frac), torch.zeros_like(frac)).to(torch.int64)
    cell_t = torch.as_tensor(cell, dtype=torch.float64, device=positions.device)
    wrapped = positions.to(torch.float64) - image.to(torch.float64) @ cell_t
    return wrapped, image


def pairs(geometry: Geometry, *, half: bool, self_interaction: bool, chunk: int = 1 << 22):
    """(i, j, shifts) of every pair within the cutoff, sorted by (i, j, shift), as torch."""
    device = "cpu" if geometry.positions_np is not None else geometry.device
    positions = (
        torch.from_numpy(geometry.positions_np)
        if geometry.positions_np is not None
        else geometry.positions.detach().to(torch.float64)
    ).to(device)
    n = positions.shape[0]
    empty = (torch.zeros(0, dtype=torch.int64, device=device),) * 2 + (
        torch.zeros((0, 3), dtype=torch.int32, device=device),
    )
    if n == 0:
        return empty
    wrapped, image = wrap(positions, geometry.cell_np, geometry.pbc)
    cell = torch.as_tensor(geometry.cell_np, dtype=torch.float64, device=device)
    reach = image_range(geometry.cell_np, geometry.pbc, geometry.cutoff)
    cutoff2 = geometry.cutoff**2
    rows = max(1, chunk // max(n, 1))
    found_i, found_j, found_s = [], [], []
    for sx, sy, sz in itertools.product(*(range(-int(r), int(r) + 1) for r in reach)):
        offset = torch.tensor([sx, sy, sz], dtype=torch.float64, device=device) @ cell
        for start in range(0, n, rows):
            stop = min(n, start + rows)
            d = wrapped[None, :, :] + offset - wrapped[start:stop, None, :]
            inside = (d * d).sum(-1) < cutoff2
            if not self_interaction and sx == 0 and sy == 0 and sz == 0:
                idx = torch.arange(start, stop, device=device)
                inside[idx - start, idx] = False
            ii, jj = torch.nonzero(inside, as_tuple=True)
            found_i.append(ii + start)
            found_j.append(jj)
            found_s.append(torch.tensor([sx, sy, sz], device=device).expand(len(ii), 3))
    i = torch.cat(found_i)
    j = torch.cat(found_j)
    shifts = torch.cat(found_s) + image[i] - image[j]
    if half:
        keep = keep_half(i, j, shifts)
        i, j, shifts = i[keep], j[keep], shifts[keep]
    return canonical_order(i, j, shifts.to(torch.int32))


def canonical_order(i, j, shifts):
    """Sort pairs by (i, j, shift x, shift y, shift z); numpy or torch, returns the same kind."""
    if isinstance(i, np.ndarray):
        order = np.lexsort((shifts[:, 2], shifts[:, 1], shifts[:, 0], j, i))
        return i[order], j[order], shifts[order]
    if len(i) == 0:
        return i, j, shifts
    key = torch.stack([i, j, shifts[:, 0].long(), shifts[:, 1].long(), shifts[:, 2].long()])
    order = torch.arange(len(i), device=i.device)
    for row in reversed(range(5)):  # stable sorts from the last key to the first
        order = order[torch.sort(key[row][order], stable=True).indices]
    return i[order], j[order], shifts[order]
