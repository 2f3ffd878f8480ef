"""ASE calculators for pgnfast potentials and models, and one evaluator for both.

- :class:`PotentialCalculator`: any potential with the potential protocol
  (:mod:`pgnfast.potentials.base`): energy, per-particle energies and forces, and for pair
  potentials the stress (so ASE's barostats can use it).
- :func:`as_force_field`: a uniform evaluator (:class:`ForceField`) of a pair potential, a
  protocol potential, a NequIP model, a direct-force model (forces only) or a model file;
  what LAMMPS ``fix external`` (:mod:`pgnfast.md.fix_external`) and
  :class:`ModelCalculator` call.
- :class:`ModelCalculator`: the ASE calculator of any of those. A model without an energy
  (the direct-force baseline) offers forces only; asking it for an energy or a stress
  raises ASE's ``PropertyNotImplementedError`` naming the reason.

Units are the potential's or model's (argon: Angstrom, eV, eV/Angstrom, eV/Angstrom^3).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from ..errors import InputError, PGNFastError
from ..neighbors import VerletList
from ..nn.direct_force import DirectForceModel
from ..nn.graph import build_graph
from ..nn.model import NequIP
from ..potentials.pair import PairPotential, half_pairs
from ..validation import check_positive, read_type_column


def pair_results(potential: PairPotential, positions, cell, pbc=True, stress=False) -> dict:
    """energy, free_energy, energies (N,), forces (N, 3) and, when asked, the virial stress
    (3, 3) of a pair potential from one pair list. The stress is dE/d(strain) / volume
    (ASE's sign: a compressed crystal has a negative diagonal), without the kinetic part,
    and needs a fully periodic cell."""
    positions = np.asarray(positions, dtype=np.float64)
    n = len(positions)
    i, j, vectors, r = half_pairs(positions, cell, potential.cutoff, pbc)
    half_energy = 0.5 * potential.pair_energy(r)
    energies = np.bincount(i, half_energy, n) + np.bincount(j, half_energy, n)
    weights = potential.pair_derivative(r) / r
    pair_forces = -weights[:, None] * vectors  # on j; the opposite on i
    forces = np.stack(
        [
            np.bincount(j, pair_forces[:, axis], n) - np.bincount(i, pair_forces[:, axis], n)
            for axis in range(3)
        ],
        axis=1,
    )
    energy = float(np.sum(potential.pair_energy(r)))
    results = {"energy": energy, "free_energy": energy, "energies": energies, "forces": forces}
    if stress:
        virial = np.einsum("p,pa,pb->ab", weights, vectors, vectors)
        results["stress"] = virial / abs(np.linalg.det(np.asarray(cell, np.float64)))
    return results


def pair_stress(potential: PairPotential, positions, cell, pbc=True) -> np.ndarray:
    """The virial stress (3, 3) of a pair potential in a periodic cell (see pair_results)."""
    return pair_results(potential, positions, cell, pbc, stress=True)["stress"]


def voigt(stress: np.ndarray) -> np.ndarray:
    """ASE's Voigt order (xx, yy, zz, yz, xz, xy) of a (3, 3) stress."""
    return np.array(
        [stress[0, 0], stress[1, 1], stress[2, 2], stress[1, 2], stress[0, 2], stress[0, 1]]
    )


class PotentialCalculator(Calculator):
    """ASE calculator backed by a pgnfast potential (an object with ``energies`` and
    ``energy_forces``). Particle types come from the integer ``type`` column when the
    potential takes types, else None. stress only for pair potentials in fully periodic
    cells."""

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, potential, **kwargs):
        if not (hasattr(potential, "energy_forces") and hasattr(potential, "energies")):
            raise InputError(
                f"potential must offer energy_forces and energies (the pgnfast potential "
                f"protocol), got {type(potential).__name__}"
            )
        super().__init__(**kwargs)
        self.potential = potential

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        pbc = tuple(bool(p) for p in atoms.pbc)
        cell = np.asarray(atoms.cell[:], np.float64) if any(pbc) else None
        positions = np.asarray(atoms.positions, np.float64)
        want_stress = "stress" in properties
        if want_stress and not (all(pbc) and isinstance(self.potential, PairPotential)):
            raise InputError(
                "stress needs a pair potential and a fully periodic cell, got "
                f"{type(self.potential).__name__} with pbc={pbc}"
            )
        if isinstance(self.potential, PairPotential):
            # stress comes with the same pair list at little cost: always give it then
            results = pair_results(self.potential, positions, cell, pbc, stress=all(pbc))
            if "stress" in results:
                results["stress"] = voigt(results["stress"])
            self.results = results
            return
        types = atoms.arrays.get("type")
        energy, forces = self.potential.energy_forces(positions, cell, types, pbc)
        self.results = {
            "energy": float(energy),
            "free_energy": float(energy),
            "forces": np.asarray(forces, np.float64),
            "energies": np.asarray(self.potential.energies(positions, cell, types, pbc)),
        }


