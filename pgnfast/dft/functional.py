"""`Functional`: the PGN DFT behind the potential protocol (pgnfast/potentials/base.py).

Units: positions nm, energies kT, forces kT/nm. Each call re-solves the dual, warm-started
from the last psi of a system with the same number of particles (the Monte Carlo engine
re-solves after small moves, which then takes a few sweeps instead of tens).
"""

from __future__ import annotations

import math

import numpy as np

from pgnfast.potentials.base import PotentialBase

from .design import PGNDesign
from .errors import CoreOverlapError, DFTInputError
from .solver import DFTResult, solve


class Functional(PotentialBase):
    """The space-filling functional of `design` as a potential (receptive_field = inf).

    spacing: grid spacing, nm (default a_min/3); tol: dual stopping rule. A configuration
    with cores overlapping beyond contact has energy +inf (a Monte Carlo move into it is
    rejected) instead of an error.
    """

    receptive_field = math.inf

    def __init__(self, design: PGNDesign, *, spacing=None, tol=1e-10, check_reach=True):
        self.design = design
        self.spacing = spacing
        self.tol = tol
        self.check_reach = check_reach
        self.last_psi: np.ndarray | None = None
        self.last_result: DFTResult | None = None

    def solve(self, positions, cell, types=None, pbc=True) -> DFTResult:
        """Label one system (nm), warm-started from the previous solve when N matches."""
        if not np.all(np.asarray(pbc)):
            raise DFTInputError(
                "the PGN DFT is defined for fully periodic boxes only (pbc=True): "
                "the chains must fill the whole cell"
            )
        pos = positions.detach().cpu().numpy() if hasattr(positions, "detach") else positions
        box = cell.detach().cpu().numpy() if hasattr(cell, "detach") else cell
        kinds = types.detach().cpu().numpy() if hasattr(types, "detach") else types
        pos = np.asarray(pos, dtype=np.float64)
        warm = (
            self.last_psi if self.last_psi is not None and len(self.last_psi) == len(pos) else None
        )
        result = solve(
            pos,
            np.asarray(box, dtype=np.float64),
            self.design,
            types=kinds,
            spacing=self.spacing,
            tol=self.tol,
            warm_start=warm,
            check_reach=self.check_reach,
        )
        self.last_psi, self.last_result = result.psi, result
        return result

    def energies(self, positions, cell, types=None, pbc=True) -> np.ndarray:
        """Per-particle energies E_i, kT (sum = total energy)."""
        try:
            return self.solve(positions, cell, types, pbc).energies
        except CoreOverlapError:
            return np.full(len(positions), np.inf)

    def energy(self, positions, cell, types=None, pbc=True) -> float:
        """Total free energy plus core contact, kT."""
        try:
            return self.solve(positions, cell, types, pbc).energy
        except CoreOverlapError:
            return math.inf

    def energy_forces(self, positions, cell, types=None, pbc=True):
        """(energy kT, forces kT/nm) with forces of the same kind and device as positions."""
        try:
            result = self.solve(positions, cell, types, pbc)
            energy, forces = result.energy, result.forces
        except CoreOverlapError:
            energy, forces = math.inf, np.zeros((len(positions), 3))
        if hasattr(positions, "detach"):
            import torch

            forces = torch.as_tensor(forces, dtype=positions.dtype, device=positions.device)
        return energy, forces
