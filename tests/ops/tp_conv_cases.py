"""Shared cases and checks for the fused tp_conv backends (used by the CPU, Triton and CUDA
tests, also in a TRITON_INTERPRET=1 subprocess). Every random input is drawn from the numpy
generator passed in (the tests' seeded `rng` fixture)."""

from __future__ import annotations

import numpy as np
import torch
from e3nn import o3

from pgnfast.ops import TPConvSpec, tp_conv

# (irreps_in, l_max of the SH, target irreps): l_max 1 to 3, mixed multiplicities, parity on
# (both parities in the targets) and off (only p = (-1)^l), inputs without paths to a target
SPECS = {
    "l1-parity": ("3x0e+2x0o+4x1o+1x1e", 1, "0e+0o+1o+1e"),
    "l1-noparity": ("5x0e+3x1o", 1, "0e+1o"),
    "l2-mixed-parity": ("4x0e+1x0o+3x1o+2x1e+2x2e+1x2o", 2, "0e+0o+1o+1e+2e+2o"),
    "l2-noparity": ("8x0e+4x1o+2x2e", 2, "0e+1o+2e"),
    "l3-mixed": ("6x0e+3x1o+2x2e+1x3o", 3, "0e+1o+2e+3o+1e+3e"),
    "l3-scalars-out": ("2x0e+2x1o+2x2e+3x3o", 3, "0e"),
}


def build_spec(name: str) -> TPConvSpec:
    irreps_in, l_max, target = SPECS[name]
    return TPConvSpec.build(irreps_in, o3.Irreps.spherical_harmonics(l_max), target)


def random_graph(
    num_nodes: int,
    num_edges: int,
    rng: np.random.Generator,
    *,
    isolated: int = 0,
    hub_degree: int = 0,
):
    """(senders, receivers) int64, receivers sorted. The last ``isolated`` nodes have no edge;
    node 0 additionally receives ``hub_degree`` edges (a node with hundreds of neighbors)."""
    active = max(num_nodes - isolated, 1)
    receivers = rng.integers(0, active, num_edges)
    senders = rng.integers(0, active, num_edges)
    if hub_degree:
        receivers = np.concatenate([receivers, np.zeros(hub_degree, dtype=np.int64)])
        senders = np.concatenate([senders, rng.integers(0, active, hub_degree)])
    order = np.argsort(receivers, kind="stable")
    return (
        torch.as_tensor(senders[order], dtype=torch.int64),
        torch.as_tensor(receivers[order], dtype=torch.int64),
    )


def torch_generator(rng: np.random.Generator) -> torch.Generator:
    """A torch generator seeded from `rng` (for torch.randn and friends in tests)."""
    return torch.Generator().manual_seed(int(rng.integers(2**31)))


def random_inputs(spec, num_nodes, senders, rng, dtype=torch.float64, device="cpu"):
    """Fresh random (x, sh, w) of the given dtype, never zeros."""
    generator = torch_generator(rng)
    num_edges = len(senders)

    def draw(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64).to(
            dtype=dtype, device=device
        )

    return (
        draw(num_nodes, spec.dim_in),
        draw(num_edges, spec.dim_sh),
        draw(num_edges, spec.weight_numel),
    )


def tolerance(dtype, scale: float, order: int = 0) -> float:
    """Absolute tolerance: 1e-10 (float64) or 1e-5 (float32) relative to the output scale,
    10x looser per derivative order."""
    base = 1e-10 if dtype == torch.float64 else 1e-5
    return base * (10**order) * max(scale, 1.0)


def assert_close(got, want, dtype, order=0, what=""):
    assert got.shape == want.shape, (what, got.shape, want.shape)
    if want.numel() == 0:
        return
    scale = want.abs().max().item()
    error = (got.double() - want.double()).abs().max().item()
    assert error <= tolerance(dtype, scale, order), f"{what}: error {error:.3e} (scale {scale:.3e})"


