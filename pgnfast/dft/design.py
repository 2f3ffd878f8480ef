"""`PGNDesign`: the design parameters of a solvent-free polymer-grafted nanoparticle melt.

Units: lengths in nm, volumes in nm^3, energies in kT. Per-type values (core radius,
grafting density) are tuples, one entry per particle type, for bidisperse cores; the
polymer (chain length, Kuhn length, segment volume) is one for the whole system.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import DFTInputError


def _number(value) -> float:
    """`value` as a float; NaN when it is no number. Bools are refused; a numeral string is
    read (PyYAML loads 5e-1 as one)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, numbers.Real)):
        return math.nan
    try:
        return float(value)
    except ValueError:
        return math.nan


def _positive(value, name: str) -> float:
    """A finite number > 0, as float."""
    v = _number(value)
    if not math.isfinite(v) or v <= 0:
        raise DFTInputError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def _per_type(value, name: str) -> tuple[float, ...]:
    """One positive value per particle type, from a number or a sequence of numbers."""
    if isinstance(value, np.ndarray):
        value = value.tolist()  # a 0-d array becomes a number
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return (_positive(value, name),)
    values = tuple(value)
    if len(values) == 0:
        raise DFTInputError(f"{name} needs at least one value (one per particle type)")
    return tuple(_positive(v, f"{name} of type {k}") for k, v in enumerate(values))


