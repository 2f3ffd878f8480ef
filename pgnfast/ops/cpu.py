"""The fused C++/OpenMP tp_conv backend (pgnfast._cpu, csrc/cpu/tp_conv.cpp).

Forward: one pass over receiver segments (receivers sorted), gather, weighted "uvu" tensor
product with the sparse CG entries and accumulation in a thread-local row, written once.
Gradient w.r.t. node features: the same kernel over sender segments (a stable counting sort of
the senders, O(E), done in C++) with the transposed path tables, so it is deterministic and
needs no atomics and no per-thread copies of the output. Gradients w.r.t. the edge SH and
weights: one pass over receiver segments, per edge. Ops: ``torch.ops.pgnfast.tp_conv_cpu`` and
``torch.ops.pgnfast.tp_conv_cpu_backward`` (autograd to any order, see _autograd.py).
Index values are checked by the C++ code (before it writes anything); its errors become
InputError naming the argument and the first bad edge. Threads: ``torch.get_num_threads()``.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ._autograd import define_tp_conv_ops
from ._checks import raise_index_error
from ._fused import SegmentKernels
from ._paths import path_tables

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


def _check_dtypes(*tensors):
    dtype = tensors[0].dtype
    if dtype not in (torch.float32, torch.float64) or any(t.dtype != dtype for t in tensors):
        raise TypeError(
            "tp_conv (cpu): float32 or float64 inputs of one dtype, got "
            + ", ".join(str(t.dtype) for t in tensors)
        )


class CpuKernels(SegmentKernels):
    """pgnfast._cpu's kernels; the C++ code checks every index itself."""

    def check_values(self, senders, receivers, num_nodes):
        pass  # checked in C++ (receivers by sorted_segments, senders by the kernels)

    def receiver_segments(self, receivers, num_nodes):
        pointers = torch.empty(num_nodes + 1, dtype=torch.int64)
        if not _cpu.sorted_segments(receivers, pointers):
            raise_index_error(
                "receivers must be sorted and in [0, num_nodes)",
                [(receivers, num_nodes, "receivers", True)],
            )
        return pointers

    def sender_segments(self, senders, num_nodes):
        pointers = torch.empty(num_nodes + 1, dtype=torch.int64)
        order = torch.empty_like(senders)
        if not _cpu.counting_sort_segments(senders, pointers, order):
            raise_index_error(
                "senders must be in [0, num_nodes)", [(senders, num_nodes, "senders", False)]
            )
        return pointers, order

    def convolve(self, spec, transposed, inputs, sh, w, gather, order, pointers, rows):
        _check_dtypes(inputs, sh, w)
        out = torch.empty(rows, spec.dim_in if transposed else spec.dim_out, dtype=inputs.dtype)
        tables = _tables(spec, transposed, inputs.dtype)
        threads = torch.get_num_threads()
        try:
            _cpu.tp_conv_segments(inputs, sh, w, gather, order, pointers, tables, out, threads)
        except (IndexError, ValueError) as error:
            name = "receivers" if transposed else "senders"
            raise_index_error(error, [(gather, inputs.shape[0], name, False)])
        return out

    def edge_grads(self, spec, x, sh, w, grad_output, senders, pointers):
        _check_dtypes(x, sh, w, grad_output)
        grad_sh, grad_w = torch.empty_like(sh), torch.empty_like(w)
        tables = _tables(spec, False, x.dtype)
        threads = torch.get_num_threads()
        try:
            _cpu.tp_conv_edge_grads(
                x, sh, w, grad_output, senders, pointers, tables, grad_sh, grad_w, threads
            )
        except (IndexError, ValueError) as error:
            raise_index_error(error, [(senders, x.shape[0], "senders", False)])
        return grad_sh, grad_w


tp_conv_op, tp_conv_backward_op, tp_conv = define_tp_conv_ops("cpu", CpuKernels())