def compare_with_reference(
    spec, backend, num_nodes, senders, receivers, rng, dtype, device="cpu", second_order=True
):
    """Forward, first and (optionally) second derivatives of ``backend`` vs the reference."""
    x, sh, w = random_inputs(spec, num_nodes, senders, rng, dtype, device)
    senders, receivers = senders.to(device), receivers.to(device)
    projection_seed = int(rng.integers(2**31))  # the same cotangents for both backends
    results = {}
    for name in (backend, "reference"):
        inputs = [t.detach().clone().requires_grad_(True) for t in (x, sh, w)]
        out = tp_conv(spec, *inputs, senders, receivers, num_nodes, backend=name)
        generator = torch.Generator().manual_seed(projection_seed)
        cotangent = torch.randn(out.shape, generator=generator, dtype=torch.float64).to(
            dtype=dtype, device=device
        )
        grads = torch.autograd.grad(out, inputs, cotangent, create_graph=second_order)
        second = ()
        if second_order:
            # differentiate a random projection of every gradient w.r.t. every input
            projection = sum(
                (
                    g
                    * torch.randn(g.shape, generator=generator, dtype=torch.float64).to(
                        dtype=dtype, device=device
                    )
                ).sum()
                for g in grads
            )
            second = torch.autograd.grad(
                projection, inputs, allow_unused=True, materialize_grads=True
            )
        results[name] = (out.detach(), [g.detach() for g in grads], [g.detach() for g in second])
    got, want = results[backend], results["reference"]
    assert_close(got[0], want[0], dtype, 0, "output")
    for label, a, b in zip(("x", "sh", "w"), got[1], want[1]):
        assert_close(a, b, dtype, 1, f"d/d{label}")
    for label, a, b in zip(("x", "sh", "w"), got[2], want[2]):
        assert_close(a, b, dtype, 2, f"d2/d{label}")


def _with_entry(index: torch.Tensor, rng: np.random.Generator, value: int) -> torch.Tensor:
    changed = index.clone()
    changed[int(rng.integers(len(index)))] = value
    return changed


# Bad edge indices: name -> (what is wrong, message pattern, change(senders, receivers,
# num_nodes, rng) -> (senders, receivers)). Used by the tests and by bad_inputs.py.
BAD_INDICES = {
    "sender_too_large": (
        "a sender index >= N",
        r"senders\[\d+\] = \d+ is out of range for \d+ rows",
        lambda s, r, n, rng: (_with_entry(s, rng, n + int(rng.integers(0, 10**12))), r),
    ),
    "sender_negative": (
        "a negative sender index",
        r"senders\[\d+\] = -\d+ is out of range for \d+ rows",
        lambda s, r, n, rng: (_with_entry(s, rng, -int(rng.integers(1, 10**6))), r),
    ),
    "receiver_too_large": (
        "a receiver index >= N",
        r"receivers\[\d+\] = \d+ is out of range for \d+ rows",
        lambda s, r, n, rng: (s, torch.cat([r[:-1], r.new_tensor([n + int(rng.integers(5))])])),
    ),
    "float_indices": (
        "float sender indices",
        r"senders must be an integer tensor, got torch\.float",
        lambda s, r, n, rng: (s.double(), r),
    ),
    "receivers_wrong_length": (
        "receivers of another length than the edges",
        r"receivers must have shape \(\d+,\), got \(\d+,\)",
        lambda s, r, n, rng: (s, r[:-1]),
    ),
}


def bad_index_case(name, rng: np.random.Generator, device="cpu", dtype=torch.float64):
    """(spec, x, sh, w, senders, receivers, num_nodes, grad_output) of a random graph with
    the bad indices BAD_INDICES[name] (receivers stay sorted where they stay integers), or
    good ones for name None."""
    spec = build_spec("l1-noparity")
    num_nodes, num_edges = int(rng.integers(3, 8)), int(rng.integers(4, 16))
    senders, receivers = random_graph(num_nodes, num_edges, rng)
    x, sh, w = random_inputs(spec, num_nodes, senders, rng, dtype, device)
    grad = torch.randn(num_nodes, spec.dim_out, generator=torch_generator(rng), dtype=dtype)
    if name is not None:
        senders, receivers = BAD_INDICES[name][2](senders, receivers, num_nodes, rng)
    return spec, x, sh, w, senders.to(device), receivers.to(device), num_nodes, grad.to(device)
