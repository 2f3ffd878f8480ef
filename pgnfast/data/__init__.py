"""extxyz datasets and the labeling farm (units recorded per dataset). PGN configurations
moved to `pgnfast.systems.pgn` (`random_configurations`, `KINDS`)."""

from .farm import label
from .io import read_dataset, write_extxyz

__all__ = ["label", "read_dataset", "write_extxyz"]
