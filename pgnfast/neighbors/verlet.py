"""Verlet (skin) neighbor lists for simulations: rebuild only when something moved far."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from ..validation import check_positive
from ._common import NeighborList, NeighborListError, check_cutoff, validate
from .api import neighbor_list


class VerletList:
    """Cached neighbor list with a skin.

    Pairs are searched at ``cutoff + skin`` and filtered to ``cutoff`` on every call; the
    search is redone only when some particle moved more than ``skin / 2`` (nm) since the last
    build, or when the cell, pbc, particle count, options or backend changed. Between
    rebuilds a call costs O(pairs). ``builds`` counts searches, ``calls`` counts calls.
    """

    def __init__(
        self,
        cutoff: float,
        skin: float,
        *,
        half: bool = False,
        self_interaction: bool = False,
        backend: str = "auto",
    ):
        cutoff = check_cutoff(cutoff)
        try:
            skin = check_positive(skin, "skin", allow_zero=True)
        except InputError as error:
            raise NeighborListError(str(error)) from None
        self.cutoff, self.skin = cutoff, skin
        self.half, self.self_interaction, self.backend = half, self_interaction, backend
        self.builds = 0
        self.calls = 0
        self._key = None
        self._reference_positions = None
        self._candidates: NeighborList | None = None

    def _needs_rebuild(self, positions, key) -> bool:
        if self._candidates is None or key != self._key:
            return True
        moved = positions - self._reference_positions
        if isinstance(moved, torch.Tensor):
            largest = float((moved.detach() ** 2).sum(dim=1).max()) if len(moved) else 0.0
        else:
            largest = float((moved**2).sum(axis=1).max()) if len(moved) else 0.0
        return largest > (0.5 * self.skin) ** 2

    def __call__(self, positions, cell, *, pbc=True) -> NeighborList:
        """Pairs within the cutoff for these positions; same conventions as neighbor_list."""
        geometry = validate(positions, cell, self.cutoff, pbc)
        positions, cell = geometry.positions, geometry.cell
        key = (
            geometry.pbc,
            tuple(geometry.cell_np.ravel()),
            int(positions.shape[0]),
            geometry.is_torch,
            geometry.device,
            str(geometry.dtype),
        )
        self.calls += 1
        if self._needs_rebuild(positions, key):
            self._candidates = neighbor_list(
                positions.detach() if geometry.is_torch else positions,
                cell.detach() if geometry.is_torch else cell,
                self.cutoff + self.skin,
                pbc=geometry.pbc,
                half=self.half,
                self_interaction=self.self_interaction,
                backend=self.backend,
            )
            self._reference_positions = (
                positions.detach().clone() if geometry.is_torch else np.array(positions)
            )
            self._key = key
            self.builds += 1
        c = self._candidates
        if geometry.is_torch:
            vectors = positions[c.j] - positions[c.i] + c.shifts.to(positions.dtype) @ cell
            distances = torch.linalg.norm(vectors, dim=1)
            keep = distances < self.cutoff
            if self.self_interaction:
                keep |= (c.i == c.j) & (c.shifts == 0).all(dim=1)
        else:
            vectors = positions[c.j] - positions[c.i] + c.shifts @ cell.astype(positions.dtype)
            distances = np.sqrt(np.einsum("pk,pk->p", vectors, vectors))
            keep = distances < self.cutoff
            if self.self_interaction:
                keep |= (c.i == c.j) & (c.shifts == 0).all(axis=1)
        return NeighborList(c.i[keep], c.j[keep], c.shifts[keep], vectors[keep], distances[keep])
