"""Checkerboard batches: many exact moves of one replica proposed at the same time.

The box is cut into m_a slabs per axis (m_a even, or 1), with a random fractional offset
drawn afresh for every batch. One colour of a 2x2x2 colouring is active; in every occupied
active cell one particle, chosen uniformly, gets a trial displacement that is rejected if it
leaves the cell. Active cells are separated by a whole inactive cell wider than twice the
receptive field, so no per-particle energy depends on two moved particles: each move is
accepted on its own energy difference, exactly, and detailed balance holds (the cell's
population cannot change, so the choice of particle is symmetric).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..geometry import face_widths


class CheckerboardError(InputError):
    """The box is too small for checkerboard moves with this receptive field."""


class Checkerboard:
    """Grid of checkerboard cells for a box (3, 3) nm and receptive field R (nm).

    min_width: smallest allowed cell width, nm (must exceed 2R; default 2R, and at least
    about two particles per cell).
    """

    def __init__(
        self,
        cell: np.ndarray,
        receptive_field: float,
        num_particles: int,
        min_width: float | None = None,
    ):
        self.cell = np.asarray(cell, dtype=np.float64)
        self.inverse_cell = np.linalg.inv(self.cell)
        widths = face_widths(self.cell)
        field = float(receptive_field)
        if not np.isfinite(field):
            raise CheckerboardError(
                "checkerboard moves need a finite receptive field; this potential is global"
            )
        if np.any(widths <= 2.0 * field):
            raise CheckerboardError(
                f"box face widths {np.round(widths, 4).tolist()} nm must all exceed twice the "
                f"receptive field (2 x {field:g} nm) for checkerboard moves"
            )
        spacing = (abs(np.linalg.det(self.cell)) / max(num_particles, 1)) ** (1.0 / 3.0)
        floor = max(2.0 * field * (1.0 + 1e-9), 1.26 * spacing)
        if min_width is not None:
            floor = max(floor, float(min_width))
        per_axis = np.floor(widths / floor).astype(np.int64)
        per_axis = np.where(per_axis >= 2, per_axis - per_axis % 2, 1)
        self.cells_per_axis = per_axis
        self.cell_widths = widths / per_axis
        self.active_per_batch = int(np.prod(np.where(per_axis >= 2, per_axis // 2, 1)))

    @property
    def useful(self) -> bool:
        """True when a batch holds more than one move."""
        return self.active_per_batch > 1

    def _cell_index(self, positions: np.ndarray, offset: np.ndarray) -> np.ndarray:
        frac = positions @ self.inverse_cell + offset
        frac -= np.floor(frac)
        return np.minimum((frac * self.cells_per_axis).astype(np.int64), self.cells_per_axis - 1)

    def choose(self, positions: np.ndarray, rng: np.random.Generator):
        """Draw an offset and a colour; pick one particle per occupied active cell.

        Returns (particles (M,) int64, offset (3,)) ; draws from rng in a fixed order.
        """
        offset = rng.random(3)
        colour = rng.integers(0, 2, size=3)
        keys = rng.random(len(positions))
        index = self._cell_index(positions, offset)
        split = self.cells_per_axis >= 2
        active = np.all(~split | (index % 2 == colour), axis=1)
        candidates = np.flatnonzero(active)
        m = self.cells_per_axis
        flat = (index[candidates, 0] * m[1] + index[candidates, 1]) * m[2] + index[candidates, 2]
        order = np.lexsort((keys[candidates], flat))
        flat_sorted = flat[order]
        first = np.ones(len(order), bool)
        first[1:] = flat_sorted[1:] != flat_sorted[:-1]
        return candidates[order[first]], offset

    def same_cell(self, old: np.ndarray, new: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """(M,) bool: whether each new position stays in the old position's cell."""
        return np.all(self._cell_index(old, offset) == self._cell_index(new, offset), axis=1)
