"""Bad edge indices and shapes are refused with InputError by every tp_conv backend: the public
entry, the forward and backward custom ops called directly (which the double backward is made
of) and the compiled extension itself, never crashing the interpreter."""

import importlib

import pytest
import torch

from pgnfast import _cpu  # noqa: F401  (the suite needs the compiled extension)
from pgnfast.errors import InputError
from pgnfast.ops import tp_conv
from pgnfast.ops._paths import spec_key

from .tp_conv_cases import BAD_INDICES, bad_index_case, build_spec, random_graph, random_inputs

NEEDS = [(True, True), (True, False), (False, True)]  # (need_features, need_edges)


def _op_backends():
    """Backends whose ops refuse bad indices on CPU tensors: cpu, and triton's (its checks
    run before any launch, so they need no GPU)."""
    backends = ["cpu"]
    try:
        import pgnfast.ops.triton as triton_backend
    except ImportError:
        return backends
    if triton_backend.kernels is not None:
        backends.append("triton")
    return backends


def _gpu_backends():
    if not torch.cuda.is_available():
        return []
    from pgnfast.ops import available_backends

    return [b for b in ("cuda", "triton") if b in available_backends("cuda")]


def _ops(backend):
    importlib.import_module(f"pgnfast.ops.{backend}")  # registers the backend's ops
    return (
        getattr(torch.ops.pgnfast, f"tp_conv_{backend}").default,
        getattr(torch.ops.pgnfast, f"tp_conv_{backend}_backward").default,
    )


@pytest.mark.parametrize("name", sorted(BAD_INDICES))
@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_public_entry_refuses_bad_indices(backend, name, rng):
    spec, x, sh, w, senders, receivers, num_nodes, _ = bad_index_case(name, rng)
    with pytest.raises(InputError, match=BAD_INDICES[name][1]):
        tp_conv(spec, x, sh, w, senders, receivers, num_nodes, backend=backend)


@pytest.mark.parametrize("name", sorted(BAD_INDICES))
@pytest.mark.parametrize("backend", _op_backends())
def test_forward_and_backward_ops_refuse_bad_indices(backend, name, rng):
    spec, x, sh, w, senders, receivers, num_nodes, grad = bad_index_case(name, rng)
    forward_op, backward_op = _ops(backend)
    key = spec_key(spec)
    with pytest.raises(InputError, match=BAD_INDICES[name][1]):
        forward_op(x, sh, w, senders, receivers, num_nodes, key)
    # the double backward calls these two ops again, on inputs that require grad
    x, sh, w, grad = (t.requires_grad_() for t in (x, sh, w, grad))
    for need_features, need_edges in NEEDS:
        with pytest.raises(InputError, match=BAD_INDICES[name][1]):
            backward_op(grad, x, sh, w, senders, receivers, key, need_features, need_edges)


@pytest.mark.parametrize("backend", _op_backends())
def test_ops_refuse_unsorted_receivers_and_wrong_shapes(backend, rng):
    spec, x, sh, w, senders, receivers, num_nodes, grad = bad_index_case(None, rng)
    forward_op, backward_op = _ops(backend)
    key = spec_key(spec)
    if len(set(receivers.tolist())) > 1:
        with pytest.raises(InputError, match=r"receivers must be sorted non-decreasing"):
            forward_op(x, sh, w, senders, receivers.flip(0), num_nodes, key)
    with pytest.raises(InputError, match=r"node_features must have shape"):
        forward_op(x[:-1], sh, w, senders, receivers, num_nodes, key)
    with pytest.raises(InputError, match=r"edge_weights must have shape"):
        forward_op(x, sh, w[1:], senders, receivers, num_nodes, key)
    with pytest.raises(InputError, match=r"senders must be an int64 tensor"):
        forward_op(x, sh, w, senders.int(), receivers, num_nodes, key)
    with pytest.raises(InputError, match=r"grad_output must have shape"):
        backward_op(grad[:, 1:], x, sh, w, senders, receivers, key, True, True)


