"""Run by test_tp_conv_gpu.py in a subprocess with TRITON_INTERPRET=1 (set before Triton is
imported): the Triton tp_conv against the reference on random small graphs (seeded by the
test's seed), forward, first and second derivatives, opcheck of both ops, and both ops
refusing bad indices."""

import re
import sys

import numpy as np
import torch

from pgnfast.errors import InputError
from pgnfast.ops._paths import spec_key
from tests.ops.tp_conv_cases import (
    BAD_INDICES,
    bad_index_case,
    build_spec,
    compare_with_reference,
    random_graph,
    torch_generator,
)


def expect_refusal(name: str, op, *args) -> None:
    pattern = BAD_INDICES[name][1]
    try:
        op(*args)
    except InputError as error:
        assert re.search(pattern, str(error)), (name, str(error))
    else:
        raise AssertionError(f"{name}: {op} raised no InputError")


def check_refuses_bad_indices(name: str, rng) -> None:
    """Both ops, every (need_features, need_edges), refuse the bad indices BAD_INDICES[name]."""
    spec, x, sh, w, senders, receivers, num_nodes, grad = bad_index_case(name, rng)
    key = spec_key(spec)
    expect_refusal(
        name, torch.ops.pgnfast.tp_conv_triton, x, sh, w, senders, receivers, num_nodes, key
    )
    for needs in ((True, True), (True, False), (False, True)):
        backward = torch.ops.pgnfast.tp_conv_triton_backward
        expect_refusal(name, backward, grad, x, sh, w, senders, receivers, key, *needs)


def main(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cases = [  # spec, nodes, edges, isolated, hub degree, dtype, second order
        ("l1-parity", 6, 14, 2, 0, torch.float64, True),
        ("l2-mixed-parity", 5, 10, 1, 0, torch.float64, True),
        ("l3-mixed", 5, 8, 1, 0, torch.float32, False),
        ("l2-noparity", 4, 4, 0, 30, torch.float32, False),
        ("l1-noparity", 3, 0, 0, 0, torch.float64, True),
    ]
    for name, nodes, edges, isolated, hub, dtype, second in cases:
        senders, receivers = random_graph(nodes, edges, rng, isolated=isolated, hub_degree=hub)
        compare_with_reference(
            build_spec(name), "triton", nodes, senders, receivers, rng, dtype, second_order=second
        )
    spec = build_spec("l1-noparity")
    senders, receivers = random_graph(4, 6, rng)
    key = spec_key(spec)
    g = torch_generator(rng)
    x = torch.randn(4, spec.dim_in, generator=g, dtype=torch.float64, requires_grad=True)
    sh = torch.randn(6, spec.dim_sh, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, spec.weight_numel, generator=g, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(4, spec.dim_out, generator=g, dtype=torch.float64, requires_grad=True)
    # the interpreter cannot run kernels under AOT dispatch's functional tensors, so that
    # check runs only on a GPU (test_tp_conv_gpu.py)
    checks = ("test_schema", "test_autograd_registration", "test_faketensor")
    torch.library.opcheck(
        torch.ops.pgnfast.tp_conv_triton.default,
        (x, sh, w, senders, receivers, 4, key),
        test_utils=checks,
    )
    torch.library.opcheck(
        torch.ops.pgnfast.tp_conv_triton_backward.default,
        (grad, x, sh, w, senders, receivers, key, True, True),
        test_utils=checks,
    )
    for name in BAD_INDICES:
        check_refuses_bad_indices(name, rng)
    print("triton tp_conv matches the reference")


if __name__ == "__main__":
    main(int(sys.argv[1]))
