"""The fused C++/OpenMP tp_conv backend (pgnfast._cpu, csrc/cpu/tp_conv.cpp).

Forward: one pass over receiver segments (receivers sorted), gather, weighted "uvu" tensor
product with the sparse CG entries and accumulation in a thread-local row, written once.
Gradient w.r.t. node features: the same kernel over sender segments (a stable counting sort of
the senders, O(E), done in C++) with the transposed path tables, so it is deterministic and
needs no atomics and no per-thread copies of the output. Gradients w.r.t. the edge SH and
weights: one pass over receiver segments, per edge. Ops: ``torch.ops.pgnfast.tp_conv_cpu`` and
``torch.ops.pgnfast.tp_conv_cpu_backward`` (autograd to any order, see _autograd.py).
Threads: ``torch.get_num_threads()``.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ._autograd import define_tp_conv_ops
from ._paths import path_tables, spec_key

try:
    from pgnfast import _cpu
except ImportError:  # extension not built
    _cpu = None


def is_available(device) -> bool:
    """True on CPU devices when the extension has the tp_conv kernels."""
    return (
        torch.device(device).type == "cpu"
        and _cpu is not None
        and hasattr(_cpu, "tp_conv_segments")
    )


@functools.cache
def _tables(spec, transposed: bool, dtype: torch.dtype):
    t = path_tables(spec, transposed)
    value_dtype = np.float32 if dtype == torch.float32 else np.float64
    return (t.paths, t.cg_index, np.ascontiguousarray(t.cg_value, dtype=value_dtype), t.out_blocks)


def _receiver_segments(receivers: torch.Tensor, num_nodes: int) -> torch.Tensor:
    pointers = torch.empty(num_nodes + 1, dtype=torch.int64)
    if not _cpu.sorted_segments(receivers, pointers):
        raise ValueError("tp_conv: receivers must be sorted and in [0, num_nodes)")
    return pointers


def _sender_segments(senders: torch.Tensor, num_nodes: int):
    pointers = torch.empty(num_nodes + 1, dtype=torch.int64)
    order = torch.empty_like(senders)
    if not _cpu.counting_sort_segments(senders, pointers, order):
        raise ValueError("tp_conv: senders must be in [0, num_nodes)")
    return pointers, order


def _check(x, sh, w, senders, receivers):
    if x.dtype not in (torch.float32, torch.float64) or not (x.dtype == sh.dtype == w.dtype):
        raise TypeError(
            f"tp_conv (cpu): float32 or float64 inputs of one dtype, got "
            f"{x.dtype}, {sh.dtype}, {w.dtype}"
        )
    if senders.dtype != torch.int64 or receivers.dtype != torch.int64:
        raise TypeError("tp_conv (cpu): senders and receivers must be int64")


def forward_kernel(spec, x, sh, w, senders, receivers, num_nodes: int) -> torch.Tensor:
    """(num_nodes, spec.dim_out) = fused convolution; inputs as in pgnfast.ops.tp_conv."""
    _check(x, sh, w, senders, receivers)
    x, sh, w = x.contiguous(), sh.contiguous(), w.contiguous()
    senders, receivers = senders.contiguous(), receivers.contiguous()
    out = torch.empty(num_nodes, spec.dim_out, dtype=x.dtype)
    _cpu.tp_conv_segments(
        x,
        sh,
        w,
        senders,
        None,
        _receiver_segments(receivers, num_nodes),
        *_tables(spec, False, x.dtype),
        out,
        torch.get_num_threads(),
    )
    return out


def backward_kernel(
    spec, grad_output, x, sh, w, senders, receivers, need_features: bool, need_edges: bool
):
    """(grad_x (N, dim_in), grad_sh (E, dim_sh), grad_w (E, weight_numel)); an output that is
    not needed is left uninitialised (the autograd code never reads it)."""
    _check(x, sh, w, senders, receivers)
    grad_output, x, sh, w = (t.contiguous() for t in (grad_output, x, sh, w))
    senders, receivers = senders.contiguous(), receivers.contiguous()
    num_nodes, threads = x.shape[0], torch.get_num_threads()
    if need_features:
        pointers, order = _sender_segments(senders, num_nodes)
        grad_x = torch.empty_like(x)
        _cpu.tp_conv_segments(
            grad_output,
            sh,
            w,
            receivers,
            order,
            pointers,
            *_tables(spec, True, x.dtype),
            grad_x,
            threads,
        )
    else:
        grad_x = torch.empty_like(x)
    if need_edges:
        grad_sh, grad_w = torch.empty_like(sh), torch.empty_like(w)
        _cpu.tp_conv_edge_grads(
            x,
            sh,
            w,
            grad_output,
            senders,
            _receiver_segments(receivers, num_nodes),
            *_tables(spec, False, x.dtype),
            grad_sh,
            grad_w,
            threads,
        )
    else:
        grad_sh, grad_w = torch.empty_like(sh), torch.empty_like(w)
    return grad_x, grad_sh, grad_w


tp_conv_op, tp_conv_backward_op = define_tp_conv_ops("cpu", forward_kernel, backward_kernel)


def tp_conv(spec, node_features, edge_sh, edge_weights, senders, receivers, num_nodes: int):
    """Same contract as :func:`pgnfast.ops.tp_conv` (CPU tensors)."""
    return tp_conv_op(
        node_features, edge_sh, edge_weights, senders, receivers, int(num_nodes), spec_key(spec)
    )
