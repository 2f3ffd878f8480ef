"""ASE calculator for pgnfast models. Atoms positions and cell are read in the model's
length unit and results are in its units (`model.units`; PGN: nm, kT, kT/nm, kT/nm^3, the
units of the labeled extxyz files)."""

from __future__ import annotations

import numpy as np
import torch
from ase.calculators.calculator import Calculator, all_changes

from ..nn.graph import build_graph
from ..validation import read_fragments, read_type_column


class PGNCalculator(Calculator):
    """ASE calculator backed by a NequIP model (a module or a path to a model file).

    Particle types come from the integer ``type`` column (pgnfast's extxyz files; the old
    name ``types`` is still read), else from the chemical symbols looked up in the model's
    type_names; all type 0 only for a one-type model, otherwise InputError. Per-particle
    design scalars come from ``atoms.arrays["descriptors"]`` for models that take them.
    stress is ASE's Voigt order (xx, yy, zz, yz, xz, xy), only for fully periodic cells.
    units: checked against the model's recorded units when given ("pgn", "atomistic" or a
    dict). A NequIP-LR model (`pgnfast.nn.nequip_lr`) also gives "charges" (N,) e and
    "electrostatic_energy" (eV); the structure's total charge is `total_charge` when given,
    else ``atoms.info["total_charge"]``, else 0; a model with charge_constraint "fragments"
    keeps each fragment's charge (per-atom column ``fragment``, info ``fragment_charges``,
    e) where the atoms have them. Bad input (non-finite positions, a bad cell,
    types out of range, coincident particles) raises InputError.
    """

    implemented_properties = [
        "energy",
        "energies",
        "forces",
        "stress",
        "free_energy",
        "charges",
        "electrostatic_energy",
    ]

    def __init__(
        self,
        model_or_path,
        *,
        neighbor_backend: str = "auto",
        units=None,
        total_charge: float | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.total_charge = total_charge
        if isinstance(model_or_path, torch.nn.Module):
            model = model_or_path
            if units is not None:
                from ..units import check_units

                check_units(getattr(model, "units", None), units, "the model")
        else:
            from ..nn.io import load_model

            model = load_model(model_or_path, units=units)
        self.model = model.eval()
        self.neighbor_backend = neighbor_backend

    def _types(self, atoms) -> np.ndarray:
        """(N,) int64 types of `atoms` (see the class docstring)."""
        return read_type_column(atoms, self.model.num_types, self.model.type_names)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        pbc = tuple(bool(p) for p in atoms.pbc)
        cell = np.asarray(atoms.cell[:], np.float64)
        descriptors = atoms.arrays.get("descriptors") if self.model.node_descriptors else None
        device = self.model.energy_scale.device
        graph = build_graph(
            [
                (
                    atoms.positions,
                    cell if any(pbc) or cell.any() else None,
                    self._types(atoms),
                    pbc,
                    descriptors,
                )
            ],
            self.model.r_max,
            dtype=self.model.dtype,
            device=device,
            neighbor_backend=self.neighbor_backend,
            num_types=self.model.num_types,
        )
        want_stress = "stress" in properties and all(pbc)
        options = {}
        if getattr(self.model, "kind", None) == "nequip-lr":
            total = self.total_charge
            if total is None:
                total = atoms.info.get("total_charge", 0.0)
            options = {"total_charge": float(total), "pbc": [pbc]}
            fragments, charges = read_fragments(atoms, float(total))
            if fragments is not None:
                options["fragment"] = torch.as_tensor(fragments, device=device)
                options["fragment_charge"] = torch.as_tensor(charges, dtype=self.model.dtype)
        out = self.model(
            graph, compute_forces=True, compute_stress=want_stress, create_graph=False, **options
        )
        energy = float(out["energy"][0].detach())
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "energies": out["energies"].detach().cpu().double().numpy(),
            "forces": out["forces"].detach().cpu().double().numpy(),
        }
        if "charges" in out:
            self.results["charges"] = out["charges"].detach().cpu().double().numpy()
            self.results["electrostatic_energy"] = float(out["electrostatic_energy"][0].detach())
        if want_stress:
            s = out["stress"][0].detach().cpu().double().numpy()
            self.results["stress"] = np.array(
                [s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]]
            )
