"""Triton kernels of the fused tensor-product convolution (contract:
csrc/include/pgnfast/tp_conv.hpp; oracle: pgnfast/ops/_reference.py).

One program per (segment, path). It holds the path's dense, zero-padded Clebsch-Gordan block
C[a, b, c] (path weight included, each of a, b, c padded to DIM, a power of two >= 2 l_max + 1)
and a (CHANNELS, DIM) accumulator in registers, walks the segment's edges, and for each edge
contracts C with the edge SH (CY[a, c] = sum_b Y[b] C[a, b, c]) and then with the gathered
(CHANNELS, DIM) input tile, weighted per channel. Paths whose outputs share columns (the
gradient w.r.t. node features) write to per-path columns of a scratch row instead, summed
afterwards with one deterministic index_add over columns: no atomics anywhere.
Both kernels read a path and an edge through the same two helpers (`_path`, `_edge`).
Runs on a GPU, or on the CPU under TRITON_INTERPRET=1 (slow; for tests).
"""

from __future__ import annotations

import triton
import triton.language as tl

# per-path metadata rows (int64, 9 columns, built by pgnfast/ops/triton.py): in_start, in_dim,
# sh_start, sh_dim, out_start, out_dim, mul, weight_offset, scratch_start


@triton.jit
def _path(meta_ptr, cg_ptr, k, DIM: tl.constexpr):
    """Path k: (in_start, in_dim, sh_start, sh_dim, out_start, out_dim, mul, weight_offset,
    scratch_start, dense CG block (DIM, DIM, DIM))."""
    meta = meta_ptr + k * 9
    m = tl.arange(0, DIM)
    cg = tl.load(
        cg_ptr
        + k * DIM * DIM * DIM
        + (m[:, None, None] * DIM + m[None, :, None]) * DIM
        + m[None, None, :]
    )
    return (
        tl.load(meta + 0),
        tl.load(meta + 1),
        tl.load(meta + 2),
        tl.load(meta + 3),
        tl.load(meta + 4),
        tl.load(meta + 5),
        tl.load(meta + 6),
        tl.load(meta + 7),
        tl.load(meta + 8),
        cg,
    )


@triton.jit
def _edge(
    e, row, input_ptr, sh_ptr, weight_ptr, strides, path, CHANNELS: tl.constexpr, DIM: tl.constexpr
):
    """Edge e's operands for a path: the gathered input tile x (CHANNELS, DIM) of input row
    `row`, the channel weights w (CHANNELS,) and CY[a, c] = sum_b Y[e, b] C[a, b, c]."""
    input_stride, sh_stride, weight_stride = strides
    in_start, in_dim, sh_start, sh_dim, _, _, mul, weight_offset, _, cg = path
    u = tl.arange(0, CHANNELS)
    m = tl.arange(0, DIM)
    x = tl.load(
        input_ptr + row * input_stride + in_start + u[:, None] * in_dim + m[None, :],
        mask=(u[:, None] < mul) & (m[None, :] < in_dim),
        other=0.0,
    )
    y = tl.load(sh_ptr + e * sh_stride + sh_start + m, mask=m < sh_dim, other=0.0)
    w = tl.load(weight_ptr + e * weight_stride + weight_offset + u, mask=u < mul, other=0.0)
    return x, w, tl.sum(cg * y[None, :, None], axis=1)


@triton.jit
def segment_conv_kernel(
    input_ptr,
    sh_ptr,
    weight_ptr,
    gather_ptr,
    order_ptr,
    segment_ptr,
    meta_ptr,
    cg_ptr,
    out_ptr,
    input_stride,
    sh_stride,
    weight_stride,
    out_stride,
    HAS_ORDER: tl.constexpr,
    CHANNELS: tl.constexpr,
    DIM: tl.constexpr,
):
    """out[n, out_start + u * out_dim + c] =
    sum_e w[e, off + u] sum_ab C[a, b, c] Y[e, b] x[g(e), u, a]."""
    n = tl.program_id(0)
    path = _path(meta_ptr, cg_ptr, tl.program_id(1), DIM)
    strides = (input_stride, sh_stride, weight_stride)
    u = tl.arange(0, CHANNELS)
    m = tl.arange(0, DIM)
    acc = tl.zeros((CHANNELS, DIM), dtype=path[9].dtype)
    for j in range(tl.load(segment_ptr + n), tl.load(segment_ptr + n + 1)):
        if HAS_ORDER:
            e = tl.load(order_ptr + j)
        else:
            e = j
        row = tl.load(gather_ptr + e)
        x, w, cy = _edge(e, row, input_ptr, sh_ptr, weight_ptr, strides, path, CHANNELS, DIM)
        acc += w[:, None] * tl.sum(x[:, :, None] * cy[None, :, :], axis=1)  # (u, c)
    out_start, out_dim, mul = path[4], path[5], path[6]
    tl.store(
        out_ptr + n * out_stride + out_start + u[:, None] * out_dim + m[None, :],
        acc,
        mask=(u[:, None] < mul) & (m[None, :] < out_dim),
    )


@triton.jit
def edge_grads_kernel(
    x_ptr,
    sh_ptr,
    weight_ptr,
    grad_ptr,
    senders_ptr,
    segment_ptr,
    meta_ptr,
    cg_ptr,
    grad_weight_ptr,
    grad_sh_scratch_ptr,
    x_stride,
    sh_stride,
    weight_stride,
    grad_stride,
    scratch_stride,
    CHANNELS: tl.constexpr,
    DIM: tl.constexpr,
):
    """Per edge e of receiver n and path k: grad_w[e, off + u] and the path's share of
    grad_sh[e, sh block] (written to scratch columns of the path)."""
    n = tl.program_id(0)
    path = _path(meta_ptr, cg_ptr, tl.program_id(1), DIM)
    strides = (x_stride, sh_stride, weight_stride)
    sh_dim, out_start, out_dim, mul, weight_offset = path[3], path[4], path[5], path[6], path[7]
    u = tl.arange(0, CHANNELS)
    m = tl.arange(0, DIM)
    grad = tl.load(
        grad_ptr + n * grad_stride + out_start + u[:, None] * out_dim + m[None, :],
        mask=(u[:, None] < mul) & (m[None, :] < out_dim),
        other=0.0,
    )
    for e in range(tl.load(segment_ptr + n), tl.load(segment_ptr + n + 1)):
        row = tl.load(senders_ptr + e)
        x, w, cy = _edge(e, row, x_ptr, sh_ptr, weight_ptr, strides, path, CHANNELS, DIM)
        t = tl.sum(grad[:, None, :] * cy[None, :, :], axis=2)  # (u, a)
        grad_w = tl.sum(x * t, axis=1)  # (u,)
        tl.store(grad_weight_ptr + e * weight_stride + weight_offset + u, grad_w, mask=u < mul)
        p = tl.sum((w[:, None] * x)[:, :, None] * grad[:, None, :], axis=0)  # (a, c)
        grad_y = tl.sum(tl.sum(p[:, None, :] * path[9], axis=2), axis=0)  # (b,)
        tl.store(grad_sh_scratch_ptr + e * scratch_stride + path[8] + m, grad_y, mask=m < sh_dim)
