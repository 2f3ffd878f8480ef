"""Configurations, extxyz datasets and the labeling farm (units: nm, kT)."""

from .configurations import KINDS, random_configurations
from .farm import label
from .io import read_dataset, write_extxyz

__all__ = ["KINDS", "label", "random_configurations", "read_dataset", "write_extxyz"]
