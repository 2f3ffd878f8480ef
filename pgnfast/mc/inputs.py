"""Input checks and set-up of the parallel-tempering engine: the ladder, the box, the start
configurations, the move mode (local, checkerboard or full recomputation) and step sizes.

Every check raises :class:`MonteCarloInputError` (a :class:`pgnfast.errors.InputError`)
naming the argument, the problem and the first bad entry. Units: nm, kT.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..errors import InputError
from ..geometry import check_cell, face_widths
from ..potentials.fingerprint import num_types_of
from ..validation import check_finite, check_probability, check_seed, check_types
from .checkerboard import Checkerboard, CheckerboardError
from .errors import MonteCarloInputError
from .local import full_energies

PROTOCOL = ("energies_batch", "energies", "receptive_field")

__all__ = ["MonteCarloInputError"]  # and the check_* functions below


def _reraise(error: InputError) -> MonteCarloInputError:
    return MonteCarloInputError(str(error))


def check_potential(potential) -> float:
    """The potential's receptive field (nm, >= 0 or inf) after checking the protocol."""
    for name in PROTOCOL:
        if not hasattr(potential, name):
            raise TypeError(f"potential lacks {name!r}; see pgnfast.potentials.base")
    field_nm = float(potential.receptive_field)
    if math.isnan(field_nm) or field_nm < 0:
        raise MonteCarloInputError(f"receptive_field must be >= 0 nm, got {field_nm}")
    return field_nm


