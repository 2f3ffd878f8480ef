"""pgnfast: equivariant GNN potentials and the engines to simulate with them, for polymer-
grafted nanoparticle (PGN) glasses and atomistic systems.

Units are per system (`pgnfast.units`): the PGN system uses nm and kT; datasets and model
files record theirs. The public API is re-exported here; the heavy submodules (torch
models, the Numba DFT solver) load on first use.
"""

from __future__ import annotations

import importlib
import importlib.util
import pathlib
import warnings

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
    "random_configurations": "pgnfast.systems.pgn",
    "PGNFastError": "pgnfast.errors",
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
    "errors",
    "geometry",
    "validation",
    "units",
    "systems",
    "pipeline",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def _warn_if_source_tree_without_core() -> None:
    """Say once, plainly, when this import found a source checkout with no compiled core
    (Python started in the repository root shadows the installed package)."""
    here = pathlib.Path(__file__).resolve().parent
    if globals().get("_told_source_tree") or importlib.util.find_spec("pgnfast._cpu"):
        return
    if not (here.parent / "pyproject.toml").exists() or not (here.parent / "csrc").exists():
        return
    from .errors import PGNFastWarning

    warnings.warn(
        f"pgnfast was imported from its source tree ({here}), which has no compiled core "
        "(pgnfast._cpu): the fast CPU kernels are unavailable and slow fallbacks are used. "
        "Run Python from another folder to use the installed package, or build in place "
        "with `pip install -e .`.",
        PGNFastWarning,
        stacklevel=3,
    )
    globals()["_told_source_tree"] = True


_warn_if_source_tree_without_core()


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
