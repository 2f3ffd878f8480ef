"""The NequIP model, its layers, the Potential wrapper, model files, the electrostatics of
charged systems (Ewald, PME and direct sums of Gaussian charges, charge equilibration),
NequIP-LR (NequIP with charge equilibration) and the direct-force baseline."""

from .direct_force import DirectForceModel
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
from .nequip_lr import NequIPLR, charge_loss
from .pme import PMECoulombOperator, pme_energy
from .qeq import QeqResult, qeq, qeq_iterative

__all__ = [
    "COULOMB_CONSTANT",
    "DirectForceModel",
    "Graph",
    "NequIP",
    "NequIPLR",
    "PMECoulombOperator",
    "QeqResult",
    "UNITS",
    "build_graph",
    "charge_loss",
    "coulomb_matrix",
    "direct_energy",
    "electrostatic_energy",
    "ewald_energy",
    "ewald_parameters",
    "hidden_irreps",
    "pme_energy",
    "qeq",
    "qeq_iterative",
]
