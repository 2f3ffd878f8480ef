"""torch.library registration of a fused tp_conv backend: forward, backward, double backward.

Each backend supplies its kernels (_fused.SegmentKernels); _fused.py turns them into
  forward(spec, x, sh, w, senders, receivers, num_nodes) -> out (num_nodes, spec.dim_out)
  backward(spec, grad_out, x, sh, w, senders, receivers, need_features, need_edges)
      -> (grad_x (N, dim_in), grad_sh (E, dim_sh), grad_w (E, weight_numel)); an output that
      was not asked for is uninitialised and never read.
Both check their inputs (InputError on bad shapes or indices), also when called directly.
Each backend gets two ops, ``pgnfast::tp_conv_<backend>`` and
``pgnfast::tp_conv_<backend>_backward``.

The convolution f(x, Y, W) is linear in each argument, so with T(x, Y, W, G) = <G, f(x, Y, W)>
the backward op returns (dT/dx, dT/dY, dT/dW) and its own derivative is again made of the
two ops: for incoming gradients (gx, gY, gW) of its three outputs,
  d/dG = f(gx, Y, W) + f(x, gY, W) + f(x, Y, gW)
  d/dx = B_x(G, gY, W) + B_x(G, Y, gW)
  d/dY = B_Y(G, gx, W) + B_Y(G, x, gW)
  d/dW = B_W(G, gx, Y) + B_W(G, x, gY)
where B_* are the backward op's outputs. Both ops are differentiable, so every order works.
"""

from __future__ import annotations

import torch

from . import _fused
from ._fused import SegmentKernels
from ._paths import spec_from_key, spec_key

Tensor = torch.Tensor


def _add(total, term):
    return term if total is None else total + term


