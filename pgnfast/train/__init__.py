"""Training, metrics and the hyperparameter study for pgnfast models."""

from .config import TrainConfig
from .fit import fit

__all__ = ["TrainConfig", "fit"]
