"""Per-particle energies and forces of several periodic systems, batched where the potential
allows, for hybrid Monte Carlo (:mod:`pgnfast.mc.hybrid`). Lengths nm, energies kT, forces
kT/nm.

``energies_forces_batch(potential, systems)`` returns one ``(energies (N,), forces (N, 3))``
pair of float64 arrays per system ``(positions, cell, types, pbc)``:

- a potential with its own ``energies_forces_batch(systems)`` method is called once (the
  protocol extension that lets any model batch);
- the NequIP ``pgnfast.Potential``: one model call on one graph of all systems, energies and
  forces from the same pass (autograd);
- ``CoreExclusion``: its inner potential's batch, with +inf energies for overlapping cores;
- the DFT ``Functional``: one warm-started solve per system (energies and forces together);
- pair potentials (``PairPotential``): one neighbour search per system, energies and forces
  from the same pairs;
- anything else: ``energies_batch`` once plus ``energy_forces`` per system.

Non-finite values are returned as they are (a hard core gives +inf energies and inf or NaN
forces); the caller rejects such proposals.
"""

from __future__ import annotations

import sys

import numpy as np

from ..potentials.pair import PairPotential, half_pairs


def energies_forces_batch(potential, systems, max_batch_particles=None) -> list:
    """[(energies (N_s,) kT, forces (N_s, 3) kT/nm)] of every system, in order.

    max_batch_particles: split into calls of at most this many particles (a single system
    may exceed it); None: one call.
    """
    systems = list(systems)
    if not systems:
        return []
    if max_batch_particles is None:
        return _one_call(potential, systems)
    out, chunk, size = [], [], 0
    for system in systems:
        n = len(system[0])
        if chunk and size + n > max_batch_particles:
            out.extend(_one_call(potential, chunk))
            chunk, size = [], 0
        chunk.append(system)
        size += n
    out.extend(_one_call(potential, chunk))
    return out


def _one_call(potential, systems) -> list:
    own = getattr(potential, "energies_forces_batch", None)
    if callable(own):
        return [(_float64(e), _float64(f)) for e, f in own(systems)]
    # the classes are looked up only where loaded (importing torch costs seconds)
    nequip = getattr(sys.modules.get("pgnfast.nn.potential"), "Potential", None)
    exclusion = getattr(sys.modules.get("pgnfast.dft.core_exclusion"), "CoreExclusion", None)
    if nequip is not None and isinstance(potential, nequip):
        return _nequip(potential, systems)
    if exclusion is not None and isinstance(potential, exclusion):
        inner = _one_call(potential.potential, systems)
        return [
            (np.where(potential.overlapping(*system[:4]), np.inf, energies), forces)
            for system, (energies, forces) in zip(systems, inner)
        ]
    functional = getattr(sys.modules.get("pgnfast.dft.functional"), "Functional", None)
    if functional is not None and isinstance(potential, functional):
        return [_dft(potential, *system[:4]) for system in systems]
    if isinstance(potential, PairPotential):
        return [_pair(potential, *system[:4]) for system in systems]
    energies = potential.energies_batch(systems)
    results = []
    for system, e in zip(systems, energies):
        _, forces = potential.energy_forces(*system[:4])
        results.append((_float64(e), _float64(forces)))
    return results


def _float64(array) -> np.ndarray:
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    return np.asarray(array, dtype=np.float64)


def _nequip(potential, systems) -> list:
    """One model call (graph of all systems) giving per-particle energies and forces."""
    return potential.energies_forces_batch([system[:4] for system in systems])


def _dft(functional, positions, cell, types, pbc):
    """One DFT solve (warm-started) giving per-particle energies and forces; +inf energies
    for overlapping cores."""
    from ..dft.errors import CoreOverlapError

    try:
        result = functional.solve(positions, cell, types, pbc)
    except CoreOverlapError:
        return np.full(len(positions), np.inf), np.zeros((len(positions), 3))
    return _float64(result.energies), _float64(result.forces)


def _pair(potential: PairPotential, positions, cell, types, pbc):
    """Per-particle energies (half of each pair energy to each partner) and forces."""
    positions = np.asarray(positions, dtype=np.float64)
    n = len(positions)
    i, j, vectors, r = half_pairs(positions, cell, potential.cutoff, pbc)
    forces = np.zeros((n, 3))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # hard cores: inf
        half_energy = 0.5 * potential.pair_energy(r)
        pair_forces = (-potential.pair_derivative(r) / r)[:, None] * vectors
        energies = np.bincount(i, half_energy, n) + np.bincount(j, half_energy, n)
        for axis in range(3):
            forces[:, axis] = np.bincount(j, pair_forces[:, axis], n) - np.bincount(
                i, pair_forces[:, axis], n
            )
    return energies, forces