class ForceField:
    """One evaluator for potentials and models. ``evaluate(positions, cell, pbc, types,
    stress=False, energies=False)`` returns a dict with "forces" (N, 3) and, when
    `has_energy`, "energy" (and "energies" (N,) when asked), and "stress" (3, 3) (ASE's
    sign, no kinetic part) when asked and supported. positions (N, 3), cell (3, 3) rows
    (None for a cluster) in the length unit of the potential or model."""

    has_energy = True
    supports_stress = False
    num_types: int | None = None
    type_names: list | None = None

    def __init__(self, name: str):
        self.name = name

    def types(self, atoms) -> np.ndarray | None:
        """(N,) int64 types of ASE atoms (the `type` column, else chemical symbols), or None
        for potentials that take no types."""
        if self.num_types is None:
            values = atoms.arrays.get("type")
            return None if values is None else np.asarray(values, np.int64)
        return read_type_column(atoms, self.num_types, self.type_names)

    def evaluate(self, positions, cell, pbc, types=None, *, stress=False, energies=False):
        raise NotImplementedError


class _PairField(ForceField):
    supports_stress = True

    def __init__(self, potential: PairPotential):
        super().__init__(repr(potential))
        self.potential = potential

    def evaluate(self, positions, cell, pbc, types=None, *, stress=False, energies=False):
        return pair_results(self.potential, positions, cell, pbc, stress=stress)


class _ProtocolField(ForceField):
    def __init__(self, potential):
        super().__init__(type(potential).__name__)
        self.potential = potential

    def evaluate(self, positions, cell, pbc, types=None, *, stress=False, energies=False):
        energy, forces = self.potential.energy_forces(positions, cell, types, pbc)
        results = {"energy": float(energy), "forces": np.asarray(forces, np.float64)}
        if energies:
            results["energies"] = np.asarray(self.potential.energies(positions, cell, types, pbc))
        return results


class _GraphField(ForceField):
    """Shared by the NequIP and direct-force models: graphs through a Verlet list."""

    def __init__(self, model, name, skin: float, neighbor_backend: str):
        super().__init__(name)
        self.model = model.eval()
        self.num_types, self.type_names = model.num_types, list(model.type_names)
        self.neighbor_backend = neighbor_backend
        skin = check_positive(skin, "skin", allow_zero=True)
        self.verlet = VerletList(model.r_max, skin, backend=neighbor_backend) if skin > 0 else None

    def graph(self, positions, cell, pbc, types):
        device = next(self.model.buffers()).device
        lists = None
        if self.verlet is not None:
            lists = [self.verlet(np.asarray(positions, np.float64), cell, pbc=pbc)]
        return build_graph(
            [(positions, cell, types, pbc)],
            self.model.r_max,
            dtype=self.model.dtype,
            device=device,
            neighbor_backend=self.neighbor_backend,
            neighbor_lists=lists,
            num_types=self.num_types,
        )


def _numpy(tensor) -> np.ndarray:
    return tensor.detach().cpu().double().numpy()


class _NequIPField(_GraphField):
    supports_stress = True

    def __init__(self, model: NequIP, skin=0.0, neighbor_backend="auto"):
        super().__init__(model, "NequIP", skin, neighbor_backend)

    def evaluate(self, positions, cell, pbc, types=None, *, stress=False, energies=False):
        graph = self.graph(positions, cell, pbc, types)
        want_stress = bool(stress) and all(pbc)
        out = self.model(graph, compute_forces=True, compute_stress=want_stress, create_graph=False)
        results = {"energy": float(out["energy"][0].detach()), "forces": _numpy(out["forces"])}
        if energies:
            results["energies"] = _numpy(out["energies"])
        if want_stress:
            results["stress"] = _numpy(out["stress"][0])
        return results


class _DirectForceField(_GraphField):
    has_energy = False

    def __init__(self, model: DirectForceModel, skin=0.0, neighbor_backend="auto"):
        super().__init__(model, "direct-force", skin, neighbor_backend)

    def evaluate(self, positions, cell, pbc, types=None, *, stress=False, energies=False):
        with torch.no_grad():
            out = self.model(self.graph(positions, cell, pbc, types))
        return {"forces": _numpy(out["forces"])}


def load_model_file(path, *, units=None, map_location="cpu"):
    """A NequIP or direct-force model from its file (the file's kind decides); units: checked
    against the recorded ones (UnitsError)."""
    from ..nn.direct_force import FILE_KIND, load_direct_force_model
    from ..nn.io import load_model, read_model_record

    record = read_model_record(path, map_location=map_location)
    if isinstance(record, dict) and record.get("kind") == FILE_KIND:
        return load_direct_force_model(path, units=units, map_location=map_location)
    return load_model(path, units=units, map_location=map_location)


