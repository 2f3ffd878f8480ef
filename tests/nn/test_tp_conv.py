"""tp_conv: the reference against an explicit einsum written from the documented layout."""

import math

import pytest
import torch
from e3nn import o3
from e3nn.util.test import assert_equivariant

from pgnfast.errors import InputError, PGNFastWarning
from pgnfast.ops import TPConvSpec, available_backends, resolve_backend, tp_conv


def layout_oracle(spec, x, sh, w, senders, receivers, num_nodes):
    """Implements the docstring formula literally, block by block."""
    irreps_in, irreps_sh, irreps_out = (
        o3.Irreps(s) for s in (spec.irreps_in, spec.irreps_sh, spec.irreps_out)
    )
    out = torch.zeros(num_nodes, spec.dim_out, dtype=x.dtype)
    for k, (i_in, i_sh, i_out) in enumerate(spec.instructions):
        mul, ir1 = irreps_in[i_in]
        _, ir2 = irreps_sh[i_sh]
        _, ir3 = irreps_out[i_out]
        xin = x[senders, irreps_in.slices()[i_in]].reshape(-1, mul, ir1.dim)
        y = sh[:, irreps_sh.slices()[i_sh]]
        weight = w[:, spec.weight_offsets[k] : spec.weight_offsets[k] + mul]
        cg = o3.wigner_3j(ir1.l, ir2.l, ir3.l, dtype=x.dtype)
        message = spec.path_weights[k] * torch.einsum("eu,ijk,eui,ej->euk", weight, cg, xin, y)
        block = torch.zeros(num_nodes, mul, ir3.dim, dtype=x.dtype).index_add(0, receivers, message)
        out[:, irreps_out.slices()[i_out]] = block.reshape(num_nodes, -1)
    return out


def random_inputs(spec, seed, num_nodes=7, num_edges=30):
    g = torch.Generator().manual_seed(seed % 2**63)
    receivers = torch.sort(torch.randint(0, num_nodes, (num_edges,), generator=g)).values
    senders = torch.randint(0, num_nodes, (num_edges,), generator=g)
    x = torch.randn(num_nodes, spec.dim_in, generator=g, dtype=torch.float64)
    sh = torch.randn(num_edges, spec.dim_sh, generator=g, dtype=torch.float64)
    w = torch.randn(num_edges, spec.weight_numel, generator=g, dtype=torch.float64)
    return x, sh, w, senders, receivers


@pytest.mark.parametrize(
    "irreps_in,lmax,target",
    [
        ("3x0e+2x1o", 1, "0e+0o+1o+1e"),
        ("2x0e+3x0o+1x1o+2x1e+2x2e", 2, "0e+0o+1o+1e+2e+2o"),
        ("4x0e+2x1o+1x2e", 2, "0e"),
    ],
)
def test_reference_matches_documented_layout(irreps_in, lmax, target, test_seed):
    spec = TPConvSpec.build(irreps_in, o3.Irreps.spherical_harmonics(lmax), target)
    x, sh, w, s, r = random_inputs(spec, test_seed)
    got = tp_conv(spec, x, sh, w, s, r, 7, backend="reference")
    expected = layout_oracle(spec, x, sh, w, s, r, 7)
    assert got.shape == (7, spec.dim_out)
    assert torch.allclose(got, expected, atol=1e-12, rtol=0)
    assert spec.weight_offsets[-1] + o3.Irreps(spec.irreps_out)[-1].mul == spec.weight_numel
    assert all(math.isfinite(a) and a > 0 for a in spec.path_weights)


def test_spec_output_sorted_and_hashable():
    spec = TPConvSpec.build("2x0e+2x1o", o3.Irreps.spherical_harmonics(2), "0e+1o+1e+2e")
    irs = [ir for _, ir in o3.Irreps(spec.irreps_out)]
    assert irs == sorted(irs)
    assert hash(spec) == hash(TPConvSpec.build("2x0e+2x1o", "1x0e+1x1o+1x2e", "0e+1o+1e+2e"))


