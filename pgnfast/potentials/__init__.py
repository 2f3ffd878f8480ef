"""Potentials for the Monte Carlo engine: the protocol and analytic test potentials.

``pgnfast.Potential`` (the NequIP model) and ``pgnfast.dft.Functional`` follow the same
protocol (see :mod:`pgnfast.potentials.base`); the classes here are exact, cheap references.
"""

from .base import PotentialBase, PotentialProtocol
from .fingerprint import fingerprint_differences, num_types_of, potential_fingerprint
from .pair import CoreRepulsion, Harmonic, LennardJones, PairPotential
from .tabulated import TabulatedPair, TabulatedPairInputError

__all__ = [
    "CoreRepulsion",
    "Harmonic",
    "LennardJones",
    "PairPotential",
    "PotentialBase",
    "PotentialProtocol",
    "TabulatedPair",
    "TabulatedPairInputError",
    "fingerprint_differences",
    "num_types_of",
    "potential_fingerprint",
]
