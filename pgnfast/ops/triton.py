"""The Triton tp_conv backend (kernels in pgnfast/triton/tp_conv.py).

Same algorithm as the CPU backend, registered with ``torch.library.triton_op`` (kernels
launched through ``wrap_triton``, so torch.compile sees them): ``torch.ops.pgnfast.tp_conv_triton``
and ``torch.ops.pgnfast.tp_conv_triton_backward``, autograd to any order (_autograd.py).
Deterministic: receiver segments, a stable sort of the senders for the gradient w.r.t. node
features, and per-path scratch columns summed with index_add where paths share outputs.
Index values are checked with one torch reduction per index array before any launch (not
while torch.compile traces: there only the public entry's eager checks apply).
Available on CUDA devices; on the CPU only under TRITON_INTERPRET=1 (tests).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ._autograd import define_tp_conv_ops
from ._fused import SegmentKernels
from ._paths import path_tables

try:
    import triton

    from pgnfast.triton import tp_conv as kernels
except ImportError:  # Triton not installed
    triton = None
    kernels = None

_device_tables: dict = {}
_INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"


def is_available(device) -> bool:
    """True on CUDA devices with Triton, or on the CPU when TRITON_INTERPRET=1."""
    if kernels is None:
        return False
    device = torch.device(device)
    if device.type == "cuda":
        return True
    return device.type == "cpu" and os.environ.get("TRITON_INTERPRET") == "1"


def _padded_dim(spec) -> int:
    from e3nn import o3

    largest = max(
        [
            ir.dim
            for irreps in (spec.irreps_in, spec.irreps_sh, spec.irreps_out)
            for _, ir in o3.Irreps(irreps)
        ]
        + [1]
    )
    return max(2, triton.next_power_of_2(largest))


def _host_tables(spec, transposed: bool):
    """(meta (K, 9) int64, dense CG (K, D, D, D) float64, scratch column -> output column,
    sh scratch column -> sh column, CHANNELS, DIM)."""
    t = path_tables(spec, transposed)
    dim = _padded_dim(spec)
    from e3nn import o3

    sh_dims = {
        start: ir.dim
        for start, ir in zip(
            np.cumsum([0] + [ir.dim for _, ir in o3.Irreps(spec.irreps_sh)])[:-1],
            [ir for _, ir in o3.Irreps(spec.irreps_sh)],
        )
    }
    meta = np.zeros((t.num_paths, 9), dtype=np.int64)
    cg = np.zeros((t.num_paths, dim, dim, dim), dtype=np.float64)
    out_columns, sh_columns = [], []
    for k, p in enumerate(t.rows()):
        sh_dim = sh_dims[p.sh_start]
        scratch_start = len(sh_columns)
        meta[k] = (
            p.in_start,
            p.in_dim,
            p.sh_start,
            sh_dim,
            p.out_start,
            p.out_dim,
            p.mul,
            p.weight_offset,
            scratch_start,
        )
        sh_columns.extend(range(p.sh_start, p.sh_start + sh_dim))
        if transposed:  # output goes to this path's own scratch columns
            meta[k, 4] = len(out_columns)
            out_columns.extend(range(p.out_start, p.out_start + p.mul * p.out_dim))
        a, b, c = t.cg_index[p.begin : p.end].T
        cg[k, a, b, c] = t.cg_value[p.begin : p.end]
    channels = max(2, triton.next_power_of_2(int(meta[:, 6].max(initial=1))))
    return (
        meta,
        cg,
        np.asarray(out_columns, dtype=np.int64),
        np.asarray(sh_columns, dtype=np.int64),
        channels,
        dim,
    )


def _tables(spec, transposed: bool, dtype, device, like: torch.Tensor):
    """Device tensors of _host_tables, cached; while tracing with fake tensors (``like`` is
    fake), uninitialised tensors of the same shapes."""
    key = (spec, transposed, dtype, device)
    cached = _device_tables.get(key)
    fake = isinstance(like, torch._subclasses.fake_tensor.FakeTensor)
    if cached is not None and not fake:
        return cached
    meta, cg, out_columns, sh_columns, channels, dim = _host_tables(spec, transposed)
    if fake:
        index = dict(dtype=torch.int64)
        return (
            like.new_empty(meta.shape, **index),
            like.new_empty(cg.shape),
            like.new_empty(out_columns.shape, **index),
            like.new_empty(sh_columns.shape, **index),
            channels,
            dim,
        )
    tables = (
        torch.as_tensor(meta, device=device),
        torch.as_tensor(cg, dtype=dtype, device=device),
        torch.as_tensor(out_columns, device=device),
        torch.as_tensor(sh_columns, device=device),
        channels,
        dim,
    )
    _device_tables[key] = tables
    return tables


def _skip_launch(x: torch.Tensor) -> bool:
    """Under TRITON_INTERPRET=1 the interpreter would run kernels on fake tensors (shape
    propagation, opcheck); there only shapes matter, so the launch is skipped. Compiled
    Triton goes through wrap_triton's fake handling instead."""
    return _INTERPRETED and isinstance(x, torch._subclasses.fake_tensor.FakeTensor)


