"""An incrementally updated cell list, so finding the particles near a move costs O(1).

Positions are kept unwrapped (as the engine stores them); each particle is binned by its
wrapped fractional coordinates and remembers its wrap count, so a query returns every
periodic image (particle index, integer shift) inside a sphere, even when the sphere is
larger than the box.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..geometry import face_widths  # re-exported: pgnfast.mc.cells.face_widths

__all__ = ["IncrementalCellList", "face_widths"]


class IncrementalCellList:
    """Particles binned on a (nx, ny, nz) grid of the periodic box, updated one move at a time.

    positions: (N, 3) nm, unwrapped; cell: (3, 3) nm rows; bin_width: nm target width of a bin.
    """

    def __init__(
        self, positions: np.ndarray, cell: np.ndarray, bin_width: float, max_bins: int | None = None
    ):
        self.cell = np.asarray(cell, dtype=np.float64)
        self.inverse_cell = np.linalg.inv(self.cell)
        n = len(positions)
        widths = face_widths(self.cell)
        bins = np.maximum(1, np.floor(widths / max(bin_width, 1e-12)).astype(np.int64))
        max_bins = max(1, 2 * n) if max_bins is None else max_bins
        while np.prod(bins) > max_bins:  # keep the grid no larger than ~2 bins per particle
            bins = np.maximum(1, bins // 2)
        self.bins = bins
        self.widths = widths
        self.num_particles = n
        self.bin_of = np.zeros(n, np.int64)
        self.slot_of = np.zeros(n, np.int64)
        self.wraps = np.zeros((n, 3), np.int64)
        self._fill(np.asarray(positions, dtype=np.float64))
        self._stencils: dict[tuple[int, int, int], np.ndarray] = {}

    # -- binning ---------------------------------------------------------------------------
    def _locate(self, positions: np.ndarray):
        """(flat bin index, wrap counts (., 3)) for positions (., 3)."""
        frac = positions @ self.inverse_cell
        wraps = np.floor(frac)
        index = np.minimum(((frac - wraps) * self.bins).astype(np.int64), self.bins - 1)
        flat = (index[..., 0] * self.bins[1] + index[..., 1]) * self.bins[2] + index[..., 2]
        return flat, wraps.astype(np.int64)

    def _fill(self, positions: np.ndarray) -> None:
        flat, wraps = self._locate(positions)
        counts = np.bincount(flat, minlength=int(np.prod(self.bins)))
        capacity = max(8, 2 * int(counts.max(initial=0)))
        self.members = np.full((len(counts), capacity), -1, np.int64)
        self.counts = np.zeros(len(counts), np.int64)
        order = np.argsort(flat, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        slots = np.arange(len(flat)) - starts[flat[order]]
        self.members[flat[order], slots] = order
        self.counts[:] = counts
        self.bin_of[order] = flat[order]
        self.slot_of[order] = slots
        self.wraps[:] = wraps

    def move(self, particle: int, new_position: np.ndarray) -> None:
        """Re-bin one particle after its position changed (O(1))."""
        flat, wraps = self._locate(np.asarray(new_position, dtype=np.float64)[None])
        new_bin = int(flat[0])
        self.wraps[particle] = wraps[0]
        old_bin = int(self.bin_of[particle])
        if new_bin == old_bin:
            return
        # remove: move the last member of the old bin into the freed slot
        slot = int(self.slot_of[particle])
        last = int(self.counts[old_bin]) - 1
        moved = int(self.members[old_bin, last])
        self.members[old_bin, slot] = moved
        self.slot_of[moved] = slot
        self.members[old_bin, last] = -1
        self.counts[old_bin] = last
        # insert, growing the capacity when a bin is full
        count = int(self.counts[new_bin])
        if count == self.members.shape[1]:
            grown = np.full((self.members.shape[0], 2 * count), -1, np.int64)
            grown[:, :count] = self.members
            self.members = grown
        self.members[new_bin, count] = particle
        self.slot_of[particle] = count
        self.counts[new_bin] = count + 1
        self.bin_of[particle] = new_bin

    # -- queries ---------------------------------------------------------------------------
    def _stencil(self, reach: tuple[int, int, int]) -> np.ndarray:
        if reach not in self._stencils:
            ranges = [range(-r, r + 1) for r in reach]
            self._stencils[reach] = np.array(list(itertools.product(*ranges)), np.int64)
        return self._stencils[reach]

    def query(self, positions: np.ndarray, center: np.ndarray, radius: float):
        """Every periodic image within `radius` (nm) of `center` (3,).

        positions: the current (N, 3) unwrapped positions the list was kept in sync with.
        Returns (particles (M,) int64, shifts (M, 3) int64, image positions (M, 3) nm) with
        image = positions[particle] + shift @ cell; the particle's own copy has shift 0.
        """
        center = np.asarray(center, dtype=np.float64)
        flat, center_wrap = self._locate(center[None])
        bins = self.bins
        center_index = np.array(np.unravel_index(int(flat[0]), tuple(bins)))
        reach = tuple(int(x) for x in np.ceil(radius * bins / self.widths).astype(np.int64))
        offsets = self._stencil(reach)
        quotient, index = np.divmod(center_index + offsets, bins)
        flat_bins = (index[:, 0] * bins[1] + index[:, 1]) * bins[2] + index[:, 2]
        rows = self.members[flat_bins]
        valid = rows >= 0
        particles = rows[valid]
        quotient = np.broadcast_to(quotient[:, None, :], rows.shape + (3,))[valid]
        shifts = quotient + center_wrap[0] - self.wraps[particles]
        images = positions[particles] + shifts @ self.cell
        delta = images - center
        inside = np.flatnonzero(np.einsum("pk,pk->p", delta, delta) < radius * radius)
        particles, shifts = particles[inside], shifts[inside]
        # canonical order (particle, shift): results do not depend on the history of moves
        order = np.lexsort((shifts[:, 2], shifts[:, 1], shifts[:, 0], particles))
        return particles[order], shifts[order], images[inside][order]
