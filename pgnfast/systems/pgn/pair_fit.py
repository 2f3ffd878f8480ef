"""The best pair potential fitted to labeled forces: `fit_pair_potential` (units nm, kT).

The pair force of every unordered type pair is a linear spline on evenly spaced knots from
`inner` to the cutoff (see :class:`pgnfast.potentials.TabulatedPair`); its coefficients are
fitted by least squares to every force component of the frames, one block of coefficients
per type pair. The result is a Monte Carlo potential: the many-body model (NequIP) can be
compared against the best pair model on equal terms (issue 17).
"""

from __future__ import annotations

import math

import numpy as np

from pgnfast.errors import InputError
from pgnfast.potentials.pair import half_pairs
from pgnfast.potentials.tabulated import (
    TabulatedPair,
    TabulatedPairInputError,
    hat_segments,
    type_pair_table,
)
from pgnfast.validation import read_type_column


def fit_pair_potential(
    frames,
    cutoff: float,
    *,
    knots: int = 40,
    inner: float | None = None,
    num_types: int | None = None,
    ridge: float = 1e-8,
    zero_force_at_cutoff: bool = False,
    validation_frames=None,
) -> TabulatedPair:
    """Least-squares pair forces per type pair, as a :class:`TabulatedPair`.

    frames: labeled ase.Atoms (positions and cell nm, forces kT/nm in ``arrays["forces"]``
    or a calculator's results, types in the ``type`` column; none for one type).
    cutoff: nm. knots: spline knots per type pair (>= 2), evenly spaced from `inner`
    (default: the smallest pair distance in the frames) to the cutoff. num_types: default
    the largest type seen + 1. ridge: weight, relative to the mean diagonal of the normal
    matrix, of a penalty on the second differences of each pair's force values: negligible
    where there is data, it continues the force linearly over knots without data (0: plain
    least squares, minimum-norm where undetermined). zero_force_at_cutoff: pin f(cutoff) = 0
    (the force is then continuous at the cutoff). validation_frames: held-out frames.

    The returned potential's ``fit_report`` holds "fit" and "held-out" (relative RMS force
    residual: sqrt(sum |F_pair - F|^2 / sum |F|^2), held-out None without validation
    frames), the sizes, the pair counts per type pair and the knots that got no data.
    """
    frames = _frame_list(frames, "frames")
    validation = (
        [] if validation_frames is None else _frame_list(validation_frames, "validation_frames")
    )
    cutoff = _positive(cutoff, "cutoff")
    if isinstance(knots, bool) or not isinstance(knots, (int, np.integer)) or knots < 2:
        raise TabulatedPairInputError(f"knots must be an integer >= 2, got {knots!r}")
    ridge = _positive(ridge, "ridge", allow_zero=True)
    if num_types is None:
        num_types = 1 + max(
            int(_types(atoms, None, k, "frames").max(initial=0)) for k, atoms in enumerate(frames)
        )
    elif (
        isinstance(num_types, bool) or not isinstance(num_types, (int, np.integer)) or num_types < 1
    ):
        raise TabulatedPairInputError(f"num_types must be an integer >= 1, got {num_types!r}")
    num_types = int(num_types)
    if inner is None:  # a first pass for the smallest distance
        distances = (_pairs(atoms, cutoff, num_types, k)[3] for k, atoms in enumerate(frames))
        seen = [float(r.min()) for r in distances if len(r)]
        if not seen:
            raise TabulatedPairInputError(
                f"no two particles of the frames are closer than cutoff {cutoff:g} nm"
            )
        inner = max(0.0, min(seen) - 1e-6)
    inner = _positive(inner, "inner", allow_zero=True)
    if not inner < cutoff:
        raise TabulatedPairInputError(
            f"cutoff must be larger than inner: cutoff {cutoff:g} nm <= inner {inner:g} nm"
        )
    grid = np.linspace(inner, cutoff, int(knots))
    table = type_pair_table(num_types)
    num_pairs = num_types * (num_types + 1) // 2
    columns = num_pairs * len(grid)

    normal = np.zeros((columns, columns))
    moment = np.zeros(columns)
    pair_counts = np.zeros(num_pairs, np.int64)
    for k, atoms in enumerate(frames):
        pairs = _pairs(atoms, cutoff, num_types, k)
        design = _design_matrix(grid, table, num_pairs, pairs, len(atoms))
        normal += design.T @ design
        moment += design.T @ _forces(atoms, k, "frames").ravel()
        i, j, _, _, kinds = pairs
        pair_counts += np.bincount(table[kinds[i], kinds[j]], minlength=num_pairs)
    empty = np.flatnonzero(pair_counts == 0)
    if len(empty):
        rows, cols = np.triu_indices(num_types)
        raise TabulatedPairInputError(
            f"type pair ({rows[empty[0]]}, {cols[empty[0]]}) has no pairs closer than the cutoff "
            f"{cutoff:g} nm in the frames: its pair force cannot be fitted"
        )
    free = np.ones((num_pairs, len(grid)), bool)
    if zero_force_at_cutoff:
        free[:, -1] = False
    free = free.ravel()
    coefficients = np.zeros(columns)
    system = normal[np.ix_(free, free)]
    if ridge > 0 and len(grid) > 2:
        scale = float(np.mean(np.diag(system)))
        system = (
            system + ridge * scale * _curvature_penalty(num_pairs, len(grid))[np.ix_(free, free)]
        )
    coefficients[free] = np.linalg.lstsq(system, moment[free], rcond=None)[0]
    unsupported = np.diag(normal).reshape(num_pairs, len(grid)) == 0
    potential = TabulatedPair(grid, coefficients.reshape(num_pairs, len(grid)))
    rows, cols = np.triu_indices(num_types)
    potential.fit_report = {
        "fit": force_residual(potential, frames),
        "held-out": force_residual(potential, validation) if validation else None,
        "frames": len(frames),
        "validation_frames": len(validation),
        "cutoff": cutoff,
        "inner": inner,
        "knots": int(knots),
        "ridge": ridge,
        "zero_force_at_cutoff": bool(zero_force_at_cutoff),
        "pairs": {f"{a}-{b}": int(c) for a, b, c in zip(rows, cols, pair_counts)},
        "knots_without_data": {
            f"{a}-{b}": np.flatnonzero(unsupported[p]).tolist()
            for p, (a, b) in enumerate(zip(rows, cols))
            if unsupported[p].any()
        },
    }
    return potential