def as_force_field(source, *, units=None, skin: float = 0.0, neighbor_backend: str = "auto"):
    """A :class:`ForceField` of `source`: a ForceField, a pair potential, a potential with the
    protocol (energy_forces), a NequIP or direct-force model, a ``pgnfast.Potential``, or a
    path to a model file (units checked when given). skin (length unit, >= 0): a Verlet
    skin for the models' neighbor lists (0: a fresh list every call)."""
    if isinstance(source, ForceField):
        return source
    if isinstance(source, (str, os.PathLike)):
        source = load_model_file(source, units=units)
    elif units is not None and isinstance(source, torch.nn.Module):
        from ..units import check_units

        check_units(getattr(source, "units", None), units, "the model")
    if isinstance(source, DirectForceModel):
        return _DirectForceField(source, skin, neighbor_backend)
    if isinstance(source, NequIP):
        return _NequIPField(source, skin, neighbor_backend)
    model = getattr(source, "model", None)
    if isinstance(model, NequIP):  # pgnfast.Potential
        return _NequIPField(model, skin, neighbor_backend)
    if isinstance(source, PairPotential):
        return _PairField(source)
    if hasattr(source, "energy_forces"):
        return _ProtocolField(source)
    raise InputError(
        f"cannot drive MD with a {type(source).__name__}: give a pgnfast potential, a NequIP "
        f"or direct-force model, or a model file"
    )


ENERGY_PROPERTIES = ("energy", "free_energy", "energies")


class PropertyUnavailableError(PGNFastError, PropertyNotImplementedError):
    """A calculator was asked for a property its model does not have (the energy or stress
    of the direct-force model): ASE's PropertyNotImplementedError, and a pgnfast error."""


class ModelCalculator(Calculator):
    """ASE calculator of any pgnfast potential or model (see :func:`as_force_field`; model
    files read with `units` checked). Models with an energy give energy, free_energy,
    per-atom energies, forces and, for fully periodic cells, the stress; the direct-force
    model gives forces only. Types come from the `type` column (else chemical symbols in
    the model's type names). skin: Verlet skin of the models' neighbor lists (length
    unit). always_stress: compute the stress with every evaluation (one model call per
    step under a barostat instead of two)."""

    def __init__(
        self,
        source,
        *,
        units=None,
        skin: float = 0.0,
        neighbor_backend="auto",
        always_stress: bool = False,
        **kw,
    ):
        self.field = as_force_field(
            source, units=units, skin=skin, neighbor_backend=neighbor_backend
        )
        self.always_stress = bool(always_stress)
        self.implemented_properties = ["forces"]
        if self.field.has_energy:
            self.implemented_properties = [*ENERGY_PROPERTIES, "forces"]
            if self.field.supports_stress:
                self.implemented_properties.append("stress")
        super().__init__(**kw)

    def get_property(self, name, atoms=None, allow_calculation=True):
        if name not in self.implemented_properties:
            reason = (
                f"the {self.field.name} model predicts forces directly and has no energy (it "
                f"is not conservative)"
                if not self.field.has_energy
                else f"{self.field.name} does not provide {name}"
            )
            raise PropertyUnavailableError(
                f"{name} is not available: {reason}; it offers {self.implemented_properties}"
            )
        return super().get_property(name, atoms, allow_calculation)

    def calculate(self, atoms=None, properties=("forces",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        pbc = tuple(bool(p) for p in atoms.pbc)
        cell = np.asarray(atoms.cell[:], np.float64) if any(pbc) else None
        # pair potentials give the stress from the same pair list; models when asked, or on
        # every call with always_stress (barostats ask for forces and stress separately)
        want_stress = "stress" in properties or (
            self.field.supports_stress
            and all(pbc)
            and (self.always_stress or isinstance(self.field, _PairField))
        )
        if "stress" in properties and not all(pbc):
            raise PropertyNotImplementedError(f"stress needs a fully periodic cell, got pbc={pbc}")
        results = self.field.evaluate(
            np.asarray(atoms.positions, np.float64),
            cell,
            pbc,
            self.field.types(atoms),
            stress=want_stress and all(pbc),
            energies="energies" in properties,
        )
        if "energy" in results:
            results["free_energy"] = results["energy"]
        if "stress" in results:
            results["stress"] = voigt(results["stress"])
        self.results = results


__all__ = [
    "ForceField",
    "ModelCalculator",
    "PotentialCalculator",
    "PropertyUnavailableError",
    "as_force_field",
    "load_model_file",
    "pair_results",
    "pair_stress",
    "voigt",
]
