"""`neighbor_list`: validation, backend dispatch and conversion back to the caller's kind."""

from __future__ import annotations

import importlib
import numbers
import os
import warnings

import numpy as np
import torch

from ..errors import PGNFastWarning
from ._common import Geometry, NeighborList, NeighborListError, validate
from .limits import check_memory

BACKENDS = ("auto", "cpu", "cuda", "triton", "reference")
_num_threads = 0  # 0: OpenMP's default (OMP_NUM_THREADS, else all cores)


def set_num_threads(n: int) -> None:
    """Threads used by the CPU backend (0: OpenMP default)."""
    global _num_threads
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral) or n < 0:
        raise NeighborListError(f"number of threads must be a whole number >= 0, got {n!r}")
    _num_threads = int(n)


def memory_cache_info() -> dict:
    """The CPU backend's cache of freed large arrays: cached_bytes (held for reuse),
    live_bytes (handed out), limit_bytes, hits and misses. Empty dict without the extension."""
    cpu = _extension("_cpu")
    return dict(cpu.memory_cache_info()) if cpu is not None else {}


def set_memory_cache_limit(num_bytes: int) -> None:
    """Most bytes of freed neighbor-list arrays the CPU backend keeps for reuse (default
    min(8 GiB, RAM / 4), or the environment variable PGNFAST_CACHE_BYTES; 0 disables)."""
    if (
        isinstance(num_bytes, (bool, np.bool_))
        or not isinstance(num_bytes, numbers.Integral)
        or num_bytes < 0
    ):
        raise NeighborListError(f"cache limit must be a whole number >= 0 bytes, got {num_bytes!r}")
    cpu = _extension("_cpu")
    if cpu is not None:
        cpu.set_memory_cache_limit(int(num_bytes))


def empty_memory_cache() -> None:
    """Give the memory held by the CPU backend's cache back to the OS."""
    cpu = _extension("_cpu")
    if cpu is not None:
        cpu.empty_memory_cache()


def _extension(name: str):
    try:
        return importlib.import_module(f"pgnfast.{name}")
    except ImportError:
        return None


def _triton_usable() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def available_backends(device: str = "cpu") -> list[str]:
    """Backends that can run on `device` ("cpu" or "cuda") in this installation."""
    found = []
    if device.startswith("cpu"):
        if _extension("_cpu") is not None:
            found.append("cpu")
        if os.environ.get("TRITON_INTERPRET") == "1" and _triton_usable():
            found.append("triton")
    else:
        if _extension("_cuda") is not None and torch.cuda.is_available():
            found.append("cuda")
        if _triton_usable() and torch.cuda.is_available():
            found.append("triton")
    found.append("reference")
    return found


def _resolve_backend(backend: str, device: str) -> str:
    if backend not in BACKENDS:
        raise NeighborListError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    on_cpu = device.startswith("cpu")
    usable = available_backends("cpu" if on_cpu else "cuda")
    if backend == "auto":
        return usable[0]
    if backend == "cuda" and on_cpu:
        raise NeighborListError("backend 'cuda' needs CUDA tensors; got CPU input")
    if backend == "cpu" and not on_cpu:
        raise NeighborListError(f"backend 'cpu' needs CPU input; got tensors on {device}")
    if backend not in usable:
        warnings.warn(
            f"neighbor-list backend {backend!r} is not available here; using {usable[0]!r}",
            PGNFastWarning,
            stacklevel=3,
        )
        return usable[0]
    return backend


def _finish(geometry: Geometry, i, j, shifts, vectors=None, distances=None) -> NeighborList:
    """Convert (i, j, shifts[, vectors, distances]) to the caller's kind, device and dtype."""
    if not geometry.is_torch:
        i, j, shifts = (np.asarray(x) for x in (i, j, shifts))
        if vectors is None:
            pos = geometry.positions_np
            vectors = pos[j] - pos[i] + shifts @ geometry.cell_np
            distances = np.sqrt(np.einsum("pk,pk->p", vectors, vectors))
        dtype = geometry.dtype
        return NeighborList(
            i.astype(np.int64, copy=False),
            j.astype(np.int64, copy=False),
            shifts.astype(np.int32, copy=False),
            np.asarray(vectors).astype(dtype, copy=False),
            np.asarray(distances).astype(dtype, copy=False),
        )
    device, dtype = geometry.positions.device, geometry.dtype
    i, j, shifts = (torch.as_tensor(x, device=device) for x in (i, j, shifts))
    i, j, shifts = i.to(torch.int64), j.to(torch.int64), shifts.to(torch.int32)
    differentiable = geometry.positions.requires_grad or geometry.cell.requires_grad
    if vectors is None or differentiable:
        pos, cell = geometry.positions, geometry.cell
        vectors = pos[j] - pos[i] + shifts.to(dtype) @ cell
        distances = torch.linalg.norm(vectors, dim=1)
    else:
        vectors = torch.as_tensor(vectors, device=device).to(dtype)
        distances = torch.as_tensor(distances, device=device).to(dtype)
    return NeighborList(i, j, shifts, vectors, distances)


def neighbor_list(
    positions,
    cell,
    cutoff: float,
    *,
    pbc=True,
    half: bool = False,
    self_interaction: bool = False,
    backend: str = "auto",
) -> NeighborList:
    """All pairs (i, j, periodic image) with |r_j - r_i + S @ cell| < cutoff.

    positions: (N, 3) float32/float64 numpy array or torch tensor, nm; need not be wrapped.
    cell: (3, 3) box vectors as rows, nm (ignored along non-periodic directions; None = no box).
    cutoff: nm, any positive value, larger than the box too (every image is listed).
    pbc: bool or three bools. half: list each pair once (i < j, or i == j with shift > 0).
    self_interaction: include i == j with zero shift. backend: auto|cpu|cuda|triton|reference.
    Returns a NeighborList of the input's kind, dtype and device, pairs sorted by i.
    Raises NeighborListError for invalid input, MemoryLimitError when the estimated pair
    list exceeds the memory limit (pgnfast.neighbors.set_memory_limit).
    """
    geometry = validate(positions, cell, cutoff, pbc)
    chosen = _resolve_backend(backend, geometry.device)
    n = geometry.positions.shape[0]
    if n == 0:
        empty = np.zeros(0, np.int64)
        return _finish(geometry, empty, empty, np.zeros((0, 3), np.int32))
    check_memory(geometry, chosen, half=half)
    if chosen == "reference":
        from . import reference

        i, j, shifts = reference.pairs(geometry, half=half, self_interaction=self_interaction)
        if not geometry.is_torch:
            i, j, shifts = i.numpy(), j.numpy(), shifts.numpy()
        return _finish(geometry, i, j, shifts)
    if chosen == "cpu":
        from . import cpu

        out = cpu.pairs(
            geometry, half=half, self_interaction=self_interaction, num_threads=_num_threads
        )
        return _finish(geometry, *out)
    if chosen == "cuda":
        from . import cuda

        return _finish(
            geometry, *cuda.pairs(geometry, half=half, self_interaction=self_interaction)
        )
    from . import triton

    return _finish(geometry, *triton.pairs(geometry, half=half, self_interaction=self_interaction))
