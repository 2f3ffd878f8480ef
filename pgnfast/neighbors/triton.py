"""The Triton cell-list backend: torch binning here, then the kernels of
pgnfast.triton.cell_list (which know nothing of this package). Runs on a GPU, or on the CPU
under TRITON_INTERPRET=1."""

from __future__ import annotations

from ._common import Geometry
from .binning import bin_particles


def pairs(geometry: Geometry, *, half: bool, self_interaction: bool):
    """(i, j, shifts, vectors, distances) as tensors on the input's device, sorted by i."""
    from ..triton.cell_list import cell_list_pairs

    return cell_list_pairs(
        bin_particles(geometry), geometry.cutoff, half=half, self_interaction=self_interaction
    )
