"""Bad-input cases of pgnfast.ops (run by tests/test_bad_input_table.py): bad edge indices
and shapes for every tp_conv backend, and the backward ops called directly."""

from __future__ import annotations

import importlib

import torch

from pgnfast.errors import InputError
from pgnfast.ops import tp_conv
from pgnfast.ops._paths import spec_key
from tests.bad_inputs import bad_input

from .tp_conv_cases import BAD_INDICES, bad_index_case

WRONG_ROWS = (
    "node_features with another number of rows than num_nodes",
    r"node_features must have shape \(\d+, \d+\) \(num_nodes, spec\.dim_in\), got \(\d+, \d+\)",
)
# backend -> (table entry, requirement, device); triton's op is called with CPU tensors (its
# checks run before any launch), the others through the public entry
BACKENDS = {
    "reference": ('pgnfast.ops.tp_conv(..., backend="reference")', None, "cpu"),
    "cpu": ('pgnfast.ops.tp_conv(..., backend="cpu")', None, "cpu"),
    "triton": ("torch.ops.pgnfast.tp_conv_triton", "triton", "cpu"),
    "cuda": ('pgnfast.ops.tp_conv(..., backend="cuda")', "cuda", "cuda"),
}


def _forward(backend, spec, x, sh, w, senders, receivers, num_nodes):
    if backend == "triton":
        importlib.import_module("pgnfast.ops.triton")
        op = torch.ops.pgnfast.tp_conv_triton
        return op(x, sh, w, senders, receivers, num_nodes, spec_key(spec))
    return tp_conv(spec, x, sh, w, senders, receivers, num_nodes, backend=backend)


def _index_case(backend: str, name: str):
    entry, requires, device = BACKENDS[backend]
    what, pattern, _ = BAD_INDICES[name]

    def case(rng, tmp_path):
        spec, x, sh, w, senders, receivers, num_nodes, _ = bad_index_case(name, rng, device)
        _forward(backend, spec, x, sh, w, senders, receivers, num_nodes)

    case.__name__ = case.__qualname__ = f"tp_conv_{backend}_{name}"
    bad_input(entry, what, InputError, pattern, requires=requires)(case)


def _rows_case(backend: str):
    entry, requires, device = BACKENDS[backend]

    def case(rng, tmp_path):
        spec, x, sh, w, senders, receivers, num_nodes, _ = bad_index_case(None, rng, device)
        _forward(backend, spec, x[1:], sh, w, senders, receivers, num_nodes)

    case.__name__ = case.__qualname__ = f"tp_conv_{backend}_features_wrong_rows"
    bad_input(entry, WRONG_ROWS[0], InputError, WRONG_ROWS[1], requires=requires)(case)


def _backward_case(backend: str, requires: str | None, device: str):
    def case(rng, tmp_path):
        importlib.import_module(f"pgnfast.ops.{backend}")
        op = getattr(torch.ops.pgnfast, f"tp_conv_{backend}_backward")
        spec, x, sh, w, senders, receivers, _, grad = bad_index_case(
            "sender_too_large", rng, device
        )
        op(grad, x, sh, w, senders, receivers, spec_key(spec), True, True)

    case.__name__ = case.__qualname__ = f"tp_conv_{backend}_backward_sender_too_large"
    bad_input(
        f"torch.ops.pgnfast.tp_conv_{backend}_backward",
        "a sender index >= N (backward op called directly)",
        InputError,
        BAD_INDICES["sender_too_large"][1],
        requires=requires,
    )(case)


for _backend in BACKENDS:
    for _name in BAD_INDICES:
        _index_case(_backend, _name)
    _rows_case(_backend)
_backward_case("cpu", None, "cpu")
_backward_case("triton", "triton", "cpu")
_backward_case("cuda", "cuda", "cuda")


@bad_input(
    "pgnfast.ops.mesh.spread / gather",
    "a PME mesh index outside the mesh (at the compiled boundary)",
    InputError,
    r"flat index of point \d+ is outside the mesh of \d+ points",
)
def mesh_index_outside_the_mesh(rng, tmp_path):
    from pgnfast.ops import mesh

    weights = torch.as_tensor(rng.uniform(size=(5, 8)))
    flat = torch.as_tensor(rng.integers(0, 20, (5, 8)))
    flat[int(rng.integers(5)), int(rng.integers(8))] = int(rng.choice([-1, 20]))
    mesh.spread(weights, flat, torch.as_tensor(rng.normal(size=(5, 1))), 20)
