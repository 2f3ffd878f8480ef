"""`TabulatedPair`: a pair potential per unordered type pair, tabulated on a radial grid.

The pair force f(r) = -dphi/dr (kT/nm) of each type pair is a linear spline through its
values at the knots r_0 = inner < r_1 < ... < r_{M-1} = cutoff (nm); the pair energy phi(r)
(kT) is its exact integral, phi(r) = int_r^cutoff f(s) ds, piecewise quadratic and
continuous, zero at and beyond the cutoff (the force may jump to zero there). Below `inner`
the first segment is continued: the force stays linear in r, the energy quadratic, finite
down to r = 0. The potential has no hard core of its own; wrap it in
:class:`pgnfast.dft.core_exclusion.CoreExclusion` for the DFT's core wall.

Type pairs are ordered (0, 0), (0, 1), ..., (0, T-1), (1, 1), ..., (T-1, T-1): row p of
`pair_forces` (P, M), P = T (T + 1) / 2. Each pair energy is split equally between its two
particles, so E_i depends only on particles within the cutoff: ``receptive_field = cutoff``.

Files (:meth:`TabulatedPair.save`, :meth:`TabulatedPair.load`) are JSON with the format
name, a version, the units {"length": "nm", "energy": "kT"}, the knots, the forces and
the fit report (:func:`pgnfast.systems.pgn.pair_fit.fit_pair_potential`).
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from ..errors import FileFormatError, InputError
from ..units import PGN, check_units
from ..validation import check_types
from .base import PotentialBase
from .pair import _as_numpy, half_pairs

FORMAT = "pgnfast.TabulatedPair"
VERSION = 1
UNITS = {"length": "nm", "energy": "kT", "forces": "kT/nm"}


class TabulatedPairInputError(InputError):
    """Bad input to a tabulated pair potential or its fit; the message names the argument."""


def type_pair_table(num_types: int) -> np.ndarray:
    """(T, T) int64: the row of `pair_forces` of each (unordered) type pair."""
    table = np.zeros((num_types, num_types), np.int64)
    rows, cols = np.triu_indices(num_types)
    table[rows, cols] = np.arange(len(rows))
    table[cols, rows] = np.arange(len(rows))
    return table


def types_from_pairs(num_pairs: int) -> int | None:
    """T with T (T + 1) / 2 == num_pairs, or None when there is none."""
    t = int(round((math.sqrt(8 * num_pairs + 1) - 1) / 2))
    return t if t >= 1 and t * (t + 1) // 2 == num_pairs else None


def hat_segments(knots: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(segment (E,) int64 in [0, M-2], offset r - knots[segment] (E,) nm) of distances r;
    r below knots[0] falls in segment 0 with a negative offset (linear continuation)."""
    segment = np.searchsorted(knots, r, side="right") - 1
    segment = np.clip(segment, 0, len(knots) - 2)
    return segment, r - knots[segment]


