"""`CoreExclusion`: a learned potential with the DFT's hard-core rule added.

The DFT refuses cores that overlap by more than MAX_CORE_OVERLAP of the smaller radius
(pgnfast.dft.config) and its `Functional` returns +inf there, so Monte Carlo rejects such
moves. A model trained on non-overlapping configurations has no such wall; hot replicas
could walk into overlaps it never saw. This wrapper gives every overlapping particle an
energy of +inf, the same rule the DFT-driven runs obey. Units: nm, kT.
"""

from __future__ import annotations

import numpy as np

from pgnfast.dft.config import MAX_CORE_OVERLAP
from pgnfast.dft.design import PGNDesign
from pgnfast.dft.errors import DFTInputError
from pgnfast.potentials.base import PotentialBase


class CoreExclusion(PotentialBase):
    """`potential` (the model) plus E_i = +inf for every particle i whose core overlaps
    another's beyond the DFT's limit: r_ij < a_i + a_j - MAX_CORE_OVERLAP * min(a_i, a_j).

    The wall reaches 2 a_max (nm), which must not exceed the potential's receptive field,
    so local Monte Carlo energy differences stay exact.
    """

    def __init__(self, potential, design: PGNDesign):
        if not isinstance(design, PGNDesign):
            raise DFTInputError(f"design must be a PGNDesign, got {type(design).__name__}")
        self.potential = potential
        self.radii = np.asarray(design.radii, dtype=np.float64)
        self.wall_reach = 2.0 * float(self.radii.max())
        if self.wall_reach > potential.receptive_field:
            raise DFTInputError(
                f"the core wall reaches {self.wall_reach:g} nm, beyond the "
                f"model's receptive field {potential.receptive_field:g} nm"
            )

    @property
    def receptive_field(self) -> float:
        return self.potential.receptive_field

    def overlapping(self, positions, cell, types=None, pbc=True) -> np.ndarray:
        """(N,) bool: particles whose core overlaps another's beyond the DFT's limit."""
        from pgnfast.neighbors import neighbor_list

        positions = np.asarray(positions, dtype=np.float64)
        n = len(positions)
        kinds = np.zeros(n, np.int64) if types is None else np.asarray(types, np.int64)
        radius = self.radii[kinds]
        box = np.zeros((3, 3)) if cell is None else np.asarray(cell, dtype=np.float64)
        periodic = bool(np.all(pbc)) if cell is not None else False
        pairs = neighbor_list(positions, box, self.wall_reach, pbc=periodic, half=True)
        i, j = np.asarray(pairs.i), np.asarray(pairs.j)
        limit = radius[i] + radius[j] - MAX_CORE_OVERLAP * np.minimum(radius[i], radius[j])
        bad = np.asarray(pairs.distances) < limit
        flags = np.zeros(n, bool)
        flags[i[bad]] = True
        flags[j[bad]] = True
        return flags

    def energies(self, positions, cell, types=None, pbc=True) -> np.ndarray:
        energies = np.asarray(self.potential.energies(positions, cell, types, pbc), np.float64)
        return np.where(self.overlapping(positions, cell, types, pbc), np.inf, energies)

    def energies_batch(self, systems) -> list[np.ndarray]:
        out = self.potential.energies_batch(systems)
        return [
            np.where(self.overlapping(*system[:4]), np.inf, np.asarray(e, np.float64))
            for system, e in zip(systems, out)
        ]

    def energy_forces(self, positions, cell, types=None, pbc=True):
        energy, forces = self.potential.energy_forces(positions, cell, types, pbc)
        if self.overlapping(positions, cell, types, pbc).any():
            energy = np.inf
        return energy, forces
