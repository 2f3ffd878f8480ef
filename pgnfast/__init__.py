"""pgnfast: equivariant GNN potentials for polymer-grafted nanoparticle (PGN) glasses.

Units throughout: lengths in nm, energies in kT. The public API is re-exported here; the
heavy submodules (torch models, the Numba DFT solver) load on first use.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it (loaded lazily, so `import pgnfast` stays cheap)
_EXPORTS = {
    "neighbor_list": "pgnfast.neighbors",
    "NeighborList": "pgnfast.neighbors",
    "VerletList": "pgnfast.neighbors",
    "available_backends": "pgnfast.neighbors",
    "PGNDesign": "pgnfast.dft.design",
    "Potential": "pgnfast.nn.potential",
    "save_model": "pgnfast.nn.io",
    "load_model": "pgnfast.nn.io",
    "NequIP": "pgnfast.nn.model",
    "PGNCalculator": "pgnfast.calculators",
    "ParallelTempering": "pgnfast.mc",
    "MonteCarloSummary": "pgnfast.mc",
}
_SUBMODULES = {
    "neighbors",
    "dft",
    "data",
    "nn",
    "ops",
    "train",
    "mc",
    "analysis",
    "calculators",
    "potentials",
    "testing",
    "triton",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"pgnfast.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'pgnfast' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | _SUBMODULES)