def force_residual(potential, frames) -> float:
    """Relative RMS force residual of `potential` on labeled frames:
    sqrt(sum |F_model - F|^2 / sum |F|^2) over every particle of every frame."""
    frames = _frame_list(frames, "frames")
    squared_error = squared_norm = 0.0
    num_types = getattr(potential, "num_types", None)
    for k, atoms in enumerate(frames):
        target = _forces(atoms, k, "frames")
        types = _types(atoms, num_types, k, "frames")
        _, predicted = potential.energy_forces(atoms.positions, atoms.cell[:], types, _pbc(atoms))
        squared_error += float(np.sum((np.asarray(predicted) - target) ** 2))
        squared_norm += float(np.sum(target**2))
    return math.sqrt(squared_error / squared_norm) if squared_norm > 0 else math.nan


def _design_matrix(grid, table, num_pairs, pairs, n) -> np.ndarray:
    """(3 n, P M): force component (particle, axis) per spline coefficient (pair, knot).

    Pair (i, j) with force value f along u = (r_j - r_i)/r pushes j by f u and i by -f u;
    f(r) = (1 - w) c[pair, s] + w c[pair, s + 1] on segment s with w = offset / width."""
    i, j, vectors, r, kinds = pairs
    design = np.zeros((3 * n, num_pairs * len(grid)))
    if not len(r):
        return design
    segment, offset = hat_segments(grid, r)
    weight = offset / np.diff(grid)[segment]
    first = table[kinds[i], kinds[j]] * len(grid) + segment
    columns = np.stack([first, first + 1], axis=1)  # (E, 2): the two knots of the segment
    weights = np.stack([1.0 - weight, weight], axis=1)  # (E, 2)
    unit = vectors / r[:, None]  # (E, 3)
    rows = np.stack([j, i])[:, :, None, None] * 3 + np.arange(3)  # (2 ends, E, 1, 3 axes)
    values = (
        np.array([1.0, -1.0])[:, None, None, None]
        * weights[None, :, :, None]
        * unit[None, :, None, :]
    )
    rows, cols, values = np.broadcast_arrays(rows, columns[None, :, :, None], values)
    np.add.at(design, (rows.ravel(), cols.ravel()), values.ravel())
    return design


def _curvature_penalty(num_pairs: int, num_knots: int) -> np.ndarray:
    """(P M, P M): block-diagonal D^T D, D the second differences of each pair's knots."""
    second = np.diff(np.eye(num_knots), n=2, axis=0)
    return np.kron(np.eye(num_pairs), second.T @ second)


def _pairs(atoms, cutoff, num_types, index):
    """(i, j, vectors, distances, types) of frames[index] within the cutoff."""
    kinds = _types(atoms, num_types, index, "frames")
    i, j, vectors, r = half_pairs(
        np.asarray(atoms.positions, np.float64), atoms.cell[:], cutoff, _pbc(atoms)
    )
    return i, j, vectors, r, kinds


def _pbc(atoms) -> tuple[bool, bool, bool]:
    return tuple(bool(x) for x in np.broadcast_to(atoms.pbc, 3))


def _types(atoms, num_types, index, name) -> np.ndarray:
    try:
        return read_type_column(atoms, num_types)
    except InputError as error:
        raise TabulatedPairInputError(f"{name}[{index}]: {error}") from error


def _forces(atoms, index, name) -> np.ndarray:
    forces = None
    for key in ("forces", "force"):
        if key in atoms.arrays:
            forces = atoms.arrays[key]
            break
    if forces is None and atoms.calc is not None:
        forces = getattr(atoms.calc, "results", {}).get("forces")
    if forces is None:
        raise TabulatedPairInputError(f"{name}[{index}] has no forces (kT/nm): nothing to fit")
    forces = np.asarray(forces, dtype=np.float64)
    if forces.shape != (len(atoms), 3) or not np.isfinite(forces).all():
        raise TabulatedPairInputError(
            f"{name}[{index}] forces must be finite with shape ({len(atoms)}, 3), "
            f"got {forces.shape}"
        )
    return forces


def _frame_list(frames, name) -> list:
    frames = [frames] if hasattr(frames, "positions") else list(frames)
    if not frames:
        raise TabulatedPairInputError(f"{name} is empty: need labeled ase.Atoms frames")
    for k, atoms in enumerate(frames):
        if not hasattr(atoms, "positions") or not hasattr(atoms, "cell"):
            raise TabulatedPairInputError(f"{name}[{k}] is {type(atoms).__name__}, not ase.Atoms")
    return frames


def _positive(value, name, *, allow_zero=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TabulatedPairInputError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise TabulatedPairInputError(f"{name} must be a finite number {bound}, got {value!r}")
    return value


__all__ = ["fit_pair_potential", "force_residual"]
