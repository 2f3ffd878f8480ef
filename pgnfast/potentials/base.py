"""The potential protocol: what the Monte Carlo engine (and users) call.

Every potential in pgnfast (the NequIP model behind ``pgnfast.Potential``, the DFT functional
``pgnfast.dft.Functional``, the analytic pair potentials in ``pgnfast.potentials``) offers:

- ``energy(positions, cell, types=None, pbc=True) -> float``            total energy, kT
- ``energy_forces(positions, cell, types=None, pbc=True) -> (float, forces)``
      forces (N, 3) kT/nm, same kind (numpy/torch) and device as positions
- ``energies(positions, cell, types=None, pbc=True) -> numpy (N,)``   per-particle energies
      E_i, kT, summing to the total energy
- ``energies_batch(systems) -> list of numpy arrays``   per-particle energies for several
      systems at once, each system a tuple ``(positions, cell, types, pbc)``; a model batches
      them into one call, the default loops
- ``receptive_field: float``  nm. E_i depends only on particles within this distance of
      particle i (num_layers * r_max for message passing, the cutoff for a pair potential,
      ``math.inf`` for a global functional such as the DFT). Moving particle k changes E_i
      only for i within ``receptive_field`` of k, which is what makes local Monte Carlo
      energy differences exact and O(1).
- ``energies_forces_batch(systems) -> list of (energies, forces)`` (optional)   per-particle
      energies and forces of several systems in one call (hybrid Monte Carlo; the engine
      falls back to ``energies_batch`` and ``energy_forces`` per system)
- ``fingerprint() -> dict`` (optional; ``PotentialBase`` gives one)   what a Monte Carlo
      checkpoint records to refuse a resume under another potential.

Positions in nm (N, 3), cell rows are box vectors in nm (3, 3), types an (N,) int array or
None, pbc a bool or three bools. ``pbc=False`` is used by the Monte Carlo engine for the
non-periodic clusters it cuts around a move.
"""

from __future__ import annotations

import math
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .fingerprint import potential_fingerprint


@runtime_checkable
class PotentialProtocol(Protocol):
    receptive_field: float

    def energy(self, positions, cell, types=None, pbc=True) -> float: ...

    def energy_forces(self, positions, cell, types=None, pbc=True) -> tuple[float, Any]: ...

    def energies(self, positions, cell, types=None, pbc=True) -> np.ndarray: ...

    def energies_batch(self, systems) -> list[np.ndarray]: ...


class PotentialBase:
    """Convenience base class: derive ``energy`` and ``energies_batch`` from ``energies``.

    ``fingerprint()`` identifies the potential in Monte Carlo checkpoints, so a resume under
    another potential is refused; list attributes that are run state rather than parameters
    in ``fingerprint_exclude``.
    """

    receptive_field: float = math.inf
    fingerprint_exclude: tuple[str, ...] = ()

    def fingerprint(self) -> dict:
        """JSON-able identity: class, parameters, a sha256 of a model's weights and of any
        inner potential (see :func:`pgnfast.potentials.fingerprint.potential_fingerprint`)."""
        return potential_fingerprint(self)

    def energies(self, positions, cell, types=None, pbc=True) -> np.ndarray:
        raise NotImplementedError

    def energy_forces(self, positions, cell, types=None, pbc=True):
        raise NotImplementedError

    def energy(self, positions, cell, types=None, pbc=True) -> float:
        return float(np.sum(self.energies(positions, cell, types, pbc)))

    def energies_batch(self, systems) -> list[np.ndarray]:
        return [self.energies(*system) for system in systems]