class TritonKernels(SegmentKernels):
    """The kernels of pgnfast/triton/tp_conv.py, launched through wrap_triton."""

    def convolve(self, spec, transposed, inputs, sh, w, gather, order, pointers, rows):
        meta, cg, out_columns, _, channels, dim = _tables(
            spec, transposed, inputs.dtype, inputs.device, inputs
        )
        # transposed: paths share output columns, so each writes its own scratch columns
        columns = out_columns.shape[0] if transposed else spec.dim_out
        out = torch.empty(rows, columns, dtype=inputs.dtype, device=inputs.device)
        if rows and not _skip_launch(inputs):
            torch.library.wrap_triton(kernels.segment_conv_kernel)[(rows, meta.shape[0])](
                inputs,
                sh,
                w,
                gather,
                gather if order is None else order,
                pointers,
                meta,
                cg,
                out,
                inputs.shape[1],
                spec.dim_sh,
                spec.weight_numel,
                columns,
                HAS_ORDER=order is not None,
                CHANNELS=channels,
                DIM=dim,
            )
        if not transposed:
            return out
        grad_x = torch.zeros(rows, spec.dim_in, dtype=inputs.dtype, device=inputs.device)
        return grad_x.index_add(1, out_columns, out)

    def edge_grads(self, spec, x, sh, w, grad_output, senders, pointers):
        meta, cg, _, sh_columns, channels, dim = _tables(spec, False, x.dtype, x.device, x)
        scratch = torch.empty(sh.shape[0], sh_columns.shape[0], dtype=x.dtype, device=x.device)
        grad_w = torch.empty_like(w)
        if x.shape[0] and sh.shape[0] and not _skip_launch(x):
            torch.library.wrap_triton(kernels.edge_grads_kernel)[(x.shape[0], meta.shape[0])](
                x,
                sh,
                w,
                grad_output,
                senders,
                pointers,
                meta,
                cg,
                grad_w,
                scratch,
                spec.dim_in,
                spec.dim_sh,
                spec.weight_numel,
                spec.dim_out,
                sh_columns.shape[0],
                CHANNELS=channels,
                DIM=dim,
            )
        return torch.zeros_like(sh).index_add(1, sh_columns, scratch), grad_w


if kernels is not None:
    tp_conv_op, tp_conv_backward_op, tp_conv = define_tp_conv_ops(
        "triton", TritonKernels(), triton=True
    )
else:

    def tp_conv(spec, node_features, edge_sh, edge_weights, senders, receivers, num_nodes: int):
        """Same contract as :func:`pgnfast.ops.tp_conv`; needs Triton."""
        raise RuntimeError("the triton tp_conv backend needs Triton")
