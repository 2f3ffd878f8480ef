"""Reference tp_conv: e3nn ``TensorProduct`` on gathered features, then a scatter-sum.

Readable and always available; it materialises one message per edge (E x dim_out), which is
what the fused kernels avoid. It is the oracle the fused backends are tested against.
"""

from __future__ import annotations

import torch
from e3nn import o3

_tensor_products: dict = {}


def reference_tensor_product(spec, dtype: torch.dtype, device: torch.device) -> o3.TensorProduct:
    """The e3nn TensorProduct for a spec (cached per spec, dtype and device)."""
    key = (spec, dtype, device)
    tp = _tensor_products.get(key)
    if tp is None:
        # build in float64 so the Clebsch-Gordan constants are exact to double precision
        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            tp = o3.TensorProduct(
                spec.irreps_in,
                spec.irreps_sh,
                spec.irreps_out,
                [(a, b, c, "uvu", True) for a, b, c in spec.instructions],
                shared_weights=False,
                internal_weights=False,
            ).to(dtype=dtype, device=device)
        finally:
            torch.set_default_dtype(previous)
        _tensor_products[key] = tp
    return tp


CHUNK_BYTES = 32 << 20  # widest per-edge tensor of a chunk (best measured at N = 1e4)


def edge_chunk_size(spec, dtype: torch.dtype) -> int:
    """Edges per chunk: a chunk's widest per-edge tensor takes about CHUNK_BYTES."""
    width = max(spec.dim_in, spec.dim_out, spec.weight_numel, 1)
    return max(1024, CHUNK_BYTES // (width * dtype.itemsize))


def tp_conv_reference(
    spec, node_features, edge_sh, edge_weights, senders, receivers, num_nodes: int
) -> torch.Tensor:
    """Same contract as :func:`pgnfast.ops.tp_conv`. Edges go through the tensor product in
    chunks, so per-edge temporaries are reused from the heap instead of being faulted in
    fresh for every (E, dim) tensor, forward and backward."""
    tp = reference_tensor_product(spec, node_features.dtype, node_features.device)
    chunk = edge_chunk_size(spec, node_features.dtype)
    out = None
    # at least one (possibly empty) chunk, so the output is always connected to the inputs
    for start in range(0, max(senders.shape[0], 1), chunk):
        part = slice(start, start + chunk)
        messages = tp(
            torch.index_select(node_features, 0, senders[part]), edge_sh[part], edge_weights[part]
        )
        if out is None:
            out = messages.new_zeros(num_nodes, spec.dim_out)
        out.index_add_(0, receivers[part], messages)
    return out
