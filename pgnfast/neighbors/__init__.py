"""Periodic cell-list neighbor search for triclinic boxes.

``neighbor_list(positions, cell, cutoff)`` returns every pair (with every periodic image)
closer than the cutoff, as a :class:`NeighborList` with the convention
``vectors = positions[j] - positions[i] + shifts @ cell`` (nm; cell rows are box vectors).
A search whose estimated pair list exceeds the memory limit (`set_memory_limit`, the
environment variable PGNFAST_MEMORY_LIMIT, default half of the RAM) raises
`pgnfast.errors.MemoryLimitError` before allocating anything.
"""

from ._common import NeighborList, NeighborListError
from .api import (
    available_backends,
    empty_memory_cache,
    memory_cache_info,
    neighbor_list,
    set_memory_cache_limit,
    set_num_threads,
)
from .limits import memory_limit, set_memory_limit
from .op import neighbor_pairs
from .verlet import VerletList

__all__ = [
    "NeighborList",
    "NeighborListError",
    "VerletList",
    "available_backends",
    "empty_memory_cache",
    "memory_cache_info",
    "memory_limit",
    "neighbor_list",
    "neighbor_pairs",
    "set_memory_cache_limit",
    "set_memory_limit",
    "set_num_threads",
]
