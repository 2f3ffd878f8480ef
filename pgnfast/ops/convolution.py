"""The tensor-product convolution: the one op every NequIP interaction block calls.

For each receiver node i (edges sorted by receiver)::

    out[i, block_k] = sum over edges e with receivers[e] == i of
        w[e, offset_k + u] * alpha_k * sum_{m1, m2} C_k[m1, m2, m3]
                               * x[senders[e], in_k][u, m1] * Y[e, sh_k][m2]

i.e. gather the sender's features, take the "uvu" tensor product of each input irrep
(multiplicity u, order l1) with one edge spherical harmonic (order l2, multiplicity 1) into an
output irrep of order l3 with the same multiplicity, weight each path and channel by the
per-edge radial-MLP output, and sum into the receiver. No normalisation by the number of
neighbors happens here (the caller scales).

Tensor layouts (all row-major, contiguous, e3nn "mul_ir" layout)
------------------------------------------------------------------
- ``node_features``: (num_nodes, spec.dim_in). Irrep block ``b`` of ``spec.irreps_in`` with
  multiplicity ``mul`` and order ``l`` occupies columns ``[start_b, start_b + mul * (2l+1))``;
  channel ``u``, component ``m`` (0 .. 2l) sits at ``start_b + u * (2l+1) + m``.
- ``edge_sh``: (num_edges, spec.dim_sh), spherical harmonics of the edge vector (sender minus
  receiver), e3nn real basis and "component" normalisation, multiplicity 1 per l.
- ``edge_weights``: (num_edges, spec.weight_numel). Instruction ``k`` owns the columns
  ``[spec.weight_offsets[k], spec.weight_offsets[k] + mul_k)``, one weight per channel u.
  Instructions are ordered as ``spec.instructions`` (sorted by output irrep, then by input
  irrep, then by spherical-harmonic irrep). This is exactly e3nn's ``TensorProduct`` weight
  layout for "uvu" instructions with ``shared_weights=False``.
- ``senders``, ``receivers``: (num_edges,) integers in [0, num_nodes) (int64; other integer
  dtypes are converted); ``receivers`` sorted non-decreasing (the fused kernels rely on it for
  deterministic segment sums and refuse unsorted ones; the reference does not).
- output: (num_nodes, spec.dim_out); instruction ``k`` writes output block ``k`` of
  ``spec.irreps_out`` (multiplicity ``mul_k``, order ``l3``), same mul_ir layout.
- ``C_k`` is ``e3nn.o3.wigner_3j(l1, l2, l3)`` and ``alpha_k`` is ``spec.path_weights[k]``
  (e3nn "component" irrep normalisation and "element" path normalisation).
All floating inputs share one dtype (float32 or float64) and device.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from e3nn import o3

from ..errors import InputError, PGNFastWarning
from ._checks import check_tp_conv_inputs

BACKENDS = ("auto", "reference", "cpu", "triton", "cuda")
# backend name -> module that implements it (added by the fused-kernel work). Each module
# exposes ``tp_conv(spec, node_features, edge_sh, edge_weights, senders, receivers,
# num_nodes)`` and ``is_available(device: torch.device) -> bool``.
_BACKEND_MODULES = {
    "cpu": "pgnfast.ops.cpu",
    "triton": "pgnfast.ops.triton",
    "cuda": "pgnfast.ops.cuda",
}
# preference order of "auto" per device type
_AUTO_ORDER = {"cpu": ("cpu", "reference"), "cuda": ("cuda", "triton", "reference")}
_registered: dict[str, tuple[Callable, Callable]] = {}
_warned: set[tuple[str, str]] = set()
# (requested backend, device type) -> implementation; filled on first use so that traced
# (torch.compile) calls only do a dictionary lookup
_resolved: dict[tuple[str, str], Callable] = {}


class BackendFallbackWarning(PGNFastWarning, RuntimeWarning):
    """A requested tp_conv backend is not available here and another one runs instead (also a
    RuntimeWarning, the category this warning had before)."""


@dataclass(frozen=True)
class TPConvSpec:
    """Irreps and paths of one convolution (hashable; built once per layer).

    Build it with :meth:`TPConvSpec.build`. Fields:
      irreps_in: node feature irreps (str form); irreps_sh: edge spherical harmonics;
      irreps_out: one output block per instruction (multiplicity of its input block);
      instructions: tuple of (i_in, i_sh, i_out) block indices, i_out == position;
      path_weights: alpha_k per instruction; weight_offsets: first weight column per path.
    """

    irreps_in: str
    irreps_sh: str
    irreps_out: str
    instructions: tuple[tuple[int, int, int], ...]
    path_weights: tuple[float, ...]
    weight_offsets: tuple[int, ...]
    weight_numel: int
    dim_in: int
    dim_sh: int
    dim_out: int

    @classmethod
    def build(cls, irreps_in, irreps_sh, irreps_target) -> TPConvSpec:
        """All uvu paths (l1 x l2 -> l3) of irreps_in x irreps_sh whose output irrep (l3, parity)
        appears in irreps_target, ordered by output irrep so the output can be simplified."""
        irreps_in, irreps_sh = o3.Irreps(irreps_in), o3.Irreps(irreps_sh)
        targets = {ir for _, ir in o3.Irreps(irreps_target)}
        paths = []  # (ir_out, i_in, i_sh, mul)
        for i_in, (mul, ir_in) in enumerate(irreps_in):
            for i_sh, (_, ir_sh) in enumerate(irreps_sh):
                for ir_out in ir_in * ir_sh:
                    if ir_out in targets:
                        paths.append((ir_out, i_in, i_sh, mul))
        paths.sort(key=lambda p: (p[0], p[1], p[2]))
        irreps_out = o3.Irreps([(mul, ir) for ir, _, _, mul in paths])
        instructions = tuple((i_in, i_sh, k) for k, (_, i_in, i_sh, _) in enumerate(paths))
        tp = o3.TensorProduct(
            irreps_in,
            irreps_sh,
            irreps_out,
            [(a, b, c, "uvu", True) for a, b, c in instructions],
            shared_weights=False,
            internal_weights=False,
        )
        offsets, total = [], 0
        for _, _, _, mul in paths:
            offsets.append(total)
            total += mul
        assert total == tp.weight_numel
        return cls(
            irreps_in=str(irreps_in),
            irreps_sh=str(irreps_sh),
            irreps_out=str(irreps_out),
            instructions=instructions,
            path_weights=tuple(float(ins.path_weight) for ins in tp.instructions),
            weight_offsets=tuple(offsets),
            weight_numel=total,
            dim_in=irreps_in.dim,
            dim_sh=irreps_sh.dim,
            dim_out=irreps_out.dim,
        )


def register_backend(name: str, function: Callable, is_available: Callable) -> None:
    """Register a tp_conv implementation programmatically (same call signature as a module's)."""
    _registered[name] = (function, is_available)
    _resolved.clear()


def _backend_impl(name: str):
    """(function, is_available) for a backend, or None if it is not installed."""
    if name == "reference":
        from ._reference import tp_conv_reference

        return tp_conv_reference, lambda device: True
    if name in _registered:
        return _registered[name]
    module_name = _BACKEND_MODULES.get(name)
    if module_name is None:
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    if not hasattr(module, "tp_conv"):
        return None
    return module.tp_conv, getattr(module, "is_available", lambda device: True)


def available_backends(device="cpu") -> list[str]:
    """tp_conv backends that can run on ``device`` here, fastest first."""
    device = torch.device(device)
    order = _AUTO_ORDER.get(device.type, ("reference",))
    found = []
    for name in order:
        impl = _backend_impl(name)
        if impl is not None and impl[1](device):
            found.append(name)
    return found


def resolve_backend(backend: str, device) -> str:
    """The backend that will run: "auto" -> fastest available; a missing one -> the fastest
    available, with a BackendFallbackWarning (once per backend and device)."""
    if backend not in BACKENDS and backend not in _registered:
        raise InputError(f"unknown tp_conv backend {backend!r}; choose one of {BACKENDS}")
    device = torch.device(device)
    usable = available_backends(device)
    if backend == "auto":
        return usable[0]
    if backend in usable:
        return backend
    impl = _backend_impl(backend)
    if impl is not None and impl[1](device):
        return backend
    key = (backend, device.type)
    if key not in _warned:
        _warned.add(key)
        warnings.warn(
            f"tp_conv backend {backend!r} is not available on {device.type}; using {usable[0]!r}",
            BackendFallbackWarning,
            stacklevel=3,
        )
    return usable[0]


def prepare_backend(backend: str) -> None:
    """Resolve `backend` now for every device type present, so that the first tp_conv call
    inside a torch.compile graph is a dictionary lookup (no import, no graph break)."""
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        key = (backend, device)
        if key not in _resolved:
            _resolved[key] = _backend_impl(resolve_backend(backend, device))[0]


def tp_conv(
    spec: TPConvSpec,
    node_features: torch.Tensor,
    edge_sh: torch.Tensor,
    edge_weights: torch.Tensor,
    senders: torch.Tensor,
    receivers: torch.Tensor,
    num_nodes: int,
    *,
    backend: str = "reference",
) -> torch.Tensor:
    """Fused gather -> weighted tensor product -> scatter-sum (see the module docstring).

    node_features (num_nodes, spec.dim_in); edge_sh (E, spec.dim_sh); edge_weights
    (E, spec.weight_numel); senders, receivers (E,) integer, receivers sorted; returns
    (num_nodes, spec.dim_out). Differentiable to second order in every floating input.
    Raises InputError for wrong shapes and for indices that are not integers or out of
    [0, num_nodes) (naming the first bad edge); the fused backends also refuse unsorted
    receivers.
    """
    senders, receivers = check_tp_conv_inputs(
        spec, node_features, edge_sh, edge_weights, senders, receivers, num_nodes
    )
    key = (backend, node_features.device.type)
    function = _resolved.get(key)
    if function is None:
        function = _backend_impl(resolve_backend(backend, node_features.device))[0]
        _resolved[key] = function
    return function(spec, node_features, edge_sh, edge_weights, senders, receivers, num_nodes)
