"""The forward and backward of every fused tp_conv backend, written once over its kernels.

A backend (cpu.py, cuda.py, triton.py) supplies a `SegmentKernels`: the segment convolution
(forward, or transposed for the gradient w.r.t. node features; contract:
csrc/include/pgnfast/tp_conv.hpp), the per-edge gradients, and how it builds receiver and
sender segments. `forward` and `backward` here check the inputs (shapes always, index values
where the backend does not check them in compiled code), order the work and allocate what the
autograd code (_autograd.py) expects.
"""

from __future__ import annotations

import torch

from ._checks import check_index_values, check_layout, values_unknown

Tensor = torch.Tensor


class SegmentKernels:
    """The kernels of one backend. The defaults build segments with torch (any device) and
    check index values with one torch reduction (backends whose compiled code checks them,
    like the CPU's, override `check_values`)."""

    def check_values(self, senders: Tensor, receivers: Tensor, num_nodes: int) -> None:
        """Refuse out-of-range or (receivers) unsorted indices with InputError."""
        check_index_values(
            ((senders, num_nodes, "senders", False), (receivers, num_nodes, "receivers", True))
        )

    def receiver_segments(self, receivers: Tensor, num_nodes: int) -> Tensor:
        """(num_nodes + 1,) int64 pointers of the sorted receivers' segments."""
        bounds = torch.arange(num_nodes + 1, device=receivers.device, dtype=torch.int64)
        return torch.searchsorted(receivers, bounds)

    def sender_segments(self, senders: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
        """(pointers (num_nodes + 1,), order (E,)): a stable sort of the edges by sender."""
        sorted_senders, order = torch.sort(senders, stable=True)
        return self.receiver_segments(sorted_senders, num_nodes), order

    def convolve(
        self, spec, transposed: bool, inputs, sh, w, gather, order, pointers, rows: int
    ) -> Tensor:
        """(rows, spec.dim_in if transposed else spec.dim_out): the segment convolution."""
        raise NotImplementedError

    def edge_grads(self, spec, x, sh, w, grad_output, senders, pointers) -> tuple[Tensor, Tensor]:
        """(grad_sh (E, dim_sh), grad_w (E, weight_numel)) over receiver segments."""
        raise NotImplementedError


def forward(kernels: SegmentKernels, spec, x, sh, w, senders, receivers, num_nodes: int):
    """(num_nodes, spec.dim_out): the fused convolution (inputs as in pgnfast.ops.tp_conv)."""
    check_layout(spec, x, sh, w, senders, receivers, num_nodes)
    if not values_unknown(x):
        kernels.check_values(senders, receivers, num_nodes)
    x, sh, w, senders, receivers = (t.contiguous() for t in (x, sh, w, senders, receivers))
    pointers = kernels.receiver_segments(receivers, num_nodes)
    return kernels.convolve(spec, False, x, sh, w, senders, None, pointers, num_nodes)


def backward(
    kernels: SegmentKernels,
    spec,
    grad_output,
    x,
    sh,
    w,
    senders,
    receivers,
    need_features: bool,
    need_edges: bool,
):
    """(grad_x (N, dim_in), grad_sh (E, dim_sh), grad_w (E, weight_numel)) for grad_output
    (N, dim_out); an output that is not needed is left uninitialised (never read)."""
    num_nodes = x.shape[0]
    check_layout(spec, x, sh, w, senders, receivers, num_nodes, grad_output)
    if not values_unknown(x):
        kernels.check_values(senders, receivers, num_nodes)
    grad_output, x, sh, w = (t.contiguous() for t in (grad_output, x, sh, w))
    senders, receivers = senders.contiguous(), receivers.contiguous()
    if need_features:
        pointers, order = kernels.sender_segments(senders, num_nodes)
        grad_x = kernels.convolve(
            spec, True, grad_output, sh, w, receivers, order, pointers, num_nodes
        )
    else:
        grad_x = torch.empty_like(x)
    if need_edges:
        pointers = kernels.receiver_segments(receivers, num_nodes)
        grad_sh, grad_w = kernels.edge_grads(spec, x, sh, w, grad_output, senders, pointers)
    else:
        grad_sh, grad_w = torch.empty_like(sh), torch.empty_like(w)
    return grad_x, grad_sh, grad_w