@dataclass(frozen=True)
class PGNDesign:
    """Design of a PGN melt.

    core_radius: a, nm (scalar, or one per particle type).
    grafting_density: sigma, chains/nm^2 (scalar, or one per type).
    chain_length: N, Kuhn segments per chain. kuhn_length: b, nm.
    segment_volume: v, nm^3 per Kuhn segment.
    """

    core_radius: float | Sequence[float]
    grafting_density: float | Sequence[float]
    chain_length: float
    kuhn_length: float
    segment_volume: float
    _radius: tuple = field(init=False, repr=False, compare=False)
    _sigma: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        radius = _per_type(self.core_radius, "core_radius (nm)")
        sigma = _per_type(self.grafting_density, "grafting_density (chains/nm^2)")
        if len(sigma) == 1 and len(radius) > 1:
            sigma = sigma * len(radius)
        if len(radius) == 1 and len(sigma) > 1:
            radius = radius * len(sigma)
        if len(radius) != len(sigma):
            raise DFTInputError(
                f"core_radius has {len(radius)} types but grafting_density has {len(sigma)}"
            )
        scalars = {
            "chain_length": "Kuhn segments",
            "kuhn_length": "nm",
            "segment_volume": "nm^3",
        }
        for name, unit in scalars.items():
            value = getattr(self, name)
            number = _positive(value, f"{name} ({unit})")
            if isinstance(value, str):  # a numeral string from YAML: stored as its number
                object.__setattr__(self, name, number)
        if self.chain_length < 1:
            raise DFTInputError(
                f"chain_length must be at least 1 Kuhn segment, got {self.chain_length!r}"
            )
        # keep user-facing fields as given, but normalised to tuples when sequences
        object.__setattr__(self, "core_radius", radius if len(radius) > 1 else radius[0])
        object.__setattr__(self, "grafting_density", sigma if len(sigma) > 1 else sigma[0])
        object.__setattr__(self, "_radius", radius)
        object.__setattr__(self, "_sigma", sigma)

    # ---- per-type arrays -------------------------------------------------------------
    @property
    def n_types(self) -> int:
        return len(self._radius)

    @property
    def radii(self) -> np.ndarray:
        """Core radius per type, nm."""
        return np.array(self._radius)

    @property
    def densities(self) -> np.ndarray:
        """Grafting density per type, chains/nm^2."""
        return np.array(self._sigma)

    @property
    def chains_per_core(self) -> np.ndarray:
        """f = 4 pi a^2 sigma, chains per core, per type."""
        return 4 * np.pi * self.radii**2 * self.densities

    @property
    def chain_volume(self) -> float:
        """V_ch = N v, nm^3."""
        return float(self.chain_length * self.segment_volume)

    @property
    def polymer_volume(self) -> np.ndarray:
        """Omega0 = f N v, polymer volume carried by one core, nm^3, per type."""
        return self.chains_per_core * self.chain_volume

    @property
    def chain_size(self) -> float:
        """Unperturbed chain size R = b sqrt(N), nm."""
        return float(self.kuhn_length * math.sqrt(self.chain_length))

    @property
    def core_volume(self) -> np.ndarray:
        """4/3 pi a^3 per type, nm^3."""
        return 4 / 3 * np.pi * self.radii**3

    def _counts(self, n_per_type) -> np.ndarray:
        counts = np.atleast_1d(np.asarray(n_per_type, dtype=float))
        if counts.shape != (self.n_types,):
            raise DFTInputError(
                f"n_per_type needs {self.n_types} counts (one per type), got {counts.tolist()}"
            )
        bad = ~(np.isfinite(counts) & (counts >= 0))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise DFTInputError(f"n_per_type[{k}] = {counts[k]} must be a finite count >= 0")
        return counts

    def box_volume(self, n_per_type) -> float:
        """Volume of the solvent-free melt box, sum_i (4/3 pi a_i^3 + Omega0_i), nm^3."""
        counts = self._counts(n_per_type)
        return float(counts @ (self.core_volume + self.polymer_volume))

    def core_volume_fraction(self, n_per_type=None) -> float:
        """Cores' share of the melt volume (default: equal numbers of each type)."""
        counts = np.ones(self.n_types) if n_per_type is None else self._counts(n_per_type)
        return float(counts @ self.core_volume / self.box_volume(counts))

    def interaction_reach(self, nearest_surface_distance: float) -> float:
        """Distance from a core centre (nm) beyond which its chains are truncated (50 kT rule)
        at a point whose nearest core surface is `nearest_surface_distance` nm away."""
        from .config import TRUNCATION_KT

        c_min = 1.5 * nearest_surface_distance**2 / self.chain_size**2
        return float(self.radii.max() + self.chain_size * math.sqrt((c_min + TRUNCATION_KT) / 1.5))

    # ---- conversions -----------------------------------------------------------------
    def per_particle(self, types) -> tuple[np.ndarray, np.ndarray]:
        """Core radius (nm) and grafting density (chains/nm^2) of each particle."""
        types = np.asarray(types)
        return self.radii[types], self.densities[types]

    def to_dict(self) -> dict:
        def plain(v):
            return list(v) if isinstance(v, tuple) else v

        return {
            "core_radius": plain(self.core_radius),
            "grafting_density": plain(self.grafting_density),
            "chain_length": self.chain_length,
            "kuhn_length": self.kuhn_length,
            "segment_volume": self.segment_volume,
        }

    @classmethod
    def from_dict(cls, data: dict) -> PGNDesign:
        data = dict(data.get("design", data))
        known = {"core_radius", "grafting_density", "chain_length", "kuhn_length", "segment_volume"}
        unknown = set(data) - known
        if unknown:
            raise DFTInputError(f"unknown design keys {sorted(unknown)}; expected {sorted(known)}")
        missing = known - set(data)
        if missing:
            raise DFTInputError(f"design is missing {sorted(missing)}")
        return cls(**data)

    @classmethod
    def from_yaml(cls, path) -> PGNDesign:
        from .._config import load_yaml

        with open(path) as fh:
            return cls.from_dict(load_yaml(fh))


def default_design() -> PGNDesign:
    """The default design of docs/dft.md and examples/design.yaml (nm, chains/nm^2)."""
    return PGNDesign(
        core_radius=8.0, grafting_density=1.0, chain_length=20, kuhn_length=1.0, segment_volume=0.5
    )
