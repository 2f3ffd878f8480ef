"""Bad input to the neighbor list, and what it says (rows of docs/bad-input.md)."""

import numpy as np

import pgnfast
from pgnfast.errors import MemoryLimitError
from pgnfast.neighbors import NeighborListError, limits, set_memory_limit
from tests.bad_inputs import bad_input

ENTRY = "pgnfast.neighbor_list"


def _system(rng, n=12, length=4.0):
    """Random positions (n, 3) in a cubic box of `length` nm, and the box."""
    cell = np.eye(3) * length
    return rng.uniform(0, length, (n, 3)), cell


@bad_input(ENTRY, "cutoff True", NeighborListError, r"cutoff must be a real number, got True")
def cutoff_true(rng, tmp_path):
    positions, cell = _system(rng)
    pgnfast.neighbor_list(positions, cell, True)


@bad_input(
    ENTRY, 'cutoff "2.5" (a string)', NeighborListError, r"cutoff must be a real number, got '2\.5'"
)
def cutoff_string(rng, tmp_path):
    positions, cell = _system(rng)
    pgnfast.neighbor_list(positions, cell, "2.5")


@bad_input(
    ENTRY, "negative cutoff", NeighborListError, r"cutoff must be a finite number > 0, got -1\.5"
)
def cutoff_negative(rng, tmp_path):
    positions, cell = _system(rng)
    pgnfast.neighbor_list(positions, cell, -1.5)


@bad_input(ENTRY, "NaN cutoff", NeighborListError, r"cutoff must be a finite number > 0, got nan")
def cutoff_nan(rng, tmp_path):
    positions, cell = _system(rng)
    pgnfast.neighbor_list(positions, cell, float("nan"))


@bad_input(
    ENTRY,
    "cell None with periodic boundaries",
    NeighborListError,
    r"cell is None but pbc=\(True, True, True\): a periodic system needs a cell",
)
def cell_none_periodic(rng, tmp_path):
    positions, _ = _system(rng)
    pgnfast.neighbor_list(positions, None, 1.5, pbc=True)


@bad_input(
    ENTRY,
    "cell of shape (2, 3)",
    NeighborListError,
    r"cell must have shape \(3, 3\) \(rows are box vectors\), got \(2, 3\)",
)
def cell_wrong_shape(rng, tmp_path):
    positions, cell = _system(rng)
    pgnfast.neighbor_list(positions, cell[:2], 1.5)


@bad_input(
    ENTRY, "a NaN position", NeighborListError, r"positions\[5\] is not finite \(NaN or infinite\)"
)
def positions_nan(rng, tmp_path):
    positions, cell = _system(rng)
    positions[5, 1] = np.nan
    pgnfast.neighbor_list(positions, cell, 1.5)


@bad_input(
    ENTRY,
    "positions of shape (N, 2)",
    NeighborListError,
    r"positions must have shape \(N, 3\), got \(12, 2\)",
)
def positions_wrong_shape(rng, tmp_path):
    positions, cell = _system(rng)
    pgnfast.neighbor_list(positions[:, :2], cell, 1.5)


@bad_input(
    ENTRY,
    "a 5 nm cutoff in a 0.01 nm box (pair list beyond the memory limit)",
    MemoryLimitError,
    r"about [0-9.e+]+ pairs \(~[0-9.e+]+ bytes with the '\w+' backend\) for 10 particles, "
    r"cutoff 5 nm .* above the memory limit of 1073741824 bytes",
)
def memory_limit_exceeded(rng, tmp_path):
    positions, cell = _system(rng, n=10, length=0.01)
    saved = limits._limit
    set_memory_limit(1 << 30)
    try:
        pgnfast.neighbor_list(positions, cell, 5.0)
    finally:
        limits._limit = saved


@bad_input(
    ENTRY,
    'unknown backend "gpu9000"',
    NeighborListError,
    r"unknown backend 'gpu9000'; choose one of \('auto', 'cpu', 'cuda', 'triton', 'reference'\)",
)
def unknown_backend(rng, tmp_path):
    positions, cell = _system(rng)
    pgnfast.neighbor_list(positions, cell, 1.5, backend="gpu9000")
