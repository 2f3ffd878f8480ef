"""Input checks of `pgnfast.dft.solve` (units: nm, kT). Every refusal is a `DFTInputError`
whose message names the argument, the problem and the first bad index.

The shared checks (pgnfast.geometry, pgnfast.validation) raise `InputError`; `dft_errors()`
re-raises them as `DFTInputError` with the same message, so callers catch one class.
"""

from __future__ import annotations

import math
import numbers
from contextlib import contextmanager

import numpy as np

from pgnfast.errors import InputError
from pgnfast.geometry import check_cell
from pgnfast.validation import check_probability, check_types

from . import config
from .design import PGNDesign
from .errors import DFTInputError

METHODS = ("anderson", "newton")


@contextmanager
def dft_errors():
    """Re-raise a shared check's InputError as DFTInputError (same message)."""
    try:
        yield
    except DFTInputError:
        raise
    except InputError as error:
        raise DFTInputError(str(error)) from error


def _float_array(value, name: str, expected: str) -> np.ndarray:
    """`value` as a new float64 array; refuses what is no array of numbers."""
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DFTInputError(f"{name} must be {expected}, got {type(value).__name__}") from error


def check_positions(positions) -> np.ndarray:
    """(N, 3) finite float64 core centres (nm), N >= 2, as a fresh copy."""
    pos = _float_array(positions, "positions", "an (N, 3) array of numbers (nm)")
    if pos.ndim != 2 or pos.shape[1] != 3 or len(pos) < 2:
        raise DFTInputError(f"positions must be (N, 3) with N >= 2 (nm), got shape {pos.shape}")
    bad = ~np.isfinite(pos)
    if bad.any():
        i, c = np.argwhere(bad)[0]
        raise DFTInputError(
            f"positions contain NaN or infinite values: the first is particle {i}, "
            f"component {c} ({pos[i, c]})"
        )
    return pos


def check_particle_types(types, n: int, design: PGNDesign) -> np.ndarray:
    """(N,) int64 types indexing the design's per-type values; None means all type 0 and is
    allowed only for a one-type design."""
    if types is None:
        if design.n_types != 1:
            raise DFTInputError(
                f"types is None but the design has {design.n_types} particle types: pass types"
            )
        return np.zeros(n, np.int64)
    with dft_errors():
        kinds = check_types(types, n, name="types")
    bad = kinds >= design.n_types
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DFTInputError(
            f"types: particle {i} has type {kinds[i]}, out of range for the design's "
            f"{design.n_types} type(s) (0..{design.n_types - 1})"
        )
    return kinds


def check_spacing(spacing, radius: np.ndarray) -> float:
    """The grid spacing h (nm): a_min / 3 by default, else a positive length <= a_min."""
    if spacing is None:
        return radius.min() / 3
    if isinstance(spacing, (bool, np.bool_)) or not isinstance(spacing, numbers.Real):
        raise DFTInputError(f"spacing must be a positive length in nm, got {spacing!r}")
    h = float(spacing)
    if not math.isfinite(h) or h <= 0:
        raise DFTInputError(f"spacing must be a positive length in nm, got {spacing!r}")
    if h > config.MAX_SPACING_OVER_RADIUS * radius.min():
        raise DFTInputError(
            f"spacing {h:.3g} nm is coarser than the smallest core radius "
            f"{radius.min():.3g} nm: the cores would not be resolved"
        )
    return h


def check_inputs(positions, cell, design, types, spacing, tol):
    """(positions (N, 3), cell (3, 3), types (N,), spacing h nm, tol) checked."""
    if not isinstance(design, PGNDesign):
        raise DFTInputError(f"design must be a PGNDesign, got {type(design).__name__}")
    pos = check_positions(positions)
    with dft_errors():
        box = check_cell(cell, (True, True, True), name="cell")
        tol = check_probability(tol, "tol")
    kinds = check_particle_types(types, len(pos), design)
    radius, _ = design.per_particle(kinds)
    return pos, box, kinds, check_spacing(spacing, radius), tol


def check_settings(method, max_iterations):
    """(method, iteration limit): the dual solver's name and a whole number >= 0."""
    method = config.DEFAULT_METHOD if method is None else method
    if method not in METHODS:
        raise DFTInputError(f"method must be 'anderson' or 'newton', got {method!r}")
    if max_iterations is None:
        return method, config.MAX_ITERATIONS
    if (
        isinstance(max_iterations, (bool, np.bool_))
        or not isinstance(max_iterations, numbers.Real)
        or not math.isfinite(max_iterations)
        or max_iterations < 0
        or max_iterations != int(max_iterations)
    ):
        raise DFTInputError(f"max_iterations must be a whole number >= 0, got {max_iterations!r}")
    return method, int(max_iterations)


def check_warm_start(warm_start, n: int) -> np.ndarray:
    """A warm start psi (N,): finite, of the particles' number."""
    psi = _float_array(warm_start, "warm_start", f"a psi array of shape ({n},)")
    if psi.shape != (n,):
        raise DFTInputError(
            f"warm_start must be a psi of shape ({n},) (one per particle), got shape {psi.shape}"
        )
    bad = ~np.isfinite(psi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DFTInputError(f"warm_start must be finite: psi[{i}] = {psi[i]}")
    return psi


def check_start(psi: np.ndarray, filled: np.ndarray, omega: np.ndarray, warm: bool) -> None:
    """Refuse a start psi whose first dual evaluation is unusable: exp(psi) over- or
    underflows, so some particle gets no, infinite or NaN polymer volume `filled` (nm^3)."""
    with np.errstate(all="ignore"):
        ratio = np.log(omega / filled)
    bad = ~(np.isfinite(ratio) & np.isfinite(filled))
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    what = "warm_start" if warm else "the cold start psi = ln(w_i)"
    raise DFTInputError(
        f"{what} is unusable: its first residual is not finite (particle {i}: psi = "
        f"{psi[i]:.4g} after removing the mean gives polymer volume {filled[i]:.4g} nm^3 for "
        f"a target of {omega[i]:.4g} nm^3: exp(psi) over- or underflows); pass the psi of a "
        f"previous solve of the same particles, or no warm start"
    )