def define_tp_conv_ops(backend: str, kernels: SegmentKernels, *, triton: bool = False):
    """Register the forward and backward ops of ``backend`` over its kernels (_fused.py);
    returns (forward_op, backward_op, entry), entry(spec, x, sh, w, senders, receivers,
    num_nodes) being the backend's tp_conv (the contract of pgnfast.ops.tp_conv).

    ``triton=True`` registers them with ``torch.library.triton_op`` (kernels launched through
    ``torch.library.wrap_triton`` so torch.compile can see them); otherwise ``custom_op`` with
    fake implementations.
    """
    register = torch.library.triton_op if triton else torch.library.custom_op

    @register(f"pgnfast::tp_conv_{backend}", mutates_args=())
    def forward_op(
        node_features: Tensor,
        edge_sh: Tensor,
        edge_weights: Tensor,
        senders: Tensor,
        receivers: Tensor,
        num_nodes: int,
        spec_key: str,
    ) -> Tensor:
        """Fused convolution (num_nodes, dim_out); see pgnfast.ops.tp_conv."""
        inputs = (node_features, edge_sh, edge_weights, senders, receivers)
        return _fused.forward(kernels, spec_from_key(spec_key), *inputs, num_nodes)

    @register(f"pgnfast::tp_conv_{backend}_backward", mutates_args=())
    def backward_op(
        grad_output: Tensor,
        node_features: Tensor,
        edge_sh: Tensor,
        edge_weights: Tensor,
        senders: Tensor,
        receivers: Tensor,
        spec_key: str,
        need_features: bool,
        need_edges: bool,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """(grad node_features, grad edge_sh, grad edge_weights) for grad_output."""
        inputs = (grad_output, node_features, edge_sh, edge_weights, senders, receivers)
        spec = spec_from_key(spec_key)
        return _fused.backward(kernels, spec, *inputs, need_features, need_edges)

    if not triton:

        @forward_op.register_fake
        def _(node_features, edge_sh, edge_weights, senders, receivers, num_nodes, spec_key):
            spec = spec_from_key(spec_key)
            return node_features.new_empty((num_nodes, spec.dim_out))

        @backward_op.register_fake
        def _(
            grad_output,
            node_features,
            edge_sh,
            edge_weights,
            senders,
            receivers,
            spec_key,
            need_features,
            need_edges,
        ):
            return (
                torch.empty_like(node_features),
                torch.empty_like(edge_sh),
                torch.empty_like(edge_weights),
            )

    def forward_setup(ctx, inputs, output):
        node_features, edge_sh, edge_weights, senders, receivers, _, spec_key = inputs
        ctx.save_for_backward(node_features, edge_sh, edge_weights, senders, receivers)
        ctx.spec_key = spec_key
        ctx.set_materialize_grads(False)  # an unused output's gradient arrives as None

    def forward_backward(ctx, grad_output):
        if grad_output is None:
            return None, None, None, None, None, None, None
        x, sh, w, senders, receivers = ctx.saved_tensors
        need_features = ctx.needs_input_grad[0]
        need_edges = ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        grad_x, grad_sh, grad_w = backward_op(
            grad_output.contiguous(),
            x,
            sh,
            w,
            senders,
            receivers,
            ctx.spec_key,
            need_features,
            need_edges,
        )
        return (
            grad_x if need_features else None,
            grad_sh if ctx.needs_input_grad[1] else None,
            grad_w if ctx.needs_input_grad[2] else None,
            None,
            None,
            None,
            None,
        )

    forward_op.register_autograd(forward_backward, setup_context=forward_setup)

    def backward_setup(ctx, inputs, output):
        grad_output, x, sh, w, senders, receivers, spec_key, need_features, need_edges = inputs
        ctx.save_for_backward(grad_output, x, sh, w, senders, receivers)
        ctx.spec_key, ctx.need_features, ctx.need_edges = spec_key, need_features, need_edges
        ctx.set_materialize_grads(False)  # gradients of unused outputs arrive as None: skipped

    def backward_backward(ctx, gx, gsh, gw):
        grad_output, x, sh, w, senders, receivers = ctx.saved_tensors
        key, num_nodes = ctx.spec_key, x.shape[0]
        needs = ctx.needs_input_grad
        if not ctx.need_features:
            gx = None
        if not ctx.need_edges:
            gsh = gw = None
        gx, gsh, gw = (None if g is None else g.contiguous() for g in (gx, gsh, gw))
        d_grad = d_x = d_sh = d_w = None
        if needs[0]:
            if gx is not None:
                d_grad = _add(d_grad, forward_op(gx, sh, w, senders, receivers, num_nodes, key))
            if gsh is not None:
                d_grad = _add(d_grad, forward_op(x, gsh, w, senders, receivers, num_nodes, key))
            if gw is not None:
                d_grad = _add(d_grad, forward_op(x, sh, gw, senders, receivers, num_nodes, key))
        if gx is not None and (needs[2] or needs[3]):
            _, term_sh, term_w = backward_op(
                grad_output, gx, sh, w, senders, receivers, key, False, True
            )
            d_sh, d_w = _add(d_sh, term_sh), _add(d_w, term_w)
        if gsh is not None and (needs[1] or needs[3]):
            term_x, _, term_w = backward_op(
                grad_output, x, gsh, w, senders, receivers, key, bool(needs[1]), bool(needs[3])
            )
            d_x, d_w = _add(d_x, term_x), _add(d_w, term_w)
        if gw is not None and (needs[1] or needs[2]):
            term_x, term_sh, _ = backward_op(
                grad_output, x, sh, gw, senders, receivers, key, bool(needs[1]), bool(needs[2])
            )
            d_x, d_sh = _add(d_x, term_x), _add(d_sh, term_sh)
        return (
            d_grad if needs[0] else None,
            d_x if needs[1] else None,
            d_sh if needs[2] else None,
            d_w if needs[3] else None,
            None,
            None,
            None,
            None,
            None,
        )

    backward_op.register_autograd(backward_backward, setup_context=backward_setup)

    def entry(spec, node_features, edge_sh, edge_weights, senders, receivers, num_nodes: int):
        """Same contract as :func:`pgnfast.ops.tp_conv` (this backend's op)."""
        inputs = (node_features, edge_sh, edge_weights, senders, receivers)
        return forward_op(*inputs, int(num_nodes), spec_key(spec))

    return forward_op, backward_op, entry
