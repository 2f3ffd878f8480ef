"""The fused C++/OpenMP tp_conv backend against the e3nn reference (fresh random inputs from
the suite's seed). The compiled extension is part of the package: these tests fail, never
skip, when it is missing."""

import pytest
import torch

from pgnfast import _cpu  # noqa: F401  (an ImportError here fails the run: the build is broken)
from pgnfast.ops import cpu as cpu_backend
from pgnfast.ops import tp_conv

from .tp_conv_cases import (
    SPECS,
    assert_close,
    build_spec,
    compare_with_reference,
    random_graph,
    torch_generator,
)


def test_extension_has_the_tp_conv_kernels():
    assert cpu_backend.is_available("cpu")


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_matches_reference_with_derivatives(name, dtype, rng):
    spec = build_spec(name)
    senders, receivers = random_graph(11, 50, rng, isolated=3)
    compare_with_reference(spec, "cpu", 11, senders, receivers, rng, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_node_with_hundreds_of_neighbors(dtype, rng):
    spec = build_spec("l2-mixed-parity")
    senders, receivers = random_graph(40, 60, rng, hub_degree=400)
    compare_with_reference(spec, "cpu", 40, senders, receivers, rng, dtype, second_order=False)


@pytest.mark.parametrize("num_nodes", [0, 5])
def test_empty_graph(num_nodes, rng):
    spec = build_spec("l1-parity")
    empty = torch.zeros(0, dtype=torch.int64)
    g = torch_generator(rng)
    x = torch.randn(num_nodes, spec.dim_in, generator=g, dtype=torch.float64, requires_grad=True)
    sh = torch.zeros(0, spec.dim_sh, dtype=torch.float64, requires_grad=True)
    w = torch.zeros(0, spec.weight_numel, dtype=torch.float64, requires_grad=True)
    out = tp_conv(spec, x, sh, w, empty, empty, num_nodes, backend="cpu")
    assert out.shape == (num_nodes, spec.dim_out) and not out.any()
    grads = torch.autograd.grad(out.sum(), (x, sh, w))
    assert grads[0].shape == x.shape and not grads[0].any()
    assert grads[1].shape == sh.shape and grads[2].shape == w.shape


def test_gradcheck_and_gradgradcheck_float64(rng):
    spec = type(build_spec("l2-noparity")).build("2x0e+1x1o+1x2e", "1x0e+1x1o+1x2e", "0e+1o+1e+2e")
    senders, receivers = random_graph(4, 7, rng, isolated=1)
    g = torch_generator(rng)
    inputs = tuple(
        torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
        for shape in ((4, spec.dim_in), (7, spec.dim_sh), (7, spec.weight_numel))
    )

    def conv(x, sh, w):
        return tp_conv(spec, x, sh, w, senders, receivers, 4, backend="cpu")

    assert torch.autograd.gradcheck(conv, inputs, fast_mode=True)
    assert torch.autograd.gradgradcheck(conv, inputs, fast_mode=True)


def test_opcheck_forward_and_backward_ops(rng):
    from pgnfast.ops._paths import spec_key

    spec = type(build_spec("l1-parity")).build("2x0e+1x1o", "1x0e+1x1o", "0e+1o+1e")
    key = spec_key(spec)
    senders, receivers = random_graph(5, 9, rng, isolated=1)
    g = torch_generator(rng)
    for dtype in (torch.float64, torch.float32):
        x = torch.randn(5, spec.dim_in, generator=g, dtype=dtype, requires_grad=True)
        sh = torch.randn(9, spec.dim_sh, generator=g, dtype=dtype, requires_grad=True)
        w = torch.randn(9, spec.weight_numel, generator=g, dtype=dtype, requires_grad=True)
        grad = torch.randn(5, spec.dim_out, generator=g, dtype=dtype, requires_grad=True)
        torch.library.opcheck(
            torch.ops.pgnfast.tp_conv_cpu.default, (x, sh, w, senders, receivers, 5, key)
        )
        torch.library.opcheck(
            torch.ops.pgnfast.tp_conv_cpu_backward.default,
            (grad, x, sh, w, senders, receivers, key, True, True),
        )


def test_deterministic_and_thread_count_independent(rng):
    spec = build_spec("l2-mixed-parity")
    senders, receivers = random_graph(30, 300, rng)
    g = torch_generator(rng)
    x = torch.randn(30, spec.dim_in, generator=g, requires_grad=True)
    sh = torch.randn(300, spec.dim_sh, generator=g, requires_grad=True)
    w = torch.randn(300, spec.weight_numel, generator=g, requires_grad=True)
    threads = torch.get_num_threads()
    runs = []
    try:
        for n in (1, max(threads, 2), max(threads, 2)):
            torch.set_num_threads(n)
            out = tp_conv(spec, x, sh, w, senders, receivers, 30, backend="cpu")
            runs.append([out.detach()] + list(torch.autograd.grad(out.square().sum(), (x, sh, w))))
    finally:
        torch.set_num_threads(threads)
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert torch.equal(a, b)


def test_rejects_unsorted_receivers_and_bad_dtypes(rng):
    spec = build_spec("l1-noparity")
    senders, receivers = random_graph(6, 12, rng)
    g = torch_generator(rng)
    x = torch.randn(6, spec.dim_in, generator=g, dtype=torch.float64)
    sh = torch.randn(12, spec.dim_sh, generator=g, dtype=torch.float64)
    w = torch.randn(12, spec.weight_numel, generator=g, dtype=torch.float64)
    with pytest.raises(ValueError, match="sorted"):
        tp_conv(spec, x, sh, w, senders, receivers.flip(0), 6, backend="cpu")
    with pytest.raises(TypeError):
        tp_conv(spec, x, sh.float(), w, senders, receivers, 6, backend="cpu")


def test_model_forces_and_training_gradients_match_reference(test_seed):
    from pgnfast import testing

    model = testing.small_model(torch.float64, seed=test_seed % 2**31, l_max=2, num_features=4)
    graph = testing.random_graph(model, num_particles=14, box=1.2, seed=test_seed % 2**31)
    results = {}
    for backend in ("cpu", "reference"):
        model.backend = backend
        model.zero_grad()
        model.train()
        out = model(graph)
        # a training step on energies and forces differentiates the forces again
        loss = out["energy"].square().sum() + out["forces"].square().sum()
        loss.backward()
        results[backend] = (
            out["energy"].detach(),
            out["forces"].detach(),
            [p.grad.detach().clone() for p in model.parameters() if p.grad is not None],
        )
    (e1, f1, g1), (e2, f2, g2) = results["cpu"], results["reference"]
    assert graph.senders.numel() > 0
    assert_close(e1, e2, torch.float64, 0, "energy")
    assert_close(f1, f2, torch.float64, 1, "forces")
    assert len(g1) == len(g2)
    for a, b in zip(g1, g2):
        assert_close(a, b, torch.float64, 2, "parameter gradient")


def test_spec_key_round_trip_in_a_fresh_registry():
    from pgnfast.ops import _paths

    spec = build_spec("l2-mixed-parity")
    key = _paths.spec_key(spec)
    saved = dict(_paths._SPECS)
    try:
        _paths._SPECS.clear()
        assert _paths.spec_from_key(key) == spec
    finally:
        _paths._SPECS.update(saved)


def test_traceable_by_torch_compile(rng):
    spec = build_spec("l1-parity")
    senders, receivers = random_graph(8, 30, rng)
    g = torch_generator(rng)
    x, w = (
        torch.randn(8, spec.dim_in, generator=g, dtype=torch.float64),
        torch.randn(30, spec.weight_numel, generator=g, dtype=torch.float64),
    )
    sh = torch.randn(30, spec.dim_sh, generator=g, dtype=torch.float64, requires_grad=True)

    def conv(edge_sh):
        return tp_conv(spec, x, edge_sh, w, senders, receivers, 8, backend="cpu")

    eager = conv(sh)  # the first call resolves the backend (outside the traced region)
    compiled = torch.compile(conv, backend="aot_eager", fullgraph=True)
    out = compiled(sh)
    assert torch.equal(out, eager)
    (g1,) = torch.autograd.grad(out.square().sum(), sh)
    (g2,) = torch.autograd.grad(eager.square().sum(), sh)
    assert torch.equal(g1, g2)
