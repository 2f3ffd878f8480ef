"""Baselines for the per-atom energy barriers of metallic glasses (issue 16), side by side
with pgnfast's NequIP on the paper's split: SymGNN (Li et al., ICML 2024) and SchNet on
torch-geometric layers, and ridge regression on radial-density descriptors; a common
training and evaluation (Pearson r, RMSE, MAE per glass and pooled).

    python benchmarks/glass_baselines.py DATA_FOLDER --budget tiny

Importing this package is cheap: torch-geometric is imported only when a model is built or
a subgraph is cut (names are resolved lazily).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "GlassGraph": "graphs",
    "batch_graphs": "graphs",
    "glass_graph": "graphs",
    "graph_from_arrays": "graphs",
    "subgraph_around": "graphs",
    "OrthogonalSampler": "symmetrization",
    "SymGNN": "symgnn",
    "SchNetNode": "schnet",
    "RadialDescriptor": "ridge",
    "RidgeModel": "ridge",
    "design_matrix": "ridge",
    "fit_ridge": "ridge",
    "radial_descriptors": "ridge",
    "TrainConfig": "training",
    "evaluate_model": "training",
    "evaluate_predictions": "training",
    "fit_model": "training",
    "load_baseline": "training",
    "predict": "training",
    "recalibrate_batch_norm": "training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
