"""The fused CUDA tp_conv backend (pgnfast._cuda, csrc/cuda/tp_conv.cu).

Same algorithm as the CPU backend (receiver segments, a stable sender sort for the gradient
w.r.t. node features, per-edge gradients), one thread block per segment and one thread per
output column, each column summing its own list of CG entries ("column tables", built here
from the path tables once per spec and device). Deterministic, no atomics. Ops:
``torch.ops.pgnfast.tp_conv_cuda`` and ``torch.ops.pgnfast.tp_conv_cuda_backward``.
Index values are checked here with one torch reduction per index array (the kernels only skip
out-of-range edges, so that nothing reads out of bounds). Never touches CUDA at import, so it
imports on machines without a GPU.
"""

from __future__ import annotations

import numpy as np
import torch

from ._autograd import define_tp_conv_ops
from ._fused import SegmentKernels
from ._paths import path_tables

try:
    from pgnfast import _cuda
except ImportError:  # extension not built
    _cuda = None

_device_tables: dict = {}


def is_available(device) -> bool:
    """True on CUDA devices when the CUDA extension has the tp_conv kernels."""
    device = torch.device(device)
    return (
        device.type == "cuda"
        and _cuda is not None
        and hasattr(_cuda, "tp_conv_segments")
        and torch.cuda.is_available()
    )


def _entry(in_offset=0, in_dim=0, sh_col=0, weight_offset=0, out_offset=0, out_dim=0, mul=0):
    return (in_offset, in_dim, sh_col, weight_offset, out_offset, out_dim, mul, 0)


def _pack(per_column, with_channel=True):
    """[(u, [(entry, value), ...]) per column] -> (table (C, 3), entries (Q, 8), values (Q,))."""
    table, entries, values = [], [], []
    for u, items in per_column:
        begin = len(entries)
        for entry, value in items:
            entries.append(entry)
            values.append(value)
        table.append((begin, len(entries), u if with_channel else 0))
    return (
        np.asarray(table, dtype=np.int64).reshape(-1, 3),
        np.asarray(entries, dtype=np.int64).reshape(-1, 8),
        np.asarray(values, dtype=np.float64),
    )


def segment_column_tables(spec, transposed: bool):
    """Column tables of the segment convolution (forward, or w.r.t. node features)."""
    t = path_tables(spec, transposed)
    by_target: dict[tuple[int, int], list] = {}
    for p in t.rows():
        for (a, b, c), value in zip(
            t.cg_index[p.begin : p.end].tolist(), t.cg_value[p.begin : p.end]
        ):
            entry = _entry(p.in_start + a, p.in_dim, p.sh_start + b, p.weight_offset, mul=p.mul)
            by_target.setdefault((p.out_start, c), []).append((entry, value))
    columns = []
    for start, mul, dim in t.out_blocks.tolist():
        for u in range(mul):
            for m in range(dim):
                columns.append((u, by_target.get((start, m), [])))
    return _pack(columns)


def edge_column_tables(spec):
    """(weight column tables, SH column tables) of the edge gradients."""
    t = path_tables(spec, False)
    weight_columns = [None] * spec.weight_numel
    sh_columns = [[] for _ in range(spec.dim_sh)]
    for p in t.rows():
        items = []
        for (a, b, c), value in zip(
            t.cg_index[p.begin : p.end].tolist(), t.cg_value[p.begin : p.end]
        ):
            entry = _entry(
                p.in_start + a,
                p.in_dim,
                p.sh_start + b,
                p.weight_offset,
                p.out_start + c,
                p.out_dim,
                p.mul,
            )
            items.append((entry, value))
            sh_columns[p.sh_start + b].append((entry, value))
        for u in range(p.mul):
            weight_columns[p.weight_offset + u] = (u, items)
    return _pack(weight_columns), _pack([(0, items) for items in sh_columns], False)


def _tables(spec, kind: str, dtype, device):
    """Device column tables: kind "forward" or "transposed": (columns,); "edges": (weight
    columns, SH columns); each (table, entries, values), cached per spec, dtype and device."""
    key = (spec, kind, dtype, device)
    cached = _device_tables.get(key)
    if cached is None:
        if kind == "edges":
            host = edge_column_tables(spec)
        else:
            host = (segment_column_tables(spec, kind == "transposed"),)
        cached = tuple(
            (
                torch.as_tensor(table, device=device),
                torch.as_tensor(entries, device=device),
                torch.as_tensor(values, dtype=dtype, device=device),
            )
            for table, entries, values in host
        )
        _device_tables[key] = cached
    return cached


def _stream(device) -> int:
    return torch.cuda.current_stream(device).cuda_stream


class CudaKernels(SegmentKernels):
    """pgnfast._cuda's kernels on the caller's current stream."""

    def convolve(self, spec, transposed, inputs, sh, w, gather, order, pointers, rows):
        out = torch.empty(
            rows, spec.dim_in if transposed else spec.dim_out, dtype=inputs.dtype, device=sh.device
        )
        kind = "transposed" if transposed else "forward"
        (columns,) = _tables(spec, kind, inputs.dtype, inputs.device)
        stream = _stream(inputs.device)
        _cuda.tp_conv_segments(inputs, sh, w, gather, order, pointers, columns, out, stream)
        return out

    def edge_grads(self, spec, x, sh, w, grad_output, senders, pointers):
        grad_sh, grad_w = torch.empty_like(sh), torch.empty_like(w)
        tables = _tables(spec, "edges", x.dtype, x.device)
        _cuda.tp_conv_edge_grads(
            x, sh, w, grad_output, senders, pointers, tables, grad_sh, grad_w, _stream(x.device)
        )
        return grad_sh, grad_w


tp_conv_op, tp_conv_backward_op, tp_conv = define_tp_conv_ops("cuda", CudaKernels())
