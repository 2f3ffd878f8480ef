"""Periodic cell-list neighbor search for triclinic boxes.

``neighbor_list(positions, cell, cutoff)`` returns every pair (with every periodic image)
closer than the cutoff, as a :class:`NeighborList` with the convention
``vectors = positions[j] - positions[i] + shifts @ cell`` (nm; cell rows are box vectors).
"""

from ._common import NeighborList, NeighborListError
from .api import available_backends, neighbor_list
from .verlet import VerletList

__all__ = [
    "NeighborList",
    "NeighborListError",
    "VerletList",
    "available_backends",
    "neighbor_list",
]