def test_tp_conv_is_equivariant(test_seed):
    spec = TPConvSpec.build("2x0e+2x1o+1x2e", o3.Irreps.spherical_harmonics(2), "0e+0o+1o+1e+2e+2o")
    x, sh, w, s, r = random_inputs(spec, test_seed, num_nodes=5, num_edges=12)

    def op(x, sh):
        return tp_conv(spec, x, sh, w, s, r, 5)

    assert_equivariant(
        op,
        irreps_in=[o3.Irreps(spec.irreps_in), o3.Irreps(spec.irreps_sh)],
        irreps_out=[o3.Irreps(spec.irreps_out)],
        args_in=[x.float(), sh.float()],
        do_parity=True,
        do_translation=False,
    )


def test_gradgradcheck_small(test_seed):
    spec = TPConvSpec.build("2x0e+1x1o", o3.Irreps.spherical_harmonics(1), "0e+1o")
    x, sh, w, s, r = random_inputs(spec, test_seed, num_nodes=4, num_edges=6)
    inputs = tuple(t.requires_grad_() for t in (x, sh, w))
    f = lambda a, b, c: tp_conv(spec, a, b, c, s, r, 4)  # noqa: E731
    assert torch.autograd.gradcheck(f, inputs)
    assert torch.autograd.gradgradcheck(f, inputs)


def test_empty_graph_and_shape_errors(test_seed):
    spec = TPConvSpec.build("2x0e+1x1o", o3.Irreps.spherical_harmonics(1), "0e+1o")
    x = random_inputs(spec, test_seed, num_nodes=3, num_edges=0)[0].float()
    empty = torch.zeros(0, dtype=torch.int64)
    out = tp_conv(
        spec, x, torch.zeros(0, spec.dim_sh), torch.zeros(0, spec.weight_numel), empty, empty, 3
    )
    assert out.shape == (3, spec.dim_out) and not out.any()
    with pytest.raises(InputError, match="node_features must have shape"):
        tp_conv(
            spec,
            x[:, :-1],
            torch.zeros(0, spec.dim_sh),
            torch.zeros(0, spec.weight_numel),
            empty,
            empty,
            3,
        )


def test_backend_dispatch_and_fallback():
    assert available_backends("cpu")[-1] == "reference"
    assert resolve_backend("auto", "cpu") == available_backends("cpu")[0]
    with pytest.raises(InputError, match="unknown tp_conv backend"):
        resolve_backend("nonsense", "cpu")
    import pgnfast.ops.convolution as module

    module._warned.clear()
    with pytest.warns(PGNFastWarning, match="not available") as caught:
        chosen = resolve_backend("cuda", "cpu")
    assert chosen in available_backends("cpu")
    assert all(issubclass(w.category, RuntimeWarning) for w in caught)  # its former category


def test_reference_in_edge_chunks_equals_layout_oracle(monkeypatch, test_seed):
    """Graphs larger than one chunk go through the tensor product chunk by chunk; outputs
    and gradients must not change."""
    from pgnfast.ops import _reference

    spec = TPConvSpec.build("3x0e+2x1o+1x2e", o3.Irreps.spherical_harmonics(2), "0e+1o+2e")
    monkeypatch.setattr(_reference, "CHUNK_BYTES", 1)  # 1024 edges a chunk
    x, sh, w, s, r = random_inputs(spec, test_seed, num_nodes=300, num_edges=3500)
    inputs = [t.requires_grad_() for t in (x, sh, w)]
    got = tp_conv(spec, *inputs, s, r, 300, backend="reference")
    expected = layout_oracle(spec, *inputs, s, r, 300)
    torch.testing.assert_close(got, expected, atol=1e-11, rtol=0)
    generator = torch.Generator().manual_seed((test_seed + 1) % 2**63)
    probe = torch.randn(got.shape, generator=generator, dtype=got.dtype)
    grads = torch.autograd.grad((got * probe).sum(), inputs)
    expected_grads = torch.autograd.grad((expected * probe).sum(), inputs)
    for a, b in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
