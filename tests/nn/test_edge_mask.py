"""The optional edge mask of NequIP (the explainers' hook): a mask of ones is the unmasked
model bit for bit, a zero removes an edge, gradients reach the mask, every CPU backend agrees.

Run as `python -m tests.nn.test_edge_mask SEED` under TRITON_INTERPRET=1 it compares the
Triton backend with the reference on a tiny graph."""

import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from pgnfast.errors import InputError
from pgnfast.testing import random_graph, small_model


def _model(seed: int, backend: str = "reference"):
    model = small_model(torch.float64, seed=seed, per_atom_targets=("barrier",), backend=backend)
    model.set_per_atom_statistics({"barrier": (0.9, 0.4)})
    return model


def _graph(model, rng, num_particles=10):
    return random_graph(model, num_particles=num_particles, box=1.2, seed=int(rng.integers(2**31)))


def _without_edges(graph, removed):
    keep = torch.ones(graph.senders.shape[0], dtype=torch.bool)
    keep[removed] = False
    return replace(
        graph,
        senders=graph.senders[keep],
        receivers=graph.receivers[keep],
        shifts=graph.shifts[keep],
    )


def _outputs(model, graph, edge_mask=None, compute_forces=True):
    out = model(graph, compute_forces=compute_forces, edge_mask=edge_mask)
    return {
        "energies": out["energies"],
        "barrier": out["per_atom"]["barrier"],
        **({"forces": out["forces"]} if compute_forces else {}),
    }


def test_mask_of_ones_is_the_unmasked_model_bit_for_bit(rng):
    model = _model(int(rng.integers(2**31)))
    graph = _graph(model, rng)
    reference = _outputs(model, graph)
    ones = torch.ones(graph.senders.shape[0], dtype=torch.float64)
    masked = _outputs(model, graph, ones)
    for name, values in reference.items():
        assert torch.equal(masked[name], values), name


def test_zero_mask_removes_the_edge(rng):
    model = _model(int(rng.integers(2**31)))
    graph = _graph(model, rng)
    num_edges = graph.senders.shape[0]
    removed = rng.choice(num_edges, size=int(rng.integers(1, 4)), replace=False)
    mask = torch.ones(num_edges, dtype=torch.float64)
    mask[removed] = 0.0
    masked = _outputs(model, graph, mask)
    pruned = _outputs(model, _without_edges(graph, removed))
    full = _outputs(model, graph)
    for name, values in pruned.items():
        torch.testing.assert_close(masked[name], values, rtol=0, atol=1e-12)
    # the removed edge mattered, so the comparison is not between identical models
    assert not torch.allclose(full["barrier"], pruned["barrier"], rtol=0, atol=1e-9)


def test_gradient_reaches_the_mask_and_matches_finite_differences(rng):
    model = _model(int(rng.integers(2**31)))
    graph = _graph(model, rng)
    num_edges = graph.senders.shape[0]
    base = torch.as_tensor(rng.uniform(0.2, 0.9, num_edges))
    atom = int(rng.integers(graph.num_nodes))

    def value(mask):
        return _outputs(model, graph, mask, compute_forces=False)["barrier"][atom]

    mask = base.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(value(mask), mask)
    assert gradient.shape == (num_edges,) and torch.isfinite(gradient).all()
    into_atom = torch.nonzero(graph.receivers == atom).flatten()
    assert (gradient[into_atom] != 0).all()  # every edge into the atom moves its prediction
    h = 1e-6
    for e in rng.choice(num_edges, size=4, replace=False).tolist():
        step = torch.zeros(num_edges, dtype=torch.float64)
        step[e] = h
        finite = (value(base + step) - value(base - step)) / (2 * h)
        torch.testing.assert_close(gradient[e], finite, rtol=1e-5, atol=1e-9)


def _compare_backends(backend: str, rng, num_particles: int) -> None:
    seed = int(rng.integers(2**31))
    reference, other = _model(seed), _model(seed, backend=backend)
    graph = _graph(reference, rng, num_particles)
    values = torch.as_tensor(rng.uniform(0.0, 1.0, graph.senders.shape[0]))
    results = []
    for model in (reference, other):
        mask = values.clone().requires_grad_(True)
        out = _outputs(model, graph, mask)
        (gradient,) = torch.autograd.grad(out["barrier"].square().sum(), mask)
        results.append((out, gradient))
    (out_ref, grad_ref), (out_other, grad_other) = results
    for name, ref in out_ref.items():
        torch.testing.assert_close(out_other[name], ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(grad_other, grad_ref, rtol=1e-10, atol=1e-10)


def test_cpu_backend_agrees_with_reference(rng):
    from pgnfast.ops import available_backends

    if "cpu" not in available_backends():
        pytest.fail("the compiled CPU backend is missing (pgnfast._cpu)")
    _compare_backends("cpu", rng, num_particles=10)


@pytest.mark.slow  # a Triton interpreter subprocess: about 8 s alone, more on a busy machine
def test_triton_backend_agrees_under_interpreter(test_seed):
    pytest.importorskip("triton")
    from ..triton_subprocess import run_interpreted

    run_interpreted("tests.nn.test_edge_mask", "edge mask: triton matches", seed=test_seed)


@pytest.mark.parametrize(
    "mask, message",
    [
        (lambda n: torch.ones(n + 1, dtype=torch.float64), r"shape \(\d+,\) \(one factor"),
        (lambda n: torch.ones(n, 1, dtype=torch.float64), r"shape \(\d+,\) \(one factor"),
        (lambda n: torch.ones(n, dtype=torch.int64), r"floating-point torch tensor"),
        (lambda n: np.ones(n), r"floating-point torch tensor"),
    ],
)
def test_bad_mask_is_refused(rng, mask, message):
    model = _model(int(rng.integers(2**31)))
    graph = _graph(model, rng)
    with pytest.raises(InputError, match=message):
        model(graph, compute_forces=False, edge_mask=mask(graph.senders.shape[0]))


if __name__ == "__main__":  # under TRITON_INTERPRET=1, from test_triton_backend_agrees...
    _compare_backends("triton", np.random.default_rng(int(sys.argv[1])), num_particles=5)
    print("edge mask: triton matches the reference")
