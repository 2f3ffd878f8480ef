"""The C++/OpenMP cell-list backend (pgnfast._cpu)."""

from __future__ import annotations

import numpy as np

from ._common import Geometry, NeighborListError, search_basis

CELLS_PER_CUTOFF = 1.0  # cell edge ~ cutoff: measured faster than cutoff/2 (smaller stencil)
# The extension runs one thread per this many particles at most (kParticlesPerThread in
# csrc/cpu/cell_list.cpp): smaller systems are latency-bound.
PARTICLES_PER_THREAD = 4096


def pairs(
    geometry: Geometry,
    *,
    half: bool,
    self_interaction: bool,
    num_threads: int = 0,
    cells_per_cutoff: float = CELLS_PER_CUTOFF,
):
    """(i, j, shifts, vectors, distances) as numpy, float64, sorted by i.

    Raises NeighborListError for input the extension refuses (a position 2^29 cells away)
    and MemoryError when the memory runs out during the search.
    """
    from pgnfast import _cpu

    basis = np.ascontiguousarray(search_basis(geometry.cell_np, geometry.pbc))
    try:
        return _cpu.cell_list(
            np.ascontiguousarray(geometry.positions_np, dtype=np.float64),
            np.ascontiguousarray(geometry.cell_np),
            basis,
            tuple(bool(p) for p in geometry.pbc),
            geometry.cutoff,
            half,
            self_interaction,
            int(num_threads),
            float(cells_per_cutoff),
        )
    except ValueError as error:  # std::invalid_argument: the input, seen by the C++ checks
        raise NeighborListError(str(error)) from None
