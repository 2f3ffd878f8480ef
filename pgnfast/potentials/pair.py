"""Analytic potentials for testing and validating the Monte Carlo engine.

All follow the protocol in :mod:`pgnfast.potentials.base`: positions (N, 3) nm, cell (3, 3)
nm (rows are box vectors), energies in kT, forces in kT/nm. Pair potentials split each pair
energy equally between its two particles, so E_i depends only on particles within the cutoff
and ``receptive_field == cutoff``.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..errors import InputError
from ..geometry import check_pbc, orthorhombic_lengths
from .base import PotentialBase


def _as_numpy(positions):
    """float64 numpy copy of positions and a function converting results back to their kind."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    if torch is not None and isinstance(positions, torch.Tensor):
        like = positions

        def back(array):
            return torch.as_tensor(array, dtype=like.dtype, device=like.device)

        return positions.detach().cpu().double().numpy(), back
    return np.asarray(positions, dtype=np.float64), (lambda array: array)


_UPPER_PAIRS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _upper_pairs(n: int):
    """(i, j) with i < j for n particles, cached."""
    if n not in _UPPER_PAIRS:
        i, j = np.triu_indices(n, 1)
        _UPPER_PAIRS[n] = (i.astype(np.int64), j.astype(np.int64))
    return _UPPER_PAIRS[n]


def _minimum_image_lengths(cell, periodic, cutoff):
    """Box lengths (3,) if the minimum image is exact (orthorhombic, fully periodic,
    cutoff < half of every length), else None."""
    if not all(periodic) or cell is None:
        return None
    lengths = orthorhombic_lengths(cell)
    if lengths is None or np.any(lengths <= 2.0 * cutoff):
        return None
    return lengths


