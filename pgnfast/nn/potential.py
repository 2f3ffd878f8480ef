"""``pgnfast.Potential``: a trained model behind the potential protocol the MC engine calls."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from ..neighbors import VerletList
from ..potentials.base import PotentialBase
from ..validation import check_positions, check_positive
from .graph import build_graph, check_system
from .model import NequIP


class Potential(PotentialBase):
    """Energies and forces of a NequIP model for plain arrays.

    model: a NequIP module or a path to a model file (read with `load_model`, checked
    against `units` when given). neighbor_backend: neighbor-list backend. skin (length unit,
    >= 0): > 0 keeps a Verlet list for single-system calls (rebuilt when a particle moved
    more than skin / 2). Positions (N, 3), cell (3, 3) rows (None: no box), types (N,) ints
    in [0, model.num_types) or None (all type 0), pbc bool or 3 bools; lengths and energies
    in the model's units (`model.units`, PGN: nm and kT). The model runs on its own device
    and dtype; results come back in the caller's kind. Bad input (non-finite positions, a
    bad cell, types out of range, coincident particles) raises InputError.
    """

    def __init__(
        self,
        model,
        *,
        neighbor_backend: str = "auto",
        skin: float = 0.0,
        descriptors=None,
        units=None,
    ):
        if not isinstance(model, torch.nn.Module):
            from .io import load_model

            model = load_model(model, units=units)
        elif units is not None:
            from ..units import check_units

            check_units(getattr(model, "units", None), units, "the model")
        self.model: NequIP = model.eval()
        self.neighbor_backend = neighbor_backend
        self.skin = check_positive(skin, "skin", allow_zero=True)
        self.descriptors = descriptors  # default per-particle design scalars (N, D) or (D,)
        self._verlet = (
            VerletList(model.r_max, self.skin, backend=neighbor_backend) if self.skin > 0 else None
        )

    @property
    def receptive_field(self) -> float:
        return self.model.receptive_field

    @property
    def _device(self):
        return self.model.energy_scale.device

    def _system(self, positions, cell, types, pbc, label=""):
        n = check_positions(_numpy(positions), f"{label}positions").shape[0]
        descriptors = None
        if self.model.node_descriptors:
            if self.descriptors is None:
                raise InputError(
                    "this model needs node descriptors: Potential(..., "
                    "descriptors=array (N, D) or (D,))"
                )
            shape = (n, self.model.node_descriptors)
            try:
                descriptors = np.broadcast_to(np.asarray(self.descriptors, np.float64), shape)
            except ValueError as error:
                raise InputError(
                    f"descriptors must have shape {shape} or ({shape[1]},), got "
                    f"{np.shape(self.descriptors)}"
                ) from error
        return (positions, cell, types, pbc, descriptors)

    def _evaluate(self, systems, compute_forces: bool, use_verlet: bool = False):
        neighbor_lists = None
        if use_verlet and self._verlet is not None and len(systems) == 1:
            positions, cell, _, pbc, _ = check_system(systems[0], "", self.model.num_types)
            neighbor_lists = [self._verlet(positions, cell, pbc=pbc)]
        graph = build_graph(
            systems,
            self.model.r_max,
            dtype=self.model.dtype,
            device=self._device,
            neighbor_backend=self.neighbor_backend,
            neighbor_lists=neighbor_lists,
            num_types=self.model.num_types,
        )
        if compute_forces:
            return self.model(graph, compute_forces=True, create_graph=False)
        with torch.no_grad():
            return self.model(graph, compute_forces=False)

    def energies(self, positions, cell, types=None, pbc=True) -> np.ndarray:
        """Per-particle energies (N,) kT as a float64 numpy array."""
        out = self._evaluate([self._system(positions, cell, types, pbc)], False, True)
        return out["energies"].detach().cpu().double().numpy()

    def energy(self, positions, cell, types=None, pbc=True) -> float:
        """Total energy, kT."""
        out = self._evaluate([self._system(positions, cell, types, pbc)], False, True)
        return float(out["energy"][0])

    def energy_forces(self, positions, cell, types=None, pbc=True):
        """(energy kT, forces (N, 3) kT/nm of the same kind, dtype and device as positions)."""
        out = self._evaluate([self._system(positions, cell, types, pbc)], True, True)
        forces = out["forces"].detach()
        if isinstance(positions, torch.Tensor):
            forces = forces.to(device=positions.device, dtype=positions.dtype)
        else:
            forces = forces.cpu().numpy().astype(np.asarray(positions).dtype, copy=False)
        return float(out["energy"][0].detach()), forces

    def energies_batch(self, systems) -> list[np.ndarray]:
        """Per-particle energies for several systems (positions, cell, types, pbc) in ONE
        model call; returns a list of (N_s,) float64 arrays."""
        many = len(systems) > 1
        systems = [
            self._system(*system[:4], label=f"system {k}: " if many else "")
            for k, system in enumerate(systems)
        ]
        if not systems:
            return []
        out = self._evaluate(systems, False)
        energies = out["energies"].detach().cpu().double().numpy()
        sizes = [len(system[0]) for system in systems]
        return np.split(energies, np.cumsum(sizes)[:-1])

    def energies_forces_batch(self, systems) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per-particle energies (N_s,) and forces (N_s, 3) (float64) for several systems
        (positions, cell, types, pbc) in ONE model call (hybrid Monte Carlo's force steps)."""
        many = len(systems) > 1
        prepared = [
            self._system(*system[:4], label=f"system {k}: " if many else "")
            for k, system in enumerate(systems)
        ]
        if not prepared:
            return []
        out = self._evaluate(prepared, True)
        energies = out["energies"].detach().cpu().double().numpy()
        forces = out["forces"].detach().cpu().double().numpy()
        bounds = np.cumsum([len(system[0]) for system in prepared])[:-1]
        return list(zip(np.split(energies, bounds), np.split(forces, bounds)))


def _numpy(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
