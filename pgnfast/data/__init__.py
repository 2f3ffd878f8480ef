"""extxyz datasets and the labeling farm (units recorded per dataset). PGN configurations
moved to `pgnfast.systems.pgn` (`random_configurations`, `KINDS`)."""

from .farm import label
from .io import read_dataset, write_extxyz
from .safe_pickle import load_numpy_pickle

__all__ = ["label", "load_numpy_pickle", "read_dataset", "write_extxyz"]
