"""Triton cell-list neighbor search (same contract as csrc/cpu/cell_list.cpp).

A pure kernel layer: `cell_list_pairs` takes particles already binned into cells (plain
tensors; pgnfast.neighbors validates the input and bins it, then calls this). The kernel
gives each program BLOCK cell-sorted particles, walks their stencil of neighbouring cells (wrapping
along periodic directions with the integer image crossed) and, per stencil cell, up to the
largest cell occupancy of candidates. Two launches: count pairs per particle, then fill at
the prefix-summed offsets, so pairs come out sorted by i with no atomics. Runs on a GPU, or
on the CPU under TRITON_INTERPRET=1 (slow; for tests).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..errors import InputError

BLOCK = 64


@triton.jit
def _wrap(c, n_cells, lift, periodic: tl.constexpr):
    """Wrap cell coordinate c into [0, n_cells); returns (cell, image, valid)."""
    if periodic:
        q = (c + lift * n_cells) // n_cells - lift  # floor division for c >= -lift * n
        return c - q * n_cells, q, c == c
    return c, c * 0, (c >= 0) & (c < n_cells)


@triton.jit
def _cell_list_kernel(
    positions,
    sorted_positions,
    sorted_index,
    sorted_cell,
    image,
    cell_start,
    offsets,
    counts,
    out_i,
    out_j,
    out_shifts,
    out_vectors,
    out_distances,
    n,
    nx,
    ny,
    nz,
    sx,
    sy,
    sz,
    lift_x,
    lift_y,
    lift_z,
    max_occupancy,
    cell_rows,
    cutoff2_ptr,
    PX: tl.constexpr,
    PY: tl.constexpr,
    PZ: tl.constexpr,
    HALF: tl.constexpr,
    SELF: tl.constexpr,
    FILL: tl.constexpr,
    BLOCK_SIZE: tl.constexpr,
):
    a = tl.program_id(0) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    # float64 scalars come through pointers: Triton passes Python floats as float32
    c00 = tl.load(cell_rows)
    c01 = tl.load(cell_rows + 1)
    c02 = tl.load(cell_rows + 2)
    c10 = tl.load(cell_rows + 3)
    c11 = tl.load(cell_rows + 4)
    c12 = tl.load(cell_rows + 5)
    c20 = tl.load(cell_rows + 6)
    c21 = tl.load(cell_rows + 7)
    c22 = tl.load(cell_rows + 8)
    cutoff2 = tl.load(cutoff2_ptr)
    live = a < n
    i = tl.load(sorted_index + a, mask=live, other=0)
    xi = tl.load(sorted_positions + 3 * a, mask=live, other=0.0)
    yi = tl.load(sorted_positions + 3 * a + 1, mask=live, other=0.0)
    zi = tl.load(sorted_positions + 3 * a + 2, mask=live, other=0.0)
    si0 = tl.load(image + 3 * i, mask=live, other=0)
    si1 = tl.load(image + 3 * i + 1, mask=live, other=0)
    si2 = tl.load(image + 3 * i + 2, mask=live, other=0)
    home = tl.load(sorted_cell + a, mask=live, other=0)
    h0 = home // (ny * nz)
    h1 = (home // nz) % ny
    h2 = home % nz
    rx = tl.load(positions + 3 * i, mask=live, other=0.0)
    ry = tl.load(positions + 3 * i + 1, mask=live, other=0.0)
    rz = tl.load(positions + 3 * i + 2, mask=live, other=0.0)
    if FILL:
        slot = tl.load(offsets + i, mask=live, other=0)
    found = tl.zeros([BLOCK_SIZE], dtype=tl.int64)
    wy = 2 * sy + 1
    wz = 2 * sz + 1
    for o in range(0, (2 * sx + 1) * wy * wz):
        dx = o // (wy * wz) - sx
        dy = (o // wz) % wy - sy
        dz = o % wz - sz
        c0, q0, v0 = _wrap(h0 + dx, nx, lift_x, PX)
        c1, q1, v1 = _wrap(h1 + dy, ny, lift_y, PY)
        c2, q2, v2 = _wrap(h2 + dz, nz, lift_z, PZ)
        valid = live & v0 & v1 & v2
        c = (c0 * ny + c1) * nz + c2
        begin = tl.load(cell_start + c, mask=valid, other=0)
        end = tl.load(cell_start + c + 1, mask=valid, other=0)
        ox = q0 * c00 + q1 * c10 + q2 * c20 - xi
        oy = q0 * c01 + q1 * c11 + q2 * c21 - yi
        oz = q0 * c02 + q1 * c12 + q2 * c22 - zi
        for k in range(0, max_occupancy):
            b = begin + k
            take = valid & (b < end)
            vx = tl.load(sorted_positions + 3 * b, mask=take, other=0.0) + ox
            vy = tl.load(sorted_positions + 3 * b + 1, mask=take, other=0.0) + oy
            vz = tl.load(sorted_positions + 3 * b + 2, mask=take, other=0.0) + oz
            take = take & (vx * vx + vy * vy + vz * vz < cutoff2)
            j = tl.load(sorted_index + b, mask=take, other=0)
            t0 = q0 + si0 - tl.load(image + 3 * j, mask=take, other=0)
            t1 = q1 + si1 - tl.load(image + 3 * j + 1, mask=take, other=0)
            t2 = q2 + si2 - tl.load(image + 3 * j + 2, mask=take, other=0)
            same = j == i
            zero = (t0 == 0) & (t1 == 0) & (t2 == 0)
            if not SELF:
                take = take & ~(same & zero)
            if HALF:
                positive = (t0 > 0) | ((t0 == 0) & ((t1 > 0) | ((t1 == 0) & (t2 > 0))))
                take = take & ((j > i) | (same & (positive | zero)))
            if FILL:
                where = slot + found
                wx = (
                    tl.load(positions + 3 * j, mask=take, other=0.0)
                    - rx
                    + (t0 * c00 + t1 * c10 + t2 * c20)
                )
                wy_ = (
                    tl.load(positions + 3 * j + 1, mask=take, other=0.0)
                    - ry
                    + (t0 * c01 + t1 * c11 + t2 * c21)
                )
                wz_ = (
                    tl.load(positions + 3 * j + 2, mask=take, other=0.0)
                    - rz
                    + (t0 * c02 + t1 * c12 + t2 * c22)
                )
                tl.store(out_i + where, i, mask=take)
                tl.store(out_j + where, j, mask=take)
                tl.store(out_shifts + 3 * where, t0, mask=take)
                tl.store(out_shifts + 3 * where + 1, t1, mask=take)
                tl.store(out_shifts + 3 * where + 2, t2, mask=take)
                tl.store(out_vectors + 3 * where, wx, mask=take)
                tl.store(out_vectors + 3 * where + 1, wy_, mask=take)
                tl.store(out_vectors + 3 * where + 2, wz_, mask=take)
                tl.store(out_distances + where, tl.sqrt(wx * wx + wy_ * wy_ + wz_ * wz_), mask=take)
            found += take.to(tl.int64)
    if not FILL:
        tl.store(counts + i, found, mask=live)


GRID_FIELDS = (
    "positions",
    "sorted_positions",
    "sorted_index",
    "sorted_cell",
    "image",
    "cell_start",
    "n_cells",
    "n_search",
    "periodic",
    "cell",
    "max_occupancy",
)


def _check_grid(grid, cutoff) -> None:
    """Shapes, dtypes and devices of the binned particles (O(1); the kernel trusts them)."""
    missing = [name for name in GRID_FIELDS if not hasattr(grid, name)]
    if missing:
        raise InputError(f"the binned particles lack {missing}")
    positions, n_cells = grid.positions, grid.n_cells
    n = positions.shape[0]
    expected = {
        "positions": (n, 3),
        "sorted_positions": (n, 3),
        "sorted_index": (n,),
        "sorted_cell": (n,),
        "image": (n, 3),
        "cell_start": (n_cells[0] * n_cells[1] * n_cells[2] + 1,),
        "cell": (3, 3),
    }
    dtypes = {"sorted_index": torch.int64, "sorted_cell": torch.int64, "image": torch.int32}
    dtypes.update({"cell_start": torch.int64})
    for name, shape in expected.items():
        tensor, dtype = getattr(grid, name), dtypes.get(name, torch.float64)
        if tuple(tensor.shape) != shape or tensor.dtype != dtype:
            raise InputError(
                f"{name} must be {dtype} of shape {shape}, got {tensor.dtype} {tuple(tensor.shape)}"
            )
        if tensor.device != positions.device or not tensor.is_contiguous():
            raise InputError(f"{name} must be contiguous and on {positions.device}")
    if min(n_cells) < 1 or min(grid.n_search) < 0 or grid.max_occupancy < 0 or not cutoff > 0:
        raise InputError(
            f"bad grid: n_cells={n_cells}, n_search={grid.n_search}, "
            f"max_occupancy={grid.max_occupancy}, cutoff={cutoff}"
        )


def cell_list_pairs(grid, cutoff: float, *, half: bool, self_interaction: bool):
    """(i, j, shifts, vectors, distances) on the particles' device, sorted by i.

    `grid`: the particles binned into cells, any object with the fields of GRID_FIELDS:
    positions: (N, 3) float64, the caller's positions (nm); sorted_positions: (N, 3)
    float64, wrapped, in cell order; sorted_index / sorted_cell: (N,) int64, original index
    and cell of each sorted slot; image: (N, 3) int32 wrap count per original index (wrapped
    = positions - image @ cell); cell_start: (prod(n_cells) + 1,) int64 first slot of every
    cell; n_cells, n_search (cells to visit on each side), periodic: three per direction;
    cell: (3, 3) float64 rows are box vectors; max_occupancy: most particles in one cell.
    cutoff in nm.
    """
    _check_grid(grid, cutoff)
    positions, sorted_positions = grid.positions, grid.sorted_positions
    sorted_index, sorted_cell, image = grid.sorted_index, grid.sorted_cell, grid.image
    cell_start, n_cells, n_search = grid.cell_start, grid.n_cells, grid.n_search
    periodic, cell, max_occupancy = grid.periodic, grid.cell, grid.max_occupancy
    device = positions.device
    n = positions.shape[0]
    nx, ny, nz = n_cells
    sx, sy, sz = n_search
    lifts = [s // c + 1 for s, c in zip(n_search, n_cells)]
    cell_rows = cell.reshape(-1).contiguous()
    cutoff2 = torch.tensor([cutoff**2], dtype=torch.float64, device=device)
    grid = (triton.cdiv(n, BLOCK),)
    counts = torch.zeros(n, dtype=torch.int64, device=device)
    offsets = torch.zeros(n + 1, dtype=torch.int64, device=device)

    def launch(fill, out):
        _cell_list_kernel[grid](
            positions,
            sorted_positions,
            sorted_index,
            sorted_cell,
            image,
            cell_start,
            offsets,
            counts,
            *out,
            n,
            nx,
            ny,
            nz,
            sx,
            sy,
            sz,
            *lifts,
            max_occupancy,
            cell_rows,
            cutoff2,
            PX=bool(periodic[0]),
            PY=bool(periodic[1]),
            PZ=bool(periodic[2]),
            HALF=bool(half),
            SELF=bool(self_interaction),
            FILL=fill,
            BLOCK_SIZE=BLOCK,
        )

    dummy_i = torch.empty(1, dtype=torch.int64, device=device)
    dummy_f = torch.empty(1, dtype=torch.float64, device=device)
    dummy_s = torch.empty(1, dtype=torch.int32, device=device)
    launch(False, (dummy_i, dummy_i, dummy_s, dummy_f, dummy_f))
    torch.cumsum(counts, 0, out=offsets[1:])
    total = int(offsets[-1])
    out = (
        torch.empty(total, dtype=torch.int64, device=device),
        torch.empty(total, dtype=torch.int64, device=device),
        torch.empty((total, 3), dtype=torch.int32, device=device),
        torch.empty((total, 3), dtype=torch.float64, device=device),
        torch.empty(total, dtype=torch.float64, device=device),
    )
    launch(True, out)
    return out