def check_temperatures(temperatures) -> np.ndarray:
    """(K,) float64 ladder: finite, positive, strictly increasing (kT units)."""
    try:
        temperatures = np.asarray(temperatures, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise MonteCarloInputError(f"temperatures must be numbers, got {temperatures!r}") from error
    if temperatures.ndim != 1 or len(temperatures) < 1:
        raise MonteCarloInputError("temperatures must be a non-empty 1-D sequence")
    bad = ~np.isfinite(temperatures) | (temperatures <= 0)
    if bad.any():
        t = int(np.flatnonzero(bad)[0])
        raise MonteCarloInputError(
            f"temperatures must be finite and positive: temperatures[{t}] = {temperatures[t]} "
            f"in {temperatures.tolist()}"
        )
    if np.any(np.diff(temperatures) <= 0):
        raise MonteCarloInputError(
            f"temperatures must be strictly increasing, got {temperatures.tolist()}"
        )
    return temperatures


def check_box(cell) -> np.ndarray:
    """(3, 3) float64 periodic cell (nm): finite and not singular relative to its size."""
    try:
        return check_cell(cell, (True, True, True), name="cell")
    except InputError as error:
        raise _reraise(error) from error


def check_start(positions, k: int) -> np.ndarray:
    """(K, N, 3) float64 start positions (nm) from (N, 3) (shared) or (K, N, 3)."""
    try:
        positions = np.asarray(positions, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise MonteCarloInputError("positions must be an array of numbers (nm)") from error
    if positions.ndim == 2:
        positions = np.broadcast_to(positions, (k,) + positions.shape)
    if positions.ndim != 3 or positions.shape[0] != k or positions.shape[2] != 3:
        raise MonteCarloInputError(
            f"positions must be (N, 3) or (K={k}, N, 3), got {positions.shape}"
        )
    bad = ~np.isfinite(positions)
    if bad.any():
        replica, particle, _ = (int(x) for x in np.argwhere(bad)[0])
        raise MonteCarloInputError(
            f"positions contain NaN or infinite values (first: particle {particle} of "
            f"replica {replica})"
        )
    if positions.shape[1] < 1:
        raise MonteCarloInputError("need at least one particle")
    return positions


def check_particle_types(types, n: int, potential):
    """(N,) int64 types or None; refuses floats that are not whole numbers and types the
    potential does not have (when it tells its number of types)."""
    if types is None:
        return None
    try:
        return check_types(types, n, num_types_of(potential), name="types")
    except InputError as error:
        raise _reraise(error) from error


def check_settings(
    *, seed, moves_per_sweep, n: int, equilibration_sweeps, target_acceptance, exchange_every
) -> dict:
    """The integer and probability settings, checked (seed >= 0, moves >= 1, ...)."""
    try:
        seed = check_seed(seed, "seed")
        target = check_probability(target_acceptance, "target_acceptance")
    except InputError as error:
        raise _reraise(error) from error
    moves = n if moves_per_sweep is None else whole_number(moves_per_sweep, "moves_per_sweep")
    if moves < 1:
        raise MonteCarloInputError("moves_per_sweep must be at least 1")
    equilibration = whole_number(equilibration_sweeps, "equilibration_sweeps")
    if equilibration < 0:
        raise MonteCarloInputError(f"equilibration_sweeps must be >= 0, got {equilibration}")
    return {
        "seed": seed,
        "moves_per_sweep": moves,
        "equilibration_sweeps": equilibration,
        "target_acceptance": target,
        "exchange_every": max(1, whole_number(exchange_every, "exchange_every")),
    }


def whole_number(value, name: str) -> int:
    """`value` as an int when it is a real whole number (no bools, strings or NaN)."""
    whole = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if not whole or not float(value).is_integer():
        raise MonteCarloInputError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def check_overlaps(positions: np.ndarray, cell: np.ndarray, core_diameter: float) -> None:
    """Refuse a start whose cores (diameter nm) overlap, naming the closest pair."""
    from pgnfast.potentials.pair import half_pairs

    i, j, _, distances = half_pairs(positions, cell, core_diameter, True)
    if len(i):
        worst = int(np.argmin(distances))
        raise MonteCarloInputError(
            f"overlapping cores: particles {int(i[worst])} and {int(j[worst])} are "
            f"{distances[worst]:.4g} nm apart, closer than the core diameter "
            f"{core_diameter:g} nm ({len(i)} overlapping pairs)"
        )


def initial_energies(potential, positions, owned, cell, types, given=None) -> list[np.ndarray]:
    """Per-particle energies (N,) kT of the held replicas: computed in one batched call, or
    taken from `given` (a checkpoint); refuses a wrong count and non-finite values."""
    n = positions.shape[1]
    if given is None:
        energies = full_energies(potential, [positions[r] for r in owned], cell, types)
        if len(energies) != len(owned):
            raise MonteCarloInputError(
                f"potential.energies_batch returned {len(energies)} results for "
                f"{len(owned)} systems"
            )
    else:
        energies = [np.asarray(given[r], dtype=np.float64) for r in owned]
    for r, e in zip(owned, energies):
        if e.shape != (n,):
            raise MonteCarloInputError(
                f"the potential returned {e.size} energies for {n} particles (replica {r}; "
                f"energies_batch must give one energy per particle, shape ({n},))"
            )
        try:
            check_finite(e, f"energies of replica {r}")
        except InputError as error:
            raise MonteCarloInputError(
                f"initial energy of replica {r} is not finite (overlapping particles or "
                f"a configuration outside the potential's domain): {error}"
            ) from error
    return energies


def choose_board(cell: np.ndarray, field_nm: float, n: int, checkerboard):
    """(board or None, full_recompute): how moves are evaluated for this box and field."""
    volume = abs(np.linalg.det(cell))
    cluster_volume = 4.0 / 3.0 * math.pi * (2.0 * field_nm) ** 3
    full_recompute = math.isinf(field_nm) or cluster_volume >= volume
    board = None
    if isinstance(checkerboard, (bool, np.bool_)):
        checkerboard = bool(checkerboard)
    elif not (isinstance(checkerboard, str) and checkerboard == "auto"):
        raise MonteCarloInputError(
            f"checkerboard must be 'auto', True or False, got {checkerboard!r}"
        )
    if checkerboard is True:
        if math.isinf(field_nm):
            raise CheckerboardError("checkerboard moves need a finite receptive field")
        board = Checkerboard(cell, field_nm, n)
        full_recompute = False
    elif checkerboard == "auto" and not full_recompute:
        try:
            candidate = Checkerboard(cell, field_nm, n)
        except CheckerboardError:
            candidate = None
        if candidate is not None and candidate.useful:
            board = candidate
    return board, full_recompute


def typical_spacing(positions: np.ndarray, cell: np.ndarray) -> float:
    """Median nearest-neighbour distance (nm), ignoring the box (a quarter of the smallest
    face width for a single particle)."""
    from scipy.spatial import cKDTree

    if len(positions) < 2:
        return float(face_widths(cell).min()) / 4
    distances, _ = cKDTree(positions).query(positions, k=2)
    return float(np.median(distances[:, 1]))


def initial_steps(step_size, first: np.ndarray, cell: np.ndarray, k: int, board):
    """(auto, steps (K,) nm, max_step nm): explicit steps are frozen and kept as given;
    "auto" starts at 0.1 x the typical spacing, clipped to max_step."""
    max_step = 0.25 * float(face_widths(cell).min())
    if board is not None:
        max_step = min(max_step, 0.5 * float(board.cell_widths.min()))
    auto = isinstance(step_size, str)
    if auto:
        if step_size != "auto":
            raise MonteCarloInputError(f"step_size must be 'auto' or nm, got {step_size!r}")
        steps = np.full(k, 0.1 * typical_spacing(first, cell))
        return True, np.minimum(steps, max_step), max_step
    try:
        steps = np.broadcast_to(np.asarray(step_size, dtype=np.float64), (k,)).copy()
    except (TypeError, ValueError) as error:
        raise MonteCarloInputError(
            f"step_size must be 'auto', a number or {k} numbers (nm), got {step_size!r}"
        ) from error
    if not np.all(np.isfinite(steps)) or np.any(steps <= 0):
        raise MonteCarloInputError("step sizes must be positive and finite (nm)")
    return False, steps, max_step
