"""ASE calculators backed by pgnfast models (units: nm, kT)."""

from .ase import PGNCalculator

__all__ = ["PGNCalculator"]
