"""The NequIP model, its layers, the Potential wrapper and model files."""

from .graph import Graph, build_graph
from .model import UNITS, NequIP, hidden_irreps

__all__ = ["Graph", "NequIP", "UNITS", "build_graph", "hidden_irreps"]
