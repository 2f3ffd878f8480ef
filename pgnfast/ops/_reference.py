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


def tp_conv_reference(
    spec, node_features, edge_sh, edge_weights, senders, receivers, num_nodes: int
) -> torch.Tensor:
    """Same contract as :func:`pgnfast.ops.tp_conv`."""
    tp = reference_tensor_product(spec, node_features.dtype, node_features.device)
    messages = tp(node_features[senders], edge_sh, edge_weights)
    out = torch.zeros(num_nodes, spec.dim_out, dtype=messages.dtype, device=messages.device)
    return out.index_add(0, receivers, messages)
