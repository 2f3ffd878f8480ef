"""The NequIP model, its layers, the Potential wrapper, model files, and the electrostatics
of charged systems (Ewald and direct sums of Gaussian charges, charge equilibration)."""

from .electrostatics import (
    COULOMB_CONSTANT,
    coulomb_matrix,
    direct_energy,
    electrostatic_energy,
    ewald_energy,
    ewald_parameters,
)
from .graph import Graph, build_graph
from .model import UNITS, NequIP, hidden_irreps
from .qeq import QeqResult, qeq

__all__ = [
    "COULOMB_CONSTANT",
    "Graph",
    "NequIP",
    "QeqResult",
    "UNITS",
    "build_graph",
    "coulomb_matrix",
    "direct_energy",
    "electrostatic_energy",
    "ewald_energy",
    "ewald_parameters",
    "hidden_irreps",
    "qeq",
]