def test_double_backward_through_the_ops_checks_and_works(rng):
    """The backward op is differentiable (the double backward): with good indices its
    outputs differentiate; bad ones are refused before any graph is built."""
    spec, x, sh, w, senders, receivers, num_nodes, grad = bad_index_case(None, rng)
    _, backward_op = _ops("cpu")
    key = spec_key(spec)
    inputs = [t.requires_grad_() for t in (grad, x, sh, w)]
    grads = backward_op(*inputs, senders, receivers, key, True, True)
    second = torch.autograd.grad(sum(g.square().sum() for g in grads), inputs)
    assert all(torch.isfinite(g).all() for g in second)
    bad = senders.clone()
    bad[0] = num_nodes
    with pytest.raises(InputError, match=r"senders\[0\] = \d+ is out of range"):
        backward_op(*inputs, bad, receivers, key, True, True)


def test_extension_refuses_bad_indices_and_tables(rng):
    """pgnfast._cpu called directly: the C++ code checks before it writes (IndexError or
    ValueError from nanobind), so nothing reads out of bounds."""
    from pgnfast.ops.cpu import _tables

    spec = build_spec("l1-noparity")
    senders, receivers = random_graph(5, 9, rng)
    x, sh, w = random_inputs(spec, 5, senders, rng)
    out = torch.empty(5, spec.dim_out, dtype=torch.float64)
    pointers = torch.empty(6, dtype=torch.int64)
    assert _cpu.sorted_segments(receivers, pointers)
    tables = _tables(spec, False, torch.float64)
    bad = senders.clone()
    bad[4] = 10**15
    with pytest.raises(IndexError, match=r"gather\[4\] = 1000000000000000 is out of range"):
        _cpu.tp_conv_segments(x, sh, w, bad, None, pointers, tables, out, 0)
    with pytest.raises(IndexError, match=r"edge_order\[4\]"):
        _cpu.tp_conv_segments(x, sh, w, senders, bad, pointers, tables, out, 0)
    with pytest.raises(IndexError, match=r"senders\[4\]"):
        _cpu.tp_conv_edge_grads(
            x, sh, w, out, bad, pointers, tables, torch.empty_like(sh), torch.empty_like(w), 0
        )
    broken = pointers.clone()
    broken[-1] = 100
    with pytest.raises(ValueError, match=r"segment_ptr\[5\] = 100 is beyond the 9 edges"):
        _cpu.tp_conv_segments(x, sh, w, senders, None, broken, tables, out, 0)
    paths = tables[0].copy()
    paths[0, 0] = 10**6
    with pytest.raises(ValueError, match=r"path table: the input of path 0"):
        _cpu.tp_conv_segments(x, sh, w, senders, None, pointers, (paths, *tables[1:]), out, 0)
    with pytest.raises(ValueError, match=r"weights has 8 rows, expected 9"):
        _cpu.tp_conv_segments(x, sh, w[1:], senders, None, pointers, tables, out, 0)


def test_an_index_changed_in_place_is_checked_again(rng):
    """Checked index tensors are remembered by identity and version: an in-place change
    (a new version) is checked again."""
    spec, x, sh, w, senders, receivers, num_nodes, _ = bad_index_case(None, rng)
    tp_conv(spec, x, sh, w, senders, receivers, num_nodes, backend="reference")
    senders[-1] = num_nodes
    with pytest.raises(InputError, match=r"senders\[\d+\] = \d+ is out of range"):
        tp_conv(spec, x, sh, w, senders, receivers, num_nodes, backend="reference")


@pytest.mark.gpu
@pytest.mark.skipif(not _gpu_backends(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", sorted(BAD_INDICES))
@pytest.mark.parametrize("backend", ["cuda", "triton"])
def test_gpu_backends_refuse_bad_indices(backend, name, rng):
    if backend not in _gpu_backends():
        pytest.skip(f"{backend} not available")
    spec, x, sh, w, senders, receivers, num_nodes, grad = bad_index_case(name, rng, "cuda")
    forward_op, backward_op = _ops(backend)
    pattern = BAD_INDICES[name][1]
    with pytest.raises(InputError, match=pattern):
        tp_conv(spec, x, sh, w, senders, receivers, num_nodes, backend=backend)
    with pytest.raises(InputError, match=pattern):
        forward_op(x, sh, w, senders, receivers, num_nodes, spec_key(spec))
    for need_features, need_edges in NEEDS:
        with pytest.raises(InputError, match=pattern):
            backward_op(
                grad, x, sh, w, senders, receivers, spec_key(spec), need_features, need_edges
            )
    torch.cuda.synchronize()  # nothing was launched out of bounds: the context still works