class TabulatedPair(PotentialBase):
    """Pair potential of T particle types from tabulated pair forces (see module docstring).

    knots: (M,) strictly increasing, M >= 2, knots[0] = inner >= 0, knots[-1] = cutoff, nm.
    pair_forces: (P, M) kT/nm, f = -dphi/dr at the knots, one row per unordered type pair
    (P = T (T + 1) / 2), or (M,) for one type. Bad values raise TabulatedPairInputError.
    ``fit_report`` (a dict or None) records how the forces were fitted; it is saved with the
    potential but is no part of its identity (Monte Carlo fingerprint).
    """

    fingerprint_exclude = ("fit_report",)

    def __init__(self, knots, pair_forces, *, fit_report: dict | None = None):
        knots = _float_array(knots, "knots")
        if knots.ndim != 1 or len(knots) < 2:
            raise TabulatedPairInputError(
                f"knots must be a 1-D array of at least 2 distances (nm), got shape {knots.shape}"
            )
        if not np.isfinite(knots).all():
            raise TabulatedPairInputError(
                f"knots must be finite: knots[{int(np.flatnonzero(~np.isfinite(knots))[0])}] "
                f"is {knots[~np.isfinite(knots)][0]}"
            )
        if knots[-1] <= knots[0]:
            raise TabulatedPairInputError(
                f"cutoff must be larger than inner: cutoff {knots[-1]:g} nm <= inner "
                f"{knots[0]:g} nm"
            )
        if knots[0] < 0 or np.any(np.diff(knots) <= 0):
            bad = int(np.flatnonzero(np.diff(knots) <= 0)[0]) + 1 if knots[0] >= 0 else 0
            raise TabulatedPairInputError(
                f"knots must increase strictly from inner >= 0 to the cutoff (nm): "
                f"knots[{bad}] = {knots[bad]:g}"
            )
        forces = _float_array(pair_forces, "pair_forces")
        if forces.ndim == 1:
            forces = forces[None]
        if forces.ndim != 2 or forces.shape[1] != len(knots):
            raise TabulatedPairInputError(
                f"pair_forces must be (P, {len(knots)}) (one row per type pair, one column "
                f"per knot), got shape {forces.shape}"
            )
        num_types = types_from_pairs(forces.shape[0])
        if num_types is None:
            raise TabulatedPairInputError(
                f"pair_forces has {forces.shape[0]} rows; one per unordered type pair makes "
                "T (T + 1) / 2 rows: 1, 3, 6, ..."
            )
        if not np.isfinite(forces).all():
            row, column = (int(x) for x in np.argwhere(~np.isfinite(forces))[0])
            raise TabulatedPairInputError(
                f"pair_forces must be finite: row {row} (type pair "
                f"{_pair_name(row, num_types)}), knot {column} is {forces[row, column]}"
            )
        self.knots = knots
        self.pair_forces = forces
        self.num_types = num_types
        self.inner = float(knots[0])
        self.cutoff = float(knots[-1])
        self.fit_report = fit_report
        self._widths = np.diff(knots)
        # phi at every knot: the integral of the force from the knot to the cutoff
        segment_integrals = 0.5 * self._widths * (forces[:, :-1] + forces[:, 1:])
        tails = np.zeros_like(forces)
        tails[:, :-1] = np.cumsum(segment_integrals[:, ::-1], axis=1)[:, ::-1]
        self._knot_energies = tails
        self._pair_table = type_pair_table(num_types)

    @classmethod
    def uniform(cls, inner: float, cutoff: float, pair_forces, **options) -> TabulatedPair:
        """Knots evenly spaced from `inner` to `cutoff` (nm), as many as pair_forces columns."""
        inner, cutoff = float(inner), float(cutoff)
        if not (math.isfinite(inner) and math.isfinite(cutoff) and inner >= 0):
            raise TabulatedPairInputError(
                f"inner and cutoff must be finite, inner >= 0 (nm), got inner={inner!r}, "
                f"cutoff={cutoff!r}"
            )
        if not cutoff > inner:
            raise TabulatedPairInputError(
                f"cutoff must be larger than inner: cutoff {cutoff:g} nm <= inner {inner:g} nm"
            )
        columns = np.shape(pair_forces)[-1] if np.ndim(pair_forces) else 0
        return cls(np.linspace(inner, cutoff, max(columns, 2)), pair_forces, **options)

    @property
    def receptive_field(self) -> float:  # nm
        return self.cutoff

    def pair_index(self, type_a, type_b) -> np.ndarray:
        """Row of `pair_forces` of the type pairs (type_a, type_b) (ints or arrays)."""
        return self._pair_table[np.asarray(type_a, np.int64), np.asarray(type_b, np.int64)]

    def _terms(self, r: np.ndarray, pair: np.ndarray):
        """(phi (E,) kT, f (E,) kT/nm) of pairs at distances r < cutoff in rows `pair`."""
        segment, offset = hat_segments(self.knots, r)
        width = self._widths[segment]
        f0 = self.pair_forces[pair, segment]
        slope = (self.pair_forces[pair, segment + 1] - f0) / width
        force = f0 + slope * offset
        remaining = width - offset
        energy = self._knot_energies[pair, segment + 1] + remaining * (
            f0 + 0.5 * slope * (width + offset)
        )
        return energy, force

    def _checked_pair_args(self, r, type_a, type_b):
        r = np.asarray(r, dtype=np.float64)
        for name, value in (("type_a", type_a), ("type_b", type_b)):
            value = np.asarray(value)
            if value.dtype.kind not in "iu" or np.any(value < 0) or np.any(value >= self.num_types):
                raise TabulatedPairInputError(
                    f"{name} must be integer types in 0..{self.num_types - 1}, got {value!r}"
                )
        r, a, b = np.broadcast_arrays(r, np.asarray(type_a), np.asarray(type_b))
        return r, self.pair_index(a, b), r < self.cutoff

    def pair_energy(self, r, type_a=0, type_b=0) -> np.ndarray:
        """phi(r), kT, of type pair (type_a, type_b) at distances r (nm); 0 for r >= cutoff."""
        r, pair, inside = self._checked_pair_args(r, type_a, type_b)
        out = np.zeros(r.shape)
        out[inside] = self._terms(r[inside], pair[inside])[0]
        return out

    def pair_force(self, r, type_a=0, type_b=0) -> np.ndarray:
        """f(r) = -dphi/dr, kT/nm (> 0 repulsive), of type pair (type_a, type_b) at r (nm)."""
        r, pair, inside = self._checked_pair_args(r, type_a, type_b)
        out = np.zeros(r.shape)
        out[inside] = self._terms(r[inside], pair[inside])[1]
        return out

    def _types(self, types, n: int) -> np.ndarray:
        if types is None:
            if self.num_types > 1:
                raise TabulatedPairInputError(
                    f"types is None, but this potential has {self.num_types} particle types: "
                    "give types (N,)"
                )
            return np.zeros(n, np.int64)
        if hasattr(types, "detach"):
            types = types.detach().cpu().numpy()
        try:
            return check_types(types, n, self.num_types, name="types")
        except TabulatedPairInputError:
            raise
        except InputError as error:
            raise TabulatedPairInputError(str(error)) from error

    def _evaluate(self, positions, cell, types, pbc):
        """(per-particle energies (N,) kT, forces (N, 3) kT/nm float64, back-converter)."""
        pos, back = _as_numpy(positions)
        n = len(pos)
        kinds = self._types(types, n)
        i, j, vectors, r = half_pairs(pos, cell, self.cutoff, pbc)
        energy, force = self._terms(r, self._pair_table[kinds[i], kinds[j]])
        half = 0.5 * energy
        energies = np.bincount(i, half, n) + np.bincount(j, half, n)
        with np.errstate(invalid="ignore", divide="ignore"):  # coincident particles: NaN
            pair_forces = (force / r)[:, None] * vectors  # on j; -that on i
        forces = np.zeros((n, 3))
        for axis in range(3):
            forces[:, axis] = np.bincount(j, pair_forces[:, axis], n) - np.bincount(
                i, pair_forces[:, axis], n
            )
        return energies, forces, back

    def energies(self, positions, cell, types=None, pbc=True) -> np.ndarray:
        """Per-particle energies (N,), kT: half of every pair energy to each partner."""
        return self._evaluate(positions, cell, types, pbc)[0]

    def energy_forces(self, positions, cell, types=None, pbc=True):
        """(total energy kT, forces (N, 3) kT/nm of the same kind as positions)."""
        energies, forces, back = self._evaluate(positions, cell, types, pbc)
        return float(np.sum(energies)), back(forces)

    def energies_forces_batch(self, systems) -> list:
        """[(energies (N,) kT, forces (N, 3) kT/nm)] of systems (positions, cell, types, pbc),
        one neighbour search each (hybrid Monte Carlo)."""
        return [self._evaluate(*system[:4])[:2] for system in systems]

    # ---- files ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The JSON record of the potential (what :meth:`save` writes)."""
        rows, cols = np.triu_indices(self.num_types)
        return {
            "format": FORMAT,
            "version": VERSION,
            "units": dict(UNITS),
            "num_types": self.num_types,
            "type_pairs": [[int(a), int(b)] for a, b in zip(rows, cols)],
            "knots": self.knots.tolist(),
            "pair_forces": self.pair_forces.tolist(),
            "fit_report": self.fit_report,
        }

    def save(self, path) -> None:
        """Write the potential to `path` as JSON (atomically: a temporary file, renamed)."""
        path = os.fspath(path)
        temporary = f"{path}.tmp{os.getpid()}"
        with open(temporary, "w") as handle:
            json.dump(self.to_dict(), handle, indent=1, allow_nan=False)
        os.replace(temporary, path)

    @classmethod
    def load(cls, path, *, units="pgn") -> TabulatedPair:
        """Read a file written by :meth:`save`. A missing, damaged or other kind of file
        raises FileFormatError naming the path; units other than `units` (a system name or
        dict; default "pgn": nm, kT) raise UnitsError."""
        path = os.fspath(path)
        try:
            with open(path) as handle:
                record = json.load(handle)
        except OSError as error:
            raise FileFormatError(
                f"cannot read tabulated pair file {path}: {error.strerror or error}"
            ) from error
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise FileFormatError(
                f"{path} is not a tabulated pair potential file (not JSON: {error}); "
                "such files are written by TabulatedPair.save"
            ) from error
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            kind = record.get("format") if isinstance(record, dict) else type(record).__name__
            raise FileFormatError(
                f"{path} is not a tabulated pair potential file: its format is {kind!r}, "
                f"expected {FORMAT!r}"
            )
        if not isinstance(record.get("version"), int) or record["version"] > VERSION:
            raise FileFormatError(
                f"{path} has format version {record.get('version')!r}; this pgnfast reads "
                f"versions up to {VERSION}"
            )
        check_units(record.get("units"), PGN if units is None else units, f"file {path}")
        try:
            potential = cls(
                record["knots"], record["pair_forces"], fit_report=record.get("fit_report")
            )
        except (KeyError, InputError) as error:
            raise FileFormatError(f"{path} is damaged: {error}") from error
        if record.get("num_types") != potential.num_types:
            raise FileFormatError(
                f"{path} is damaged: it says {record.get('num_types')!r} types but holds "
                f"{potential.num_types}"
            )
        return potential

    def __repr__(self):
        return (
            f"TabulatedPair(types={self.num_types}, knots={len(self.knots)}, "
            f"inner={self.inner:g} nm, cutoff={self.cutoff:g} nm)"
        )


def _float_array(values, name: str) -> np.ndarray:
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TabulatedPairInputError(f"{name} must be an array of numbers: {error}") from error


def _pair_name(row: int, num_types: int) -> str:
    rows, cols = np.triu_indices(num_types)
    return f"({rows[row]}, {cols[row]})"


__all__ = ["TabulatedPair", "TabulatedPairInputError", "hat_segments", "type_pair_table"]
