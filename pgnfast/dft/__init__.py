"""The PGN space-filling classical DFT (pgn-functional.md), in Numba. Units: nm and kT.

`solve(positions, cell, design)` labels one configuration; `Functional(design)` offers the
potential protocol (energy, forces, per-particle energies) with warm-started re-solves.
"""

from .design import PGNDesign, default_design
from .functional import Functional
from .solver import CoreOverlapError, DFTInputError, DFTResult, NotConverged, solve

__all__ = [
    "CoreOverlapError",
    "DFTInputError",
    "DFTResult",
    "Functional",
    "NotConverged",
    "PGNDesign",
    "default_design",
    "solve",
]
