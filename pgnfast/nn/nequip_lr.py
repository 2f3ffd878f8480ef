"""NequIP-LR (Maruf, Kim and Ahmad 2025): NequIP with charge equilibration and long-range
electrostatics, in Angstrom, e and eV.

    types, geometry --[charge stack: NequIP layers]--> scalar features --linear--> chi_i
    chi, hardness J_t, Gaussian widths sigma_t --[Qeq per structure, sum q = Q_total]--> q_i
        (or, with charge_constraint="fragments", per fragment: sum_{i in f} q_i = Q_f)
    q --[smooth charge embedding]--> node descriptors
    types, geometry, descriptors --[energy stack: NequIP layers]--> short-range E_i
    E = sum_i E_i + E_elec(q),   forces (and stress) by autograd through everything

- chi_i = chi_ref[t_i] + raw_i, or chi_ref[t_i] + band tanh(raw_i / band) when
  `electronegativity_band` is set (eV/e), raw_i a linear readout of the charge stack's
  last scalar features plus a learnable per-species offset (so the species' mean
  electronegativities are learned directly, within the band when there is one).
- J_t = softplus(parameter) > 0 per species (eV/e^2); sigma_t per species (Angstrom), the
  covalent radii of the type names (chemical symbols) by default, learned (softplus) with
  `learn_widths`.
- Qeq: `pgnfast.nn.qeq.qeq` (dense, exact: `solver="dense"`) or `qeq_iterative`
  (`solver="iterative"`: CG with implicit differentiation; periodic structures by PME or
  the exact Ewald matrix, `periodic_method`). Periodic structures (all three directions)
  use Ewald with the neutralising background for Q_total != 0; non-periodic ones the direct
  erf sum. Mixed periodicity is refused.
- charge_constraint: "total" (the published model: one constraint per structure, so charge
  may flow between far-apart molecules) or "fragments" (one per fragment given with the
  input, e.g. each molecule of a dimer keeps its own charge; a structure given without
  fragments is one fragment).
- The charge embedding: Gaussians exp(-(q - c_k)^2 / (2 w^2)) on K centres evenly spaced in
  [-charge_embedding_max, charge_embedding_max] (w their spacing): smooth in q.
"""

from __future__ import annotations

import math

import torch

from ..errors import InputError
from ..geometry import check_pbc
from ..units import ATOMISTIC, check_units, resolve
from .graph import Graph
from .model import NequIP, differentiable_inputs, energy_derivatives
from .qeq import qeq, qeq_iterative

UNITS = ATOMISTIC
__all__ = ["NequIPLR", "UNITS", "charge_loss", "covalent_radii"]


def _inverse_softplus(values: torch.Tensor) -> torch.Tensor:
    return values + torch.log(-torch.expm1(-values))


def covalent_radii(type_names) -> list[float]:
    """Covalent radii (Angstrom, ASE's table) of chemical symbols; InputError naming the
    first name that is not an element."""
    from ase.data import atomic_numbers
    from ase.data import covalent_radii as table

    radii = []
    for name in type_names:
        if name not in atomic_numbers:
            raise InputError(
                f"type name {name!r} is not a chemical symbol: give widths (Angstrom) per type"
            )
        radii.append(float(table[atomic_numbers[name]]))
    return radii


def _per_type(values, num_types: int, name: str, default: float) -> list[float]:
    if values is None:
        return [float(default)] * num_types
    values = [float(values)] * num_types if isinstance(values, (int, float)) else list(values)
    if len(values) != num_types or not all(math.isfinite(float(v)) for v in values):
        raise InputError(f"{name} must be a number or {num_types} finite numbers, got {values!r}")
    return [float(v) for v in values]


