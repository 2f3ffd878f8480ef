"""The metallic-glass energy-barrier system (Cu64Zr36; Angstrom, eV): per-atom barriers of
the released glasses, read safely from their pickles and converted to extxyz with per-atom
label columns (issue 16). The model, baselines and explanations build on this data.

    python -m pgnfast.systems.glass.convert_cli DATA_FOLDER OUT_FOLDER
"""

from .convert import SPLIT, convert_glasses, split_of
from .data import (
    BARRIER_KEY,
    LABELS,
    SOURCE_KEYS,
    TYPE_NAMES,
    Glass,
    glass_from_arrays,
    glass_from_atoms,
    glass_to_atoms,
    read_glass,
    read_glass_extxyz,
    write_glass_extxyz,
)

__all__ = [
    "BARRIER_KEY",
    "LABELS",
    "SOURCE_KEYS",
    "SPLIT",
    "TYPE_NAMES",
    "Glass",
    "convert_glasses",
    "glass_from_arrays",
    "glass_from_atoms",
    "glass_to_atoms",
    "read_glass",
    "read_glass_extxyz",
    "split_of",
    "write_glass_extxyz",
]
