"""The neighbor list's memory limit: refuse a search whose pair list would not fit.

A cutoff far beyond a tiny box lists every periodic image, and the pair count grows as
N^2 (cutoff^3 / volume): one call could ask for terabytes. Before any backend runs, the
pair count is estimated for a uniform density and the search is refused with
`pgnfast.errors.MemoryLimitError` when the estimated bytes exceed the limit.

The limit (bytes): `set_memory_limit(num_bytes)`, else the environment variable
PGNFAST_MEMORY_LIMIT (a byte count, or "none"), else half of the machine's RAM. None means
no limit.
"""

from __future__ import annotations

import functools
import math
import numbers
import os

import numpy as np

from ..errors import MemoryLimitError
from ._common import Geometry, NeighborListError, search_basis

ENVIRONMENT_VARIABLE = "PGNFAST_MEMORY_LIMIT"

# Peak bytes per listed pair, by backend: the outputs i, j (int64), shifts (3 int32),
# vectors (3 float64) and distances are 60 bytes; the CPU backend also keeps 24-byte
# per-thread entries until the copy; the reference builds several int64 temporaries and
# sorts them.
BYTES_PER_PAIR = {"cpu": 84, "cuda": 60, "triton": 60, "reference": 200}

_UNSET = object()
_limit = _UNSET  # set_memory_limit's value, or _UNSET to read the environment / default


@functools.lru_cache(maxsize=1)
def default_memory_limit() -> int | None:
    """Half of the machine's physical memory in bytes (None where the OS does not say)."""
    try:
        ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return ram // 2 if ram > 0 else None


def _check_limit(num_bytes, name: str) -> int | None:
    if num_bytes is None:
        return None
    if isinstance(num_bytes, (bool, np.bool_)) or not isinstance(num_bytes, numbers.Integral):
        raise NeighborListError(
            f"{name} must be a positive whole number of bytes or None, got {num_bytes!r}"
        )
    if num_bytes <= 0:
        raise NeighborListError(f"{name} must be a positive number of bytes, got {num_bytes}")
    return int(num_bytes)


def set_memory_limit(num_bytes: int | None) -> None:
    """Most bytes one neighbor-list call may need (its estimated pair list); None removes
    the limit. Overrides PGNFAST_MEMORY_LIMIT and the default (half of the RAM)."""
    global _limit
    _limit = _check_limit(num_bytes, "memory limit")


def memory_limit() -> int | None:
    """The limit in force, in bytes (None: no limit)."""
    if _limit is not _UNSET:
        return _limit
    text = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not text:
        return default_memory_limit()
    if text.lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        raise NeighborListError(
            f"environment variable {ENVIRONMENT_VARIABLE}={text!r} must be a whole number of "
            "bytes or 'none'"
        ) from None
    return _check_limit(value, f"environment variable {ENVIRONMENT_VARIABLE}")


def _periodic_images(geometry: Geometry) -> float:
    """Upper bound on the periodic images of one particle inside the cutoff."""
    basis = search_basis(geometry.cell_np, geometry.pbc)
    inverse_widths = np.linalg.norm(np.linalg.inv(basis), axis=0)  # 1 / face widths
    images = 1.0
    for d in range(3):
        if geometry.pbc[d]:
            images *= 2.0 * math.ceil(geometry.cutoff * inverse_widths[d]) + 1.0
    return images


def _free_extents(geometry: Geometry, basis: np.ndarray, free: list[int]) -> np.ndarray:
    """Extent (nm) of the particles along the orthonormal free rows of the search basis."""
    rows = basis[free].T
    if geometry.positions_np is not None:
        projected = geometry.positions_np @ rows
        return projected.max(axis=0) - projected.min(axis=0)
    import torch

    positions = geometry.positions.detach()
    projected = positions @ torch.as_tensor(rows, dtype=positions.dtype, device=positions.device)
    extent = projected.max(dim=0).values - projected.min(dim=0).values
    return extent.double().cpu().numpy()


def estimate_pairs(geometry: Geometry, *, half: bool) -> tuple[float, float]:
    """(pairs, volume): the expected pair count for a uniform density over the volume the
    particles fill (the cell along periodic directions; along free ones their extent, at
    least one cutoff), and that volume in nm^3. Particles that fill only part of their
    extent (a rotated cluster) have more pairs than estimated, by a small factor."""
    n = float(geometry.positions.shape[0])
    pbc, cutoff = geometry.pbc, geometry.cutoff
    basis = search_basis(geometry.cell_np, pbc)
    volume = abs(float(np.linalg.det(basis)))  # free rows of the basis are unit vectors
    free = [d for d in range(3) if not pbc[d]]
    if free:
        extents = _free_extents(geometry, basis, free)
        volume *= float(np.prod(np.maximum(extents, cutoff)))
    per_particle = n * (4.0 / 3.0 * math.pi * cutoff**3) / volume
    if not any(pbc):
        per_particle = min(per_particle, n)
    return n * per_particle * (0.5 if half else 1.0), volume


def check_memory(geometry: Geometry, backend: str, *, half: bool) -> None:
    """Raise MemoryLimitError when the estimated pair list of this search exceeds the limit."""
    limit = memory_limit()
    if limit is None:
        return
    n = geometry.positions.shape[0]
    per_pair = BYTES_PER_PAIR.get(backend, max(BYTES_PER_PAIR.values()))
    # every pair of particles with every image in reach: when even that fits, skip the
    # estimate (and its pass over the positions along free directions)
    if float(n) * n * _periodic_images(geometry) * per_pair <= limit:
        return
    pairs, volume = estimate_pairs(geometry, half=half)
    needed = pairs * per_pair
    if needed <= limit:
        return
    raise MemoryLimitError(
        f"neighbor list too large: about {pairs:.3g} pairs (~{needed:.3g} bytes with the "
        f"{backend!r} backend) for {n} particles, cutoff {geometry.cutoff:g} nm and "
        f"{volume:.3g} nm^3 (pbc={geometry.pbc}), above the memory limit of {limit} bytes. "
        "Use a smaller cutoff or a larger box, or raise the limit with "
        f"pgnfast.neighbors.set_memory_limit(num_bytes) or {ENVIRONMENT_VARIABLE}"
    )