class NequIPLR(torch.nn.Module):
    """NequIP with charge equilibration and Ewald/direct electrostatics (see the module
    docstring). Units Angstrom, e, eV (`units` must be ATOMISTIC: UnitsError otherwise).

    Construct with NequIP's sizes (r_max, l_max, num_features, ...) shared by both stacks,
    `charge_layers` and `energy_layers` interaction blocks, and the charge settings.
    forward(graph, total_charge=, fragment=, fragment_charge=, pbc=) returns NequIP's
    outputs ("energies" (N,) eV: short-range plus 1/2 q_i phi_i, "energy" (B,), "forces",
    "stress", ...) plus "charges" (N,) e, "electrostatic_energy" (B,) eV,
    "short_range_energy" (B,) eV, "electronegativity" (N,) eV/e and "chemical_potential"
    (C,) eV/e (one per charge constraint: per structure, or per fragment).
    """

    metadata: dict
    units: dict
    kind = "nequip-lr"

    def __init__(
        self,
        *,
        r_max: float,
        charge_layers: int = 2,
        energy_layers: int = 2,
        l_max: int = 1,
        parity: bool = True,
        num_features: int = 32,
        num_bessel: int = 8,
        polynomial_cutoff_p: int = 6,
        radial_mlp_depth: int = 1,
        radial_mlp_width: int = 64,
        avg_num_neighbors: float | None = None,
        num_types: int = 1,
        type_names=None,
        electronegativity_reference=None,
        electronegativity_band: float | None = None,
        hardness=None,
        widths=None,
        learn_widths: bool = False,
        charge_embedding_size: int = 8,
        charge_embedding_max: float = 2.0,
        solver: str = "dense",
        periodic_method: str = "ewald",
        accuracy: float | None = None,
        charge_constraint: str = "total",
        units=None,
        backend: str = "auto",
    ):
        super().__init__()
        if units is not None:
            check_units(resolve(units), UNITS, "NequIP-LR (Angstrom, eV; Coulomb constant)")
        if solver not in ("dense", "iterative"):
            raise InputError(f"solver must be 'dense' or 'iterative', got {solver!r}")
        if charge_constraint not in ("total", "fragments"):
            raise InputError(
                f"charge_constraint must be 'total' or 'fragments', got {charge_constraint!r}"
            )
        if periodic_method not in ("ewald", "pme"):
            raise InputError(f"periodic_method must be 'ewald' or 'pme', got {periodic_method!r}")
        if charge_embedding_size < 1 or charge_embedding_max <= 0:
            raise InputError("charge_embedding_size must be >= 1 and charge_embedding_max > 0")
        if electronegativity_band is not None and not electronegativity_band > 0:
            raise InputError(f"electronegativity_band must be > 0, got {electronegativity_band}")
        shared = dict(
            r_max=r_max,
            l_max=l_max,
            parity=parity,
            num_features=num_features,
            num_bessel=num_bessel,
            polynomial_cutoff_p=polynomial_cutoff_p,
            radial_mlp_depth=radial_mlp_depth,
            radial_mlp_width=radial_mlp_width,
            avg_num_neighbors=avg_num_neighbors,
            num_types=num_types,
            type_names=type_names,
            backend=backend,
        )
        self.charge_stack = NequIP(num_layers=charge_layers, **shared)
        self.energy_stack = NequIP(
            num_layers=energy_layers, node_descriptors=charge_embedding_size, **shared
        )
        self.type_names = list(self.charge_stack.type_names)
        if widths is None:
            widths = covalent_radii(self.type_names)
        chi_ref = _per_type(electronegativity_reference, num_types, "electronegativity", 0.0)
        hardness = _per_type(hardness, num_types, "hardness", 10.0)
        widths = _per_type(widths, num_types, "widths", 1.0)
        if min(hardness) <= 0 or min(widths) <= 0:
            raise InputError(f"hardness and widths must be > 0, got {hardness}, {widths}")
        dtype = torch.get_default_dtype()
        self.electronegativity_readout = torch.nn.Linear(num_features, 1)
        self.electronegativity_offset = torch.nn.Parameter(torch.zeros(num_types, dtype=dtype))
        self.register_buffer("electronegativity_reference", torch.tensor(chi_ref, dtype=dtype))
        self.hardness_parameter = torch.nn.Parameter(
            _inverse_softplus(torch.tensor(hardness, dtype=dtype))
        )
        raw_widths = _inverse_softplus(torch.tensor(widths, dtype=dtype))
        if learn_widths:
            self.width_parameter = torch.nn.Parameter(raw_widths)
        else:
            self.register_buffer("width_parameter", raw_widths)
        self.register_buffer(
            "charge_centres",
            torch.linspace(-charge_embedding_max, charge_embedding_max, charge_embedding_size),
        )
        self.charge_embedding_width = 2.0 * charge_embedding_max / max(charge_embedding_size - 1, 1)
        self.hyperparameters = dict(
            r_max=float(r_max),
            charge_layers=int(charge_layers),
            energy_layers=int(energy_layers),
            l_max=int(l_max),
            parity=bool(parity),
            num_features=int(num_features),
            num_bessel=int(num_bessel),
            polynomial_cutoff_p=int(polynomial_cutoff_p),
            radial_mlp_depth=int(radial_mlp_depth),
            radial_mlp_width=int(radial_mlp_width),
            avg_num_neighbors=None if avg_num_neighbors is None else float(avg_num_neighbors),
            num_types=int(num_types),
            type_names=list(self.type_names),
            electronegativity_reference=chi_ref,
            electronegativity_band=(
                None if electronegativity_band is None else float(electronegativity_band)
            ),
            hardness=hardness,
            widths=widths,
            learn_widths=bool(learn_widths),
            charge_embedding_size=int(charge_embedding_size),
            charge_embedding_max=float(charge_embedding_max),
            solver=solver,
            periodic_method=periodic_method,
            accuracy=None if accuracy is None else float(accuracy),
            charge_constraint=charge_constraint,
            backend=backend,
        )
        self.metadata = {}
        self.units = dict(UNITS)
        self.r_max, self.num_types = float(r_max), int(num_types)
        self.node_descriptors = 0

    # -- configuration (what trainers, calculators and model files use) -------------------
    @property
    def dtype(self) -> torch.dtype:
        return self.energy_stack.dtype

    @property
    def energy_scale(self) -> torch.Tensor:
        return self.energy_stack.energy_scale

    @property
    def energy_shift(self) -> torch.Tensor:
        return self.energy_stack.energy_shift

    @property
    def receptive_field(self) -> float:
        """Infinite: every charge depends on every atom of its structure."""
        return math.inf

    @property
    def per_atom_targets(self) -> tuple[str, ...]:
        return ()

    @property
    def backend(self) -> str:
        return self.energy_stack.backend

    @backend.setter
    def backend(self, name: str) -> None:
        self.charge_stack.backend = name
        self.energy_stack.backend = name
        self.hyperparameters["backend"] = name

    def set_energy_scale_shift(self, scale, shift) -> None:
        """Per-type scale and shift (eV) of the short-range energies."""
        self.energy_stack.set_energy_scale_shift(scale, shift)

    def set_avg_num_neighbors(self, value: float | None) -> None:
        self.charge_stack.set_avg_num_neighbors(value)
        self.energy_stack.set_avg_num_neighbors(value)
        self.hyperparameters["avg_num_neighbors"] = None if value is None else float(value)

    @property
    def hardness(self) -> torch.Tensor:
        """(num_types,) eV/e^2, > 0."""
        return torch.nn.functional.softplus(self.hardness_parameter)

    @property
    def widths(self) -> torch.Tensor:
        """(num_types,) Gaussian charge widths, Angstrom, > 0."""
        return torch.nn.functional.softplus(self.width_parameter)

    # -- evaluation ------------------------------------------------------------------------
    def electronegativity(self, features, types) -> torch.Tensor:
        """chi (N,) eV/e from the charge stack's scalar features (N, F)."""
        raw = self.electronegativity_readout(features).squeeze(-1)
        raw = raw + self.electronegativity_offset[types]
        band = self.hyperparameters["electronegativity_band"]
        if band is not None:
            raw = band * torch.tanh(raw / band)
        return self.electronegativity_reference[types] + raw

    def charge_embedding(self, charges) -> torch.Tensor:
        """(N, K) smooth features of the charges (N,) e."""
        scaled = (charges[:, None] - self.charge_centres) / self.charge_embedding_width
        return torch.exp(-0.5 * scaled**2)

    def _structure_pbc(self, graph: Graph, pbc) -> list:
        """One pbc triple per structure, each all True or all False."""
        count = graph.num_graphs
        if pbc is None:
            periodic = graph.cell.detach().abs().flatten(1).amax(dim=1) > 0
            return [(bool(p),) * 3 for p in periodic]
        if isinstance(pbc, bool) or (len(pbc) == 3 and all(isinstance(p, bool) for p in pbc)):
            pbc = [pbc] * count
        if len(pbc) != count:
            raise InputError(f"pbc: give one value or one per structure ({count}), got {pbc!r}")
        result = []
        for b, value in enumerate(pbc):
            triple = check_pbc(value)
            if any(triple) and not all(triple):
                raise InputError(
                    f"structure {b}: Ewald electrostatics need a fully periodic structure, got "
                    f"pbc={triple} (mixed periodicity is not supported)"
                )
            if all(triple) and not bool(graph.cell[b].detach().abs().amax() > 0):
                raise InputError(f"structure {b}: periodic but its cell is zero (no cell)")
            result.append(triple)
        return result

    def charges_and_electrostatics(
        self,
        positions,
        cell,
        graph: Graph,
        total_charge=None,
        pbc=None,
        fragment=None,
        fragment_charge=None,
    ) -> dict:
        """Qeq of every structure of graph at these positions and cells: {"charges" (N,),
        "electronegativity" (N,), "electrostatic_energy" (B,), "chemical_potential" (C,),
        "atomic_electrostatic_energy" (N,)}; differentiable in positions and cell. fragment
        (N,) and fragment_charge (F,) e are used with charge_constraint "fragments" only."""
        types, batch = graph.types, graph.batch
        features = self.charge_stack.node_features(
            positions, cell, types, batch, graph.senders, graph.receivers, graph.shifts
        )
        chi = self.electronegativity(features, types)
        hardness = self.hardness[types]
        widths = self.widths[types]
        options = dict(
            batch=batch,
            num_structures=graph.num_graphs,
            total_charge=total_charge,
            cell=cell,
            pbc=self._structure_pbc(graph, pbc),
        )
        if self.hyperparameters.get("charge_constraint") == "fragments" and fragment is not None:
            options.update(fragment=fragment, fragment_charge=fragment_charge)
        accuracy = self.hyperparameters["accuracy"]
        if self.hyperparameters["solver"] == "dense":
            if accuracy is not None:
                options["accuracy"] = accuracy
            result = qeq(chi, hardness, positions, widths, **options)
        else:
            result = qeq_iterative(
                chi,
                hardness,
                positions,
                widths,
                method=self.hyperparameters["periodic_method"],
                accuracy=accuracy,
                **options,
            )
        q = result.charges
        # at the solution A q = -chi - J q - mu: the atoms' shares 1/2 q_i phi_i of E_elec
        potential = -chi - hardness * q - result.chemical_potential[result.constraint]
        return {
            "charges": q,
            "electronegativity": chi,
            "electrostatic_energy": result.electrostatic_energy,
            "chemical_potential": result.chemical_potential,
            "atomic_electrostatic_energy": 0.5 * q * potential,
        }

    def forward(
        self,
        graph: Graph,
        *,
        total_charge=None,
        fragment=None,
        fragment_charge=None,
        pbc=None,
        compute_forces: bool = True,
        compute_stress: bool = False,
        create_graph: bool | None = None,
    ) -> dict:
        """Evaluate a Graph (Angstrom). total_charge: None (neutral), a number or (B,) e.
        fragment (N,) int64 and fragment_charge (F,) e: each fragment's charge (used with
        charge_constraint "fragments"; their sums must equal total_charge when both given).
        pbc: None (a structure with a nonzero cell is fully periodic, else free), one value
        or one per structure. Returns the outputs listed in the class docstring (eV, e,
        eV/Angstrom, eV/Angstrom^3); create_graph defaults to self.training."""
        if create_graph is None:
            create_graph = self.training
        positions, cell, inputs = differentiable_inputs(graph, compute_forces, compute_stress)
        charged = self.charges_and_electrostatics(
            positions, cell, graph, total_charge, pbc, fragment, fragment_charge
        )
        descriptors = self.charge_embedding(charged["charges"])
        features = self.energy_stack.node_features(
            positions,
            cell,
            graph.types,
            graph.batch,
            graph.senders,
            graph.receivers,
            graph.shifts,
            descriptors,
        )
        short = self.energy_stack.energies_from_features(features, graph.types)
        short_energy = torch.zeros(graph.num_graphs, dtype=short.dtype, device=short.device)
        short_energy = short_energy.index_add(0, graph.batch, short)
        energy = short_energy + charged["electrostatic_energy"]
        out = {
            "energies": short + charged["atomic_electrostatic_energy"],
            "energy": energy,
            "short_range_energy": short_energy,
            "charges": charged["charges"],
            "electrostatic_energy": charged["electrostatic_energy"],
            "electronegativity": charged["electronegativity"],
            "chemical_potential": charged["chemical_potential"],
        }
        out.update(
            energy_derivatives(
                energy, inputs, graph.cell, compute_forces, compute_stress, create_graph
            )
        )
        return out


def charge_loss(out: dict, reference_charges, mask=None) -> torch.Tensor:
    """Mean squared charge error (e^2) of a forward output against reference charges (N,)
    e; mask (N,) bool selects the atoms with a reference (e.g. frames with Hirshfeld
    charges). For a trainer's charge term: loss += weight * charge_loss(out, q_ref, mask)."""
    charges = out["charges"]
    reference = torch.as_tensor(reference_charges, dtype=charges.dtype, device=charges.device)
    if reference.shape != charges.shape:
        raise InputError(f"reference charges must have shape {tuple(charges.shape)}")
    error = (charges - reference) ** 2
    if mask is not None:
        error = error[torch.as_tensor(mask, device=charges.device, dtype=torch.bool)]
    return error.mean() if error.numel() else charges.sum() * 0.0
