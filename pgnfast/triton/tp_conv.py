"""Triton kernels of the fused tensor-product convolution (contract:
csrc/include/pgnfast/tp_conv.hpp; oracle: pgnfast/ops/_reference.py).

One program per (segment, path). It holds the path's dense, zero-padded Clebsch-Gordan block
C[a, b, c] (path weight included, each of a, b, c padded to DIM, a power of two >= 2 l_max + 1)
and a (CHANNELS, DIM) accumulator in registers, walks the segment's edges, and for each edge
contracts C with the edge SH (CY[a, c] = sum_b Y[b] C[a, b, c]) and then with the gathered
(CHANNELS, DIM) input tile, weighted per channel. Paths whose outputs share columns (the
gradient w.r.t. node features) write to per-path columns of a scratch row instead, summed
afterwards with one deterministic index_add over columns: no atomics anywhere.
Runs on a GPU, or on the CPU under TRITON_INTERPRET=1 (slow; for tests).
"""

from __future__ import annotations

import triton
import triton.language as tl

# per-path metadata rows (int64, 9 columns, built by pgnfast/ops/triton.py): in_start, in_dim,
# sh_start, sh_dim, out_start, out_dim, mul, weight_offset, scratch_start


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
    k = tl.program_id(1)
    meta = meta_ptr + k * 9
    in_start = tl.load(meta + 0)
    in_dim = tl.load(meta + 1)
    sh_start = tl.load(meta + 2)
    sh_dim = tl.load(meta + 3)
    out_start = tl.load(meta + 4)
    out_dim = tl.load(meta + 5)
    mul = tl.load(meta + 6)
    weight_offset = tl.load(meta + 7)

    u = tl.arange(0, CHANNELS)
    m = tl.arange(0, DIM)
    cg = tl.load(
        cg_ptr
        + k * DIM * DIM * DIM
        + (m[:, None, None] * DIM + m[None, :, None]) * DIM
        + m[None, None, :]
    )
    in_mask = (u[:, None] < mul) & (m[None, :] < in_dim)
    in_offsets = in_start + u[:, None] * in_dim + m[None, :]
    acc = tl.zeros((CHANNELS, DIM), dtype=cg.dtype)
    begin = tl.load(segment_ptr + n)
    end = tl.load(segment_ptr + n + 1)
    for j in range(begin, end):
        if HAS_ORDER:
            e = tl.load(order_ptr + j)
        else:
            e = j
        row = tl.load(gather_ptr + e)
        x = tl.load(input_ptr + row * input_stride + in_offsets, mask=in_mask, other=0.0)
        y = tl.load(sh_ptr + e * sh_stride + sh_start + m, mask=m < sh_dim, other=0.0)
        w = tl.load(weight_ptr + e * weight_stride + weight_offset + u, mask=u < mul, other=0.0)
        cy = tl.sum(cg * y[None, :, None], axis=1)  # (a, c)
        message = tl.sum(x[:, :, None] * cy[None, :, :], axis=1)  # (u, c)
        acc += w[:, None] * message
    out_mask = (u[:, None] < mul) & (m[None, :] < out_dim)
    tl.store(
        out_ptr + n * out_stride + out_start + u[:, None] * out_dim + m[None, :], acc, mask=out_mask
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
    k = tl.program_id(1)
    meta = meta_ptr + k * 9
    in_start = tl.load(meta + 0)
    in_dim = tl.load(meta + 1)
    sh_start = tl.load(meta + 2)
    sh_dim = tl.load(meta + 3)
    out_start = tl.load(meta + 4)
    out_dim = tl.load(meta + 5)
    mul = tl.load(meta + 6)
    weight_offset = tl.load(meta + 7)
    scratch_start = tl.load(meta + 8)

    u = tl.arange(0, CHANNELS)
    m = tl.arange(0, DIM)
    cg = tl.load(
        cg_ptr
        + k * DIM * DIM * DIM
        + (m[:, None, None] * DIM + m[None, :, None]) * DIM
        + m[None, None, :]
    )
    begin = tl.load(segment_ptr + n)
    end = tl.load(segment_ptr + n + 1)
    grad = tl.load(
        grad_ptr + n * grad_stride + out_start + u[:, None] * out_dim + m[None, :],
        mask=(u[:, None] < mul) & (m[None, :] < out_dim),
        other=0.0,
    )
    in_mask = (u[:, None] < mul) & (m[None, :] < in_dim)
    in_offsets = in_start + u[:, None] * in_dim + m[None, :]
    for e in range(begin, end):
        row = tl.load(senders_ptr + e)
        x = tl.load(x_ptr + row * x_stride + in_offsets, mask=in_mask, other=0.0)
        y = tl.load(sh_ptr + e * sh_stride + sh_start + m, mask=m < sh_dim, other=0.0)
        w = tl.load(weight_ptr + e * weight_stride + weight_offset + u, mask=u < mul, other=0.0)
        cy = tl.sum(cg * y[None, :, None], axis=1)  # (a, c)
        t = tl.sum(grad[:, None, :] * cy[None, :, :], axis=2)  # (u, a)
        grad_w = tl.sum(x * t, axis=1)  # (u,)
        tl.store(grad_weight_ptr + e * weight_stride + weight_offset + u, grad_w, mask=u < mul)
        weighted = (w[:, None] * x)[:, :, None] * grad[:, None, :]  # (u, a, c)
        p = tl.sum(weighted, axis=0)  # (a, c)
        grad_y = tl.sum(tl.sum(p[:, None, :] * cg, axis=2), axis=0)  # (b,)
        tl.store(
            grad_sh_scratch_ptr + e * scratch_stride + scratch_start + m, grad_y, mask=m < sh_dim
        )
