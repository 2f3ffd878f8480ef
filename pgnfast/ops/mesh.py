"""PME mesh transfer: spreading point values onto a mesh through precomputed interpolation
weights, and gathering mesh values back (its transpose), by the C++/OpenMP kernels of
pgnfast._cpu (csrc/cpu/mesh_transfer.cpp), with torch references beside them.

Layout: weights and flat (n, P) (P interpolation nodes per point; flat = the flat mesh
index of each node, in [0, M)), columns (n, k), mesh (k, M). The kernels are not
differentiable: they serve products that need no gradient (the iterative Qeq solve);
`spread_reference` and `gather_reference` are the differentiable torch versions and the
tests' reference. Indices are checked by the C++ code before it writes anything; a bad one
raises InputError naming the point. Threads: ``torch.get_num_threads()``.
"""

from __future__ import annotations

import torch

from ..errors import InputError

try:
    from pgnfast import _cpu
except ImportError:  # extension not built
    _cpu = None

__all__ = ["gather", "gather_reference", "is_available", "spread", "spread_reference"]


def is_available(*tensors: torch.Tensor) -> bool:
    """True when the compiled kernels exist and every tensor is a CPU float64/int64 tensor
    that needs no gradient here."""
    if _cpu is None or not hasattr(_cpu, "mesh_spread"):
        return False
    for tensor in tensors:
        if tensor.device.type != "cpu" or tensor.dtype not in (torch.float64, torch.int64):
            return False
        if torch.is_grad_enabled() and tensor.requires_grad:
            return False
    return True


def _refused(error: Exception) -> InputError:
    return InputError(f"PME mesh transfer: {error}")


def _extension():
    if _cpu is None or not hasattr(_cpu, "mesh_spread"):
        raise RuntimeError(
            "the compiled mesh transfer needs pgnfast._cpu (build the package, e.g. pip "
            "install .); use spread_reference / gather_reference without it"
        )
    return _cpu


def spread(weights, flat, columns, mesh_size: int) -> torch.Tensor:
    """(k, M) mesh: mesh[c, flat[a, p]] += weights[a, p] columns[a, c] (compiled)."""
    columns = columns.contiguous()
    mesh = columns.new_empty(columns.shape[1], int(mesh_size))
    try:
        _extension().mesh_spread(
            weights.contiguous().numpy(),
            flat.contiguous().numpy(),
            columns.numpy(),
            mesh.numpy(),
            torch.get_num_threads(),
        )
    except (IndexError, ValueError) as error:
        raise _refused(error) from error
    return mesh


def gather(weights, flat, mesh) -> torch.Tensor:
    """(n, k): sum_p weights[a, p] mesh[c, flat[a, p]] (compiled); mesh (k, M)."""
    mesh = mesh.contiguous()
    out = mesh.new_empty(weights.shape[0], mesh.shape[0])
    try:
        _extension().mesh_gather(
            weights.contiguous().numpy(),
            flat.contiguous().numpy(),
            mesh.numpy(),
            out.numpy(),
            torch.get_num_threads(),
        )
    except (IndexError, ValueError) as error:
        raise _refused(error) from error
    return out


def spread_reference(weights, flat, columns, mesh_size: int) -> torch.Tensor:
    """`spread` in torch (differentiable in weights and columns)."""
    values = weights[:, :, None] * columns[:, None, :]  # (n, P, k)
    grids = [
        weights.new_zeros(int(mesh_size)).index_add(0, flat.reshape(-1), values[..., c].reshape(-1))
        for c in range(columns.shape[1])
    ]
    return torch.stack(grids)


def gather_reference(weights, flat, mesh) -> torch.Tensor:
    """`gather` in torch (differentiable in weights and mesh)."""
    gathered = mesh[:, flat]  # (k, n, P)
    return (gathered * weights[None]).sum(dim=2).T
