"""Triton (interpreted on the CPU) and CUDA tp_conv backends against the reference.

The CUDA column tables are also checked on the CPU by a small Python emulation of the CUDA
kernels, so the table construction is tested in CI even without a GPU."""

import pytest
import torch

from pgnfast.ops import tp_conv

from ..triton_subprocess import run_interpreted
from .tp_conv_cases import (
    assert_close,
    build_spec,
    compare_with_reference,
    random_graph,
    random_inputs,
    torch_generator,
)


def test_triton_kernels_under_interpreter_match_reference(test_seed):
    pytest.importorskip("triton")
    run_interpreted("tests.ops.triton_interpreted", "matches the reference", seed=test_seed)


def _emulate_segments(table, entries, values, inp, sh, w, gather, order, pointers, out_dim):
    """What csrc/cuda/tp_conv.cu's segment kernel computes, one column at a time."""
    out = torch.zeros(len(pointers) - 1, out_dim, dtype=inp.dtype)
    for n in range(len(pointers) - 1):
        for col in range(out_dim):
            q0, q1, u = table[col].tolist()
            for j in range(pointers[n], pointers[n + 1]):
                e = order[j] if order is not None else j
                for q in range(q0, q1):
                    in_offset, in_dim, sh_col, weight_offset = entries[q, :4].tolist()
                    out[n, col] += (
                        values[q]
                        * sh[e, sh_col]
                        * w[e, weight_offset + u]
                        * inp[gather[e], in_offset + u * in_dim]
                    )
    return out


def _emulate_edge_grads(weight_tables, sh_tables, x, sh, w, grad, senders, receivers):
    grad_sh, grad_w = torch.zeros_like(sh), torch.zeros_like(w)
    (wt, we, wv), (st, se, sv) = weight_tables, sh_tables
    for e in range(len(senders)):
        s, n = senders[e], receivers[e]
        for col in range(w.shape[1]):
            q0, q1, u = wt[col].tolist()
            for q in range(q0, q1):
                i0, idim, sc, _, o0, odim, _, _ = we[q].tolist()
                grad_w[e, col] += wv[q] * sh[e, sc] * x[s, i0 + u * idim] * grad[n, o0 + u * odim]
        for b in range(sh.shape[1]):
            q0, q1, _ = st[b].tolist()
            for q in range(q0, q1):
                i0, idim, _, w0, o0, odim, mul, _ = se[q].tolist()
                for u in range(mul):
                    grad_sh[e, b] += (
                        sv[q] * w[e, w0 + u] * x[s, i0 + u * idim] * grad[n, o0 + u * odim]
                    )
    return grad_sh, grad_w


def test_cuda_column_tables_emulated_on_cpu(rng):
    from pgnfast.ops import cuda as cuda_backend
    from pgnfast.ops._reference import tp_conv_reference

    spec = type(build_spec("l1-parity")).build("2x0e+1x1o+1x2e", "1x0e+1x1o+1x2e", "0e+1o+1e+2e")
    senders, receivers = random_graph(4, 6, rng, isolated=1)
    x, sh, w = (t.requires_grad_() for t in random_inputs(spec, 4, senders, rng))
    pointers = torch.searchsorted(receivers, torch.arange(5))
    table, entries, values = cuda_backend.segment_column_tables(spec, False)
    got = _emulate_segments(
        table,
        entries,
        values,
        x.detach(),
        sh.detach(),
        w.detach(),
        senders,
        None,
        pointers.tolist(),
        spec.dim_out,
    )
    want = tp_conv_reference(spec, x, sh, w, senders, receivers, 4)
    assert_close(got, want.detach(), torch.float64, 0, "forward")

    grad = torch.randn(want.shape, generator=torch_generator(rng), dtype=want.dtype)
    want_grads = torch.autograd.grad(want, (x, sh, w), grad)
    sorted_senders, order = torch.sort(senders, stable=True)
    table, entries, values = cuda_backend.segment_column_tables(spec, True)
    grad_x = _emulate_segments(
        table,
        entries,
        values,
        grad,
        sh.detach(),
        w.detach(),
        receivers,
        order.tolist(),
        torch.searchsorted(sorted_senders, torch.arange(5)).tolist(),
        spec.dim_in,
    )
    assert_close(grad_x, want_grads[0], torch.float64, 1, "d/dx")
    weight_tables, sh_tables = cuda_backend.edge_column_tables(spec)
    grad_sh, grad_w = _emulate_edge_grads(
        weight_tables,
        sh_tables,
        x.detach(),
        sh.detach(),
        w.detach(),
        grad,
        senders.tolist(),
        receivers.tolist(),
    )
    assert_close(grad_sh, want_grads[1], torch.float64, 1, "d/dsh")
    assert_close(grad_w, want_grads[2], torch.float64, 1, "d/dw")


def _gpu_backends():
    if not torch.cuda.is_available():
        return []
    from pgnfast.ops import available_backends

    return [b for b in ("cuda", "triton") if b in available_backends("cuda")]


gpu = pytest.mark.skipif(not _gpu_backends(), reason="needs a CUDA device")


@gpu
@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["cuda", "triton"])
@pytest.mark.parametrize("name", ["l1-parity", "l2-mixed-parity", "l3-mixed"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("nodes,edges", [(50, 400), (3000, 90_000)])
def test_gpu_backend_matches_reference(backend, name, dtype, nodes, edges, rng):
    if backend not in _gpu_backends():
        pytest.skip(f"{backend} not available")
    senders, receivers = random_graph(nodes, edges, rng, isolated=3, hub_degree=500)
    compare_with_reference(
        build_spec(name),
        backend,
        nodes,
        senders,
        receivers,
        rng,
        dtype,
        device="cuda",
        second_order=edges < 10_000,
    )


@gpu
@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["cuda", "triton"])
def test_gpu_opcheck_and_empty_graph(backend, rng):
    if backend not in _gpu_backends():
        pytest.skip(f"{backend} not available")
    from pgnfast.ops._paths import spec_key

    spec = build_spec("l1-noparity")
    senders, receivers = (t.cuda() for t in random_graph(6, 20, rng))
    x, sh, w = (t.requires_grad_() for t in random_inputs(spec, 6, senders, rng, device="cuda"))
    grad = torch.randn(6, spec.dim_out, generator=torch_generator(rng), dtype=torch.float64)
    grad = grad.cuda().requires_grad_()
    key = spec_key(spec)
    ops = getattr(torch.ops.pgnfast, f"tp_conv_{backend}")
    backward = getattr(torch.ops.pgnfast, f"tp_conv_{backend}_backward")
    torch.library.opcheck(ops.default, (x, sh, w, senders, receivers, 6, key))
    torch.library.opcheck(backward.default, (grad, x, sh, w, senders, receivers, key, True, True))
    empty = torch.zeros(0, dtype=torch.int64, device="cuda")
    out = tp_conv(spec, x, sh[:0], w[:0], empty, empty, 6, backend=backend)
    assert out.shape == (6, spec.dim_out) and not out.any()
