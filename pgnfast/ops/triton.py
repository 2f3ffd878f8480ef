"""The Triton tp_conv backend (kernels in pgnfast/triton/tp_conv.py).

Same algorithm as the CPU backend, registered with ``torch.library.triton_op`` (kernels
launched through ``wrap_triton``, so torch.compile sees them): ``torch.ops.pgnfast.tp_conv_triton``
and ``torch.ops.pgnfast.tp_conv_triton_backward``, autograd to any order (_autograd.py).
Deterministic: receiver segments, a stable sort of the senders for the gradient w.r.t. node
features, and per-path scratch columns summed with index_add where paths share outputs.
Available on CUDA devices; on the CPU only under TRITON_INTERPRET=1 (tests).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ._autograd import define_tp_conv_ops
from ._paths import path_tables, spec_key

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


def _segments(sorted_keys: torch.Tensor, num_segments: int) -> torch.Tensor:
    bounds = torch.arange(num_segments + 1, device=sorted_keys.device, dtype=torch.int64)
    return torch.searchsorted(sorted_keys, bounds)


def forward_kernel(spec, x, sh, w, senders, receivers, num_nodes: int) -> torch.Tensor:
    """(num_nodes, spec.dim_out) = fused convolution; inputs as in pgnfast.ops.tp_conv."""
    x, sh, w = x.contiguous(), sh.contiguous(), w.contiguous()
    meta, cg, _, _, channels, dim = _tables(spec, False, x.dtype, x.device, x)
    out = torch.empty(num_nodes, spec.dim_out, dtype=x.dtype, device=x.device)
    if num_nodes == 0 or _skip_launch(x):
        return out
    pointers = _segments(receivers, num_nodes)
    torch.library.wrap_triton(kernels.segment_conv_kernel)[(num_nodes, meta.shape[0])](
        x,
        sh,
        w,
        senders,
        senders,
        pointers,
        meta,
        cg,
        out,
        spec.dim_in,
        spec.dim_sh,
        spec.weight_numel,
        spec.dim_out,
        HAS_ORDER=False,
        CHANNELS=channels,
        DIM=dim,
    )
    return out


def backward_kernel(
    spec, grad_output, x, sh, w, senders, receivers, need_features: bool, need_edges: bool
):
    """(grad_x (N, dim_in), grad_sh (E, dim_sh), grad_w (E, weight_numel)); zeros if not
    needed."""
    grad_output, x, sh, w = (t.contiguous() for t in (grad_output, x, sh, w))
    num_nodes, num_edges = x.shape[0], sh.shape[0]
    grad_x = torch.zeros_like(x)
    grad_sh, grad_w = torch.zeros_like(sh), torch.zeros_like(w)
    if num_nodes == 0 or num_edges == 0 or _skip_launch(x):
        return grad_x, grad_sh, grad_w
    if need_features:
        meta, cg, out_columns, _, channels, dim = _tables(spec, True, x.dtype, x.device, x)
        sorted_senders, order = torch.sort(senders, stable=True)
        scratch = torch.empty(num_nodes, out_columns.shape[0], dtype=x.dtype, device=x.device)
        torch.library.wrap_triton(kernels.segment_conv_kernel)[(num_nodes, meta.shape[0])](
            grad_output,
            sh,
            w,
            receivers,
            order,
            _segments(sorted_senders, num_nodes),
            meta,
            cg,
            scratch,
            spec.dim_out,
            spec.dim_sh,
            spec.weight_numel,
            out_columns.shape[0],
            HAS_ORDER=True,
            CHANNELS=channels,
            DIM=dim,
        )
        grad_x = grad_x.index_add(1, out_columns, scratch)
    if need_edges:
        meta, cg, _, sh_columns, channels, dim = _tables(spec, False, x.dtype, x.device, x)
        scratch = torch.empty(num_edges, sh_columns.shape[0], dtype=x.dtype, device=x.device)
        grad_w = torch.empty_like(w)
        torch.library.wrap_triton(kernels.edge_grads_kernel)[(num_nodes, meta.shape[0])](
            x,
            sh,
            w,
            grad_output,
            senders,
            _segments(receivers, num_nodes),
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
        grad_sh = grad_sh.index_add(1, sh_columns, scratch)
    return grad_x, grad_sh, grad_w


if kernels is not None:
    tp_conv_op, tp_conv_backward_op = define_tp_conv_ops(
        "triton", forward_kernel, backward_kernel, triton=True
    )


def tp_conv(spec, node_features, edge_sh, edge_weights, senders, receivers, num_nodes: int):
    """Same contract as :func:`pgnfast.ops.tp_conv`."""
    if kernels is None:
        raise RuntimeError("the triton tp_conv backend needs Triton")
    return tp_conv_op(
        node_features,
        edge_sh,
        edge_weights,
        senders.contiguous(),
        receivers.contiguous(),
        int(num_nodes),
        spec_key(spec),
    )