def _orthorhombic_image(vectors: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Difference vectors (..., 3) reduced to their minimum image in an orthorhombic box of
    `lengths` (3,) nm, in place. The per-axis form of :func:`pgnfast.geometry.minimum_image`,
    kept for its rounding (the Monte Carlo trajectories depend on the last bits)."""
    vectors -= np.round(vectors / lengths) * lengths
    return vectors


def half_pairs(positions: np.ndarray, cell, cutoff: float, pbc=True):
    """Each pair closer than `cutoff` once: (i, j, vectors r_j - r_i (+ image), distances).

    Clusters (pbc False) use a k-d tree; small orthorhombic periodic boxes with
    cutoff < half the box use the minimum image; everything else the pgnfast cell list.
    """
    n = positions.shape[0]
    periodic = check_pbc(pbc)
    if n < 2 and not any(periodic):
        return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(0))
    if not any(periodic):
        pairs = cKDTree(positions).query_pairs(cutoff, output_type="ndarray")
        i, j = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
        vectors = positions[j] - positions[i]
        distances = np.sqrt(np.einsum("pk,pk->p", vectors, vectors))
        keep = distances < cutoff
        return i[keep], j[keep], vectors[keep], distances[keep]
    cell = np.asarray(cell, dtype=np.float64)
    lengths = _minimum_image_lengths(cell, periodic, cutoff)
    if lengths is not None and n <= 400:
        i, j = _upper_pairs(n)
        vectors = positions[j] - positions[i]
        _orthorhombic_image(vectors, lengths)
        distances = np.sqrt(np.einsum("pk,pk->p", vectors, vectors))
        keep = distances < cutoff
        return i[keep], j[keep], vectors[keep], distances[keep]
    if lengths is not None:  # periodic k-d tree, minimum image
        wrapped = positions - np.floor(positions / lengths) * lengths
        wrapped = np.where(wrapped >= lengths, 0.0, wrapped)
        pairs = cKDTree(wrapped, boxsize=lengths).query_pairs(cutoff, output_type="ndarray")
        i, j = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
        order = np.lexsort((j, i))
        i, j = i[order], j[order]
        vectors = positions[j] - positions[i]
        _orthorhombic_image(vectors, lengths)
        distances = np.sqrt(np.einsum("pk,pk->p", vectors, vectors))
        keep = distances < cutoff
        return i[keep], j[keep], vectors[keep], distances[keep]
    from pgnfast.neighbors import neighbor_list

    nl = neighbor_list(positions, cell, cutoff, pbc=periodic, half=True)
    return nl.i, nl.j, nl.vectors, nl.distances


class PairPotential(PotentialBase):
    """Base class: subclasses define `pair_energy(r)` and `pair_derivative(r)` (kT, kT/nm)."""

    cutoff: float = 1.0

    @property
    def receptive_field(self) -> float:  # nm
        return self.cutoff

    def pair_energy(self, r: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def pair_derivative(self, r: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def energies(self, positions, cell, types=None, pbc=True) -> np.ndarray:
        """Per-particle energies (N,), kT: half of every pair energy goes to each partner."""
        pos, _ = _as_numpy(positions)
        i, j, _, r = half_pairs(pos, cell, self.cutoff, pbc)
        half_energy = 0.5 * self.pair_energy(r)
        n = pos.shape[0]
        return np.bincount(i, half_energy, n) + np.bincount(j, half_energy, n)

    def energies_batch(self, systems) -> list[np.ndarray]:
        """Per-particle energies of several systems; small periodic orthorhombic systems of
        equal size are vectorised together, the rest evaluated one by one."""
        results: list = [None] * len(systems)
        groups: dict = {}
        for index, (positions, cell, types, pbc) in enumerate(systems):
            pos, _ = _as_numpy(positions)
            cell = None if cell is None else np.asarray(cell, dtype=np.float64)
            lengths = (
                None if cell is None else _minimum_image_lengths(cell, check_pbc(pbc), self.cutoff)
            )
            if lengths is not None and 2 <= len(pos) <= 64:
                groups.setdefault((len(pos), tuple(lengths)), []).append((index, pos))
            else:
                results[index] = self.energies(pos, cell, types, pbc)
        for (n, lengths), members in groups.items():
            lengths = np.array(lengths)
            stacked = np.stack([pos for _, pos in members])  # (B, n, 3)
            i, j = _upper_pairs(n)
            vectors = stacked[:, j] - stacked[:, i]
            _orthorhombic_image(vectors, lengths)
            r = np.sqrt(np.einsum("bpk,bpk->bp", vectors, vectors))
            inside = r < self.cutoff
            half_energy = np.zeros_like(r)
            half_energy[inside] = 0.5 * self.pair_energy(r[inside])
            energies = np.zeros((len(members), n))
            np.add.at(energies, (slice(None), i), half_energy)
            np.add.at(energies, (slice(None), j), half_energy)
            for (index, _), e in zip(members, energies):
                results[index] = e
        return results

    def energy_forces(self, positions, cell, types=None, pbc=True):
        """(total energy kT, forces (N, 3) kT/nm of the same kind as positions)."""
        pos, back = _as_numpy(positions)
        i, j, vectors, r = half_pairs(pos, cell, self.cutoff, pbc)
        energy = float(np.sum(self.pair_energy(r)))
        # F_j = -dphi/dr * (r_j - r_i)/r, F_i = -F_j
        pair_forces = (-self.pair_derivative(r) / r)[:, None] * vectors
        forces = np.zeros_like(pos)
        for axis in range(3):
            forces[:, axis] = np.bincount(j, pair_forces[:, axis], len(pos)) - np.bincount(
                i, pair_forces[:, axis], len(pos)
            )
        return energy, back(forces)


class LennardJones(PairPotential):
    """phi(r) = 4 epsilon [(sigma/r)^12 - (sigma/r)^6] for r < cutoff (kT, nm).

    shift=True subtracts phi(cutoff) so the energy is continuous at the cutoff.
    """

    def __init__(
        self, epsilon: float = 1.0, sigma: float = 1.0, cutoff: float = 2.5, shift: bool = False
    ):
        if not (epsilon > 0 and sigma > 0 and cutoff > 0):
            raise InputError(
                f"LennardJones needs epsilon, sigma and cutoff > 0 (kT, nm, nm), got "
                f"{epsilon!r}, {sigma!r}, {cutoff!r}"
            )
        self.epsilon, self.sigma, self.cutoff, self.shift = (
            float(epsilon),
            float(sigma),
            float(cutoff),
            bool(shift),
        )
        self._offset = self._raw(np.array([self.cutoff]))[0] if shift else 0.0

    def _raw(self, r):
        s6 = (self.sigma / r) ** 6
        return 4.0 * self.epsilon * (s6 * s6 - s6)

    def pair_energy(self, r):
        return self._raw(r) - self._offset

    def pair_derivative(self, r):
        s6 = (self.sigma / r) ** 6
        return 4.0 * self.epsilon * (-12.0 * s6 * s6 + 6.0 * s6) / r

    def __repr__(self):
        return (
            f"LennardJones(epsilon={self.epsilon}, sigma={self.sigma}, "
            f"cutoff={self.cutoff}, shift={self.shift})"
        )


class CoreRepulsion(PairPotential):
    """Hard cores with a soft repulsive shell, a stand-in for PGN cores and coronas.

    phi(r) = inf for r < diameter; epsilon [(diameter/r)^exponent - (diameter/cutoff)^exponent]
    for diameter <= r < cutoff (kT, nm); cutoff defaults to 1.5 diameter. epsilon=0 gives
    plain hard spheres. ``core_diameter`` tells the engine which starting overlaps to refuse.
    """

    def __init__(
        self,
        epsilon: float = 1.0,
        diameter: float = 1.0,
        exponent: float = 12.0,
        cutoff: float | None = None,
    ):
        cutoff = 1.5 * diameter if cutoff is None else cutoff
        if not (diameter > 0 and cutoff >= diameter and epsilon >= 0):
            raise InputError(
                f"CoreRepulsion needs diameter > 0, cutoff >= diameter and epsilon >= 0, got "
                f"diameter={diameter!r}, cutoff={cutoff!r}, epsilon={epsilon!r}"
            )
        self.epsilon, self.diameter, self.exponent, self.cutoff = (
            float(epsilon),
            float(diameter),
            float(exponent),
            float(cutoff),
        )
        self.core_diameter = self.diameter

    def pair_energy(self, r):
        with np.errstate(divide="ignore"):
            soft = self.epsilon * (
                (self.diameter / r) ** self.exponent
                - (self.diameter / self.cutoff) ** self.exponent
            )
        return np.where(r < self.diameter, np.inf, soft)

    def pair_derivative(self, r):
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = -self.exponent * self.epsilon * (self.diameter / r) ** self.exponent / r
        return np.where(r < self.diameter, -np.inf, slope)

    def __repr__(self):
        return (
            f"CoreRepulsion(epsilon={self.epsilon}, diameter={self.diameter}, "
            f"exponent={self.exponent}, cutoff={self.cutoff})"
        )


class Harmonic(PotentialBase):
    """Independent harmonic tethers: E_i = spring_constant/2 |r_i - centers[type_i]|^2 (kT).

    centers: (n_types, 3) nm (default one site at the origin); spring_constant kT/nm^2.
    Every particle is an independent Gaussian with variance T/spring_constant per axis, which
    makes the sampled distribution known exactly. Positions are used as given (unwrapped), so
    this potential is for tests, not periodic physics. receptive_field = 0.
    """

    receptive_field = 0.0

    def __init__(self, spring_constant: float = 1.0, centers=None):
        self.spring_constant = float(spring_constant)
        self.centers = np.zeros((1, 3)) if centers is None else np.asarray(centers, np.float64)

    @property
    def num_types(self) -> int:
        """Particle types this potential knows: one per tether center."""
        return len(self.centers)

    def _displacements(self, positions, types):
        pos, back = _as_numpy(positions)
        index = np.zeros(len(pos), np.int64) if types is None else np.asarray(types, np.int64)
        return pos - self.centers[index], back

    def energies(self, positions, cell=None, types=None, pbc=True) -> np.ndarray:
        d, _ = self._displacements(positions, types)
        return 0.5 * self.spring_constant * np.einsum("ik,ik->i", d, d)

    def energy_forces(self, positions, cell=None, types=None, pbc=True):
        d, back = self._displacements(positions, types)
        energy = 0.5 * self.spring_constant * float(np.einsum("ik,ik->", d, d))
        return energy, back(-self.spring_constant * d)


__all__ = ["CoreRepulsion", "Harmonic", "LennardJones", "PairPotential", "half_pairs"]
