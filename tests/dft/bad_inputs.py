"""Bad inputs of the PGN DFT (`pgnfast.dft.solve`, `PGNDesign`): rows of docs/bad-input.md."""

from __future__ import annotations

import numpy as np

from pgnfast.dft import CoreOverlapError, DFTInputError, PGNDesign, solve
from tests.bad_inputs import bad_input

from .dft_helpers import ORACLE_ARGS, SMALL, place

SOLVE = "pgnfast.dft.solve"
DESIGN = "pgnfast.dft.PGNDesign"


def _system(rng):
    """Six random non-overlapping cores of SMALL in a 30 nm box (nm)."""
    cell = np.diag([30.0, 31.5, 28.5])
    return place(rng, 6, cell, 5.0), cell


def _solve(positions, cell, **options):
    return solve(positions, cell, SMALL, spacing=2.0, check_reach=False, **options)


@bad_input(SOLVE, "tol = 0", DFTInputError, r"tol must lie strictly between 0 and 1, got 0")
def solve_tol_zero(rng, tmp_path):
    _solve(*_system(rng), tol=0)


@bad_input(SOLVE, "tol = 1", DFTInputError, r"tol must lie strictly between 0 and 1, got 1")
def solve_tol_one(rng, tmp_path):
    _solve(*_system(rng), tol=1)


@bad_input(SOLVE, "tol = NaN", DFTInputError, r"tol must lie strictly between 0 and 1, got nan")
def solve_tol_nan(rng, tmp_path):
    _solve(*_system(rng), tol=float("nan"))


@bad_input(SOLVE, "tol = True (a bool)", DFTInputError, r"tol must be a real number, got True")
def solve_tol_bool(rng, tmp_path):
    _solve(*_system(rng), tol=True)


@bad_input(
    SOLVE, "a non-finite warm start", DFTInputError, r"warm_start must be finite: psi\[\d+\] = inf"
)
def solve_warm_start_not_finite(rng, tmp_path):
    positions, cell = _system(rng)
    psi = rng.normal(size=len(positions))
    psi[int(rng.integers(len(positions)))] = np.inf
    _solve(positions, cell, warm_start=psi)


@bad_input(
    SOLVE,
    "a warm start whose exp overflows (first residual not finite)",
    DFTInputError,
    r"warm_start is unusable: its first residual is not finite \(particle \d+",
)
def solve_warm_start_overflows(rng, tmp_path):
    positions, cell = _system(rng)
    psi = rng.normal(size=len(positions))
    psi[int(rng.integers(len(positions)))] = 1e300
    _solve(positions, cell, warm_start=psi)


@bad_input(
    SOLVE,
    "a warm start of the wrong length",
    DFTInputError,
    r"warm_start must be a psi of shape \(6,\) \(one per particle\), got shape \(5,\)",
)
def solve_warm_start_wrong_length(rng, tmp_path):
    positions, cell = _system(rng)
    _solve(positions, cell, warm_start=rng.normal(size=len(positions) - 1))


@bad_input(
    SOLVE,
    "a NaN position",
    DFTInputError,
    r"positions contain NaN or infinite values: the first is particle \d+, component \d",
)
def solve_position_nan(rng, tmp_path):
    positions, cell = _system(rng)
    positions[int(rng.integers(len(positions))), int(rng.integers(3))] = np.nan
    _solve(positions, cell)


@bad_input(
    SOLVE,
    "two cores overlapping by more than half the smaller radius",
    CoreOverlapError,
    r"cores \d+ and \d+ overlap beyond contact",
)
def solve_cores_overlap(rng, tmp_path):
    positions, cell = _system(rng)
    positions[1] = positions[0] + rng.uniform(-1.5, 1.5, 3)
    _solve(positions, cell)


@bad_input(
    SOLVE, "a cell of shape (2, 3)", DFTInputError, r"cell must have shape \(3, 3\).*got \(2, 3\)"
)
def solve_cell_wrong_shape(rng, tmp_path):
    positions, cell = _system(rng)
    _solve(positions, cell[:2])


@bad_input(SOLVE, "a singular (flat) cell", DFTInputError, r"cell is singular")
def solve_cell_singular(rng, tmp_path):
    positions, cell = _system(rng)
    cell[2] = cell[0] + rng.uniform(0.5, 2.0) * cell[1]
    _solve(positions, cell)


@bad_input(
    SOLVE,
    "a type beyond the design's types",
    DFTInputError,
    r"types: particle \d+ has type 1, out of range for the design's 1 type",
)
def solve_type_out_of_range(rng, tmp_path):
    positions, cell = _system(rng)
    types = np.zeros(len(positions), np.int64)
    types[int(rng.integers(len(positions)))] = 1
    _solve(positions, cell, types=types)


@bad_input(
    DESIGN,
    "a negative core radius",
    DFTInputError,
    r"core_radius \(nm\) must be a finite number > 0",
)
def design_negative_radius(rng, tmp_path):
    PGNDesign(**{**ORACLE_ARGS, "core_radius": -rng.uniform(1.0, 5.0)})


@bad_input(
    DESIGN,
    "a non-positive core radius of one type",
    DFTInputError,
    r"core_radius \(nm\) of type 1 must be a finite number > 0",
)
def design_radius_of_one_type(rng, tmp_path):
    PGNDesign(**{**ORACLE_ARGS, "core_radius": (rng.uniform(3.0, 5.0), 0.0)})


@bad_input(
    DESIGN,
    "a grafting density of zero",
    DFTInputError,
    r"grafting_density \(chains/nm\^2\) must be a finite number > 0",
)
def design_zero_grafting_density(rng, tmp_path):
    PGNDesign(**{**ORACLE_ARGS, "grafting_density": 0.0})


@bad_input(
    DESIGN,
    "a chain shorter than one Kuhn segment",
    DFTInputError,
    r"chain_length must be at least 1 Kuhn segment",
)
def design_chain_too_short(rng, tmp_path):
    PGNDesign(**{**ORACLE_ARGS, "chain_length": rng.uniform(0.1, 0.9)})


@bad_input(
    DESIGN, "a NaN Kuhn length", DFTInputError, r"kuhn_length \(nm\) must be a finite number > 0"
)
def design_kuhn_length_nan(rng, tmp_path):
    PGNDesign(**{**ORACLE_ARGS, "kuhn_length": float("nan")})


@bad_input(
    DESIGN,
    "per-type values of different lengths",
    DFTInputError,
    r"core_radius has 2 types but grafting_density has 3",
)
def design_type_counts_differ(rng, tmp_path):
    PGNDesign(**{**ORACLE_ARGS, "core_radius": (4.0, 5.0), "grafting_density": (0.5, 0.6, 0.7)})
