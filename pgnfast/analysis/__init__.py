"""Structure analysis of PGN glasses: g(r), S(q) (direct), Steinhardt Q6/W6, Voronoi indices."""

from .plots import (
    plot_icosahedral_fraction,
    plot_q6_w6,
    plot_rdf,
    plot_structure_factor,
    plot_voronoi_histogram,
)
from .structure import (
    VoronoiIndices,
    icosahedral_fraction_by_temperature,
    radial_distribution,
    steinhardt,
    structure_factor,
    structure_factor_from_rdf,
    voronoi_indices,
)

__all__ = [
    "VoronoiIndices",
    "icosahedral_fraction_by_temperature",
    "plot_icosahedral_fraction",
    "plot_q6_w6",
    "plot_rdf",
    "plot_structure_factor",
    "plot_voronoi_histogram",
    "radial_distribution",
    "steinhardt",
    "structure_factor",
    "structure_factor_from_rdf",
    "voronoi_indices",
]
