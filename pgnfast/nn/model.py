"""The NequIP model (Batzner et al. 2022), built the way the `nequip` package builds it."""

from __future__ import annotations

import torch
from e3nn import o3

from ..errors import InputError
from ..ops import BACKENDS, prepare_backend
from ..units import PGN
from ..validation import check_positive
from .graph import Graph
from .heads import PerAtomHeads, check_target_names
from .layers import BesselBasis, ConvLayer, PolynomialCutoff

UNITS = PGN
"""The default unit system of a model (PGN: nm, kT); the model itself is unit-free."""


def hidden_irreps(num_features: int, l_max: int, parity: bool) -> o3.Irreps:
    """num_features copies of every l <= l_max: both parities if parity, else p = (-1)^l."""
    return o3.Irreps(
        [
            (num_features, (l, p))
            for l in range(l_max + 1)
            for p in ((1, -1) if parity else ((-1) ** l,))
        ]
    )


class NequIP(torch.nn.Module):
    """E(3)-equivariant message-passing potential; per-particle energies (kT) summed.

    type one-hot (+ node_descriptors design scalars) -> linear type embedding ->
    num_layers x [interaction block (linear, tp_conv with spherical harmonics up to l_max
    weighted per path by a radial MLP on a trainable Bessel basis with a polynomial cutoff,
    / sqrt(avg_num_neighbors), linear, self-connection) + gate] -> linear readout ->
    per-type scale and shift. The last layer keeps only scalars; the first has no
    self-connection (isolated-particle limit), as in nequip.

    per_atom_targets: names of node-level targets (e.g. ("barrier",)); each gets a small
    invariant MLP head on the last layer's scalar features beside the energy readout
    (`pgnfast.nn.heads`), standardised by `set_per_atom_statistics`, and forward returns
    out["per_atom"][name] (N,) in label units. Default (): no heads, and the model, its
    files and its outputs are those of a model built before per-atom targets existed.

    The model is unit-free: r_max is in the length unit of its training data and energies
    in its energy unit. `units` records that system (default PGN: nm, kT) and `metadata` is
    a free-form JSON-able dict; both travel in model files (`pgnfast.nn.io`).
    """

    metadata: dict
    units: dict

    def __init__(
        self,
        *,
        r_max: float,
        num_layers: int = 4,
        l_max: int = 1,
        parity: bool = True,
        num_features: int = 32,
        num_bessel: int = 8,
        polynomial_cutoff_p: int = 6,
        radial_mlp_depth: int = 1,
        radial_mlp_width: int = 128,
        avg_num_neighbors: float | None = None,
        num_types: int = 1,
        type_names=None,
        node_descriptors: int = 0,
        per_atom_targets=(),
        backend: str = "auto",
    ):
        super().__init__()
        self.metadata = {}
        self.units = dict(UNITS)
        # build in float64 so e3nn's Clebsch-Gordan constants are exact to double precision,
        # then cast to the default dtype (call .double() / .to(torch.float64) for float64)
        target_dtype = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            self._build(
                r_max,
                num_layers,
                l_max,
                parity,
                num_features,
                num_bessel,
                polynomial_cutoff_p,
                radial_mlp_depth,
                radial_mlp_width,
                avg_num_neighbors,
                num_types,
                type_names,
                node_descriptors,
                per_atom_targets,
                backend,
            )
        finally:
            torch.set_default_dtype(target_dtype)
        self.to(target_dtype)

    def _build(
        self,
        r_max,
        num_layers,
        l_max,
        parity,
        num_features,
        num_bessel,
        polynomial_cutoff_p,
        radial_mlp_depth,
        radial_mlp_width,
        avg_num_neighbors,
        num_types,
        type_names,
        node_descriptors,
        per_atom_targets,
        backend,
    ):
        if num_layers < 1:
            raise InputError(f"num_layers must be at least 1, got {num_layers}")
        check_positive(r_max, "r_max")
        if num_types < 1:
            raise InputError(f"num_types must be at least 1, got {num_types}")
        if type_names is None:
            type_names = [f"type{t}" for t in range(num_types)]
        if len(type_names) != num_types:
            raise InputError(f"{len(type_names)} type_names for num_types={num_types}")
        per_atom_targets = check_target_names(per_atom_targets)
        self.hyperparameters = dict(
            r_max=float(r_max),
            num_layers=int(num_layers),
            l_max=int(l_max),
            parity=bool(parity),
            num_features=int(num_features),
            num_bessel=int(num_bessel),
            polynomial_cutoff_p=int(polynomial_cutoff_p),
            radial_mlp_depth=int(radial_mlp_depth),
            radial_mlp_width=int(radial_mlp_width),
            avg_num_neighbors=None if avg_num_neighbors is None else float(avg_num_neighbors),
            num_types=int(num_types),
            type_names=list(type_names),
            node_descriptors=int(node_descriptors),
            backend=backend,
        )
        if per_atom_targets:  # recorded only when used: files without targets stay as they were
            self.hyperparameters["per_atom_targets"] = list(per_atom_targets)
        self.r_max, self.num_layers = float(r_max), int(num_layers)
        self.num_types, self.node_descriptors = int(num_types), int(node_descriptors)
        self.type_names = list(type_names)

        self.irreps_sh = o3.Irreps.spherical_harmonics(l_max)
        self.spherical_harmonics = o3.SphericalHarmonics(
            self.irreps_sh, normalize=True, normalization="component"
        )
        self.bessel = BesselBasis(r_max, num_bessel, trainable=True)
        self.cutoff = PolynomialCutoff(r_max, polynomial_cutoff_p)

        irreps_attrs = o3.Irreps(f"{num_types + node_descriptors}x0e")
        self.type_embedding = o3.Linear(irreps_attrs, o3.Irreps(f"{num_features}x0e"))
        hidden = hidden_irreps(num_features, l_max, parity)
        irreps = o3.Irreps(f"{num_features}x0e")
        layers = []
        for index in range(num_layers):
            target = hidden if index < num_layers - 1 else o3.Irreps(f"{num_features}x0e")
            layer = ConvLayer(
                irreps,
                target,
                self.irreps_sh,
                irreps_attrs,
                num_basis=num_bessel,
                radial_mlp_depth=radial_mlp_depth,
                radial_mlp_width=radial_mlp_width,
                avg_num_neighbors=avg_num_neighbors,
                use_self_connection=index > 0,
                backend=backend,
            )
            layers.append(layer)
            irreps = layer.irreps_out
        self.layers = torch.nn.ModuleList(layers)
        self.readout = o3.Linear(irreps, o3.Irreps("1x0e"))
        self.register_buffer("energy_scale", torch.ones(num_types))
        self.register_buffer("energy_shift", torch.zeros(num_types))
        # built after every energy-path weight, so those draw the same random numbers
        self.per_atom_heads = PerAtomHeads(irreps, per_atom_targets) if per_atom_targets else None
        self._backend = backend
        prepare_backend(backend)

    # -- configuration -------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """tp_conv backend of every layer ("auto", "reference", "cpu", "triton", "cuda")."""
        return self._backend

    @backend.setter
    def backend(self, name: str) -> None:
        if name not in BACKENDS:
            raise InputError(f"unknown backend {name!r}; choose one of {BACKENDS}")
        self._backend = name
        self.hyperparameters["backend"] = name
        for layer in self.layers:
            layer.interaction.backend = name
        prepare_backend(name)

    @property
    def receptive_field(self) -> float:
        """nm: E_i depends only on particles within num_layers * r_max of particle i."""
        return self.num_layers * self.r_max

    @property
    def dtype(self) -> torch.dtype:
        return self.energy_scale.dtype

    def set_energy_scale_shift(self, scale, shift) -> None:
        """Per-type energy scale and shift (kT), scalars or (num_types,) sequences."""
        self.energy_scale.copy_(torch.as_tensor(scale, dtype=self.dtype).expand(self.num_types))
        self.energy_shift.copy_(torch.as_tensor(shift, dtype=self.dtype).expand(self.num_types))

    @property
    def per_atom_targets(self) -> tuple[str, ...]:
        """Names of the per-atom targets (() for an energy-only model)."""
        return () if self.per_atom_heads is None else self.per_atom_heads.names

    def set_per_atom_statistics(self, statistics: dict) -> None:
        """Label standardisation {name: (mean, std)} (label units, std > 0) of per-atom
        targets: each head predicts (label - mean) / std. Targets not named keep theirs."""
        if self.per_atom_heads is None:
            raise InputError(
                f"set_per_atom_statistics: this model has no per-atom targets; "
                f"got {sorted(map(str, statistics))}"
            )
        self.per_atom_heads.set_statistics(statistics)

    def per_atom_statistics(self) -> dict:
        """{name: (mean, std)} of every per-atom target ({} without targets)."""
        return {} if self.per_atom_heads is None else self.per_atom_heads.statistics()

    def set_avg_num_neighbors(self, value: float | None) -> None:
        """Neighbor-sum normalisation used by every layer."""
        self.hyperparameters["avg_num_neighbors"] = None if value is None else float(value)
        for layer in self.layers:
            layer.interaction.avg_num_neighbors = self.hyperparameters["avg_num_neighbors"]

    # -- evaluation ----------------------------------------------------------------------
    def particle_energies(
        self,
        positions,
        cell,
        types,
        batch,
        senders,
        receivers,
        shifts,
        descriptors=None,
        edge_mask=None,
    ) -> torch.Tensor:
        """Per-particle energies (N,) kT from raw tensors (see Graph for shapes); the edge
        vectors are recomputed from positions, shifts and cell so autograd reaches them.
        edge_mask: as in node_features."""
        features = self.node_features(
            positions, cell, types, batch, senders, receivers, shifts, descriptors, edge_mask
        )
        return self.energies_from_features(features, types)

    def energies_from_features(self, features, types) -> torch.Tensor:
        """Per-particle energies (N,) kT from the last layer's features (N, F)."""
        energies = self.readout(features).squeeze(-1)
        return energies * self.energy_scale[types] + self.energy_shift[types]

    def node_features(
        self,
        positions,
        cell,
        types,
        batch,
        senders,
        receivers,
        shifts,
        descriptors=None,
        edge_mask=None,
    ) -> torch.Tensor:
        """The last layer's node features (N, num_features), all scalars (0e).

        edge_mask: optional (E,) float factor on edge e's message in every layer (its path
        weights are multiplied by it; the message is linear in them), differentiable, e.g.
        for explainers: 1 keeps an edge, 0 gives the graph without it. None (default) is the
        unmasked model, bit for bit."""
        edge_mask = _checked_edge_mask(edge_mask, senders.shape[0], positions)
        if cell.shape[0] == 1:
            offsets = shifts @ cell[0]
        else:
            offsets = torch.einsum("ek,ekl->el", shifts, cell[batch[receivers]])
        edge_vectors = positions[senders] - positions[receivers] + offsets
        lengths = torch.linalg.norm(edge_vectors, dim=-1)
        edge_sh = self.spherical_harmonics(edge_vectors)
        edge_basis = self.bessel(lengths) * self.cutoff(lengths).unsqueeze(-1)
        node_attrs = torch.nn.functional.one_hot(types, self.num_types).to(positions.dtype)
        if self.node_descriptors:
            if descriptors is None:
                raise InputError(f"this model needs {self.node_descriptors} node descriptors")
            node_attrs = torch.cat([node_attrs, descriptors.to(positions.dtype)], dim=-1)
        features = self.type_embedding(node_attrs)
        for layer in self.layers:
            features = layer(
                features, node_attrs, edge_sh, edge_basis, senders, receivers, edge_mask
            )
        return features

    def forward(
        self,
        graph: Graph,
        *,
        compute_forces: bool = True,
        compute_stress: bool = False,
        create_graph: bool | None = None,
        edge_mask: torch.Tensor | None = None,
    ):
        """Evaluate a Graph. Returns a dict: "energies" (N,) kT, "energy" (B,) kT, and when
        asked "forces" (N, 3) kT/nm, "virial" (B, 3, 3) kT and "stress" (B, 3, 3) kT/nm^3
        (= dE/d strain / volume, zero volume -> zero stress), and for a model with per-atom
        targets "per_atom" {name: (N,)} in label units. create_graph defaults to
        self.training (forces that can be trained on). edge_mask: optional (E,) factor on
        every layer's message along each edge of graph (see node_features)."""
        if create_graph is None:
            create_graph = self.training
        positions, cell, inputs = differentiable_inputs(graph, compute_forces, compute_stress)
        features = self.node_features(
            positions,
            cell,
            graph.types,
            graph.batch,
            graph.senders,
            graph.receivers,
            graph.shifts,
            graph.descriptors,
            edge_mask,
        )
        energies = self.energies_from_features(features, graph.types)
        if graph.num_graphs == 1:
            energy = energies.sum().reshape(1)
        else:
            energy = torch.zeros(
                graph.num_graphs, dtype=energies.dtype, device=energies.device
            ).index_add(0, graph.batch, energies)
        out = {"energies": energies, "energy": energy}
        if self.per_atom_heads is not None:
            out["per_atom"] = self.per_atom_heads(features)
        out.update(
            energy_derivatives(
                energy, inputs, graph.cell, compute_forces, compute_stress, create_graph
            )
        )
        return out


def differentiable_inputs(graph: Graph, compute_forces: bool, compute_stress: bool):
    """(positions, cell, inputs) of a forward pass: positions made a leaf that requires
    grad when forces or stress are asked, and for stress a zero (B, 3, 3) strain applied
    symmetrically to positions and cell; inputs lists the leaves to differentiate."""
    positions, cell = graph.positions, graph.cell
    inputs = []
    if compute_forces or compute_stress:
        positions = positions.detach().requires_grad_(True)
        inputs.append(positions)
    if compute_stress:
        strain = torch.zeros_like(cell, requires_grad=True)
        symmetric = 0.5 * (strain + strain.transpose(1, 2))
        positions = positions + torch.einsum("ni,nij->nj", positions, symmetric[graph.batch])
        cell = cell + torch.bmm(cell, symmetric)
        inputs.append(strain)
    return positions, cell, inputs


def energy_derivatives(
    energy, inputs, cell, compute_forces: bool, compute_stress: bool, create_graph: bool
) -> dict:
    """ "forces" (N, 3) = -dE/dx and "virial" / "stress" (B, 3, 3) = -dE/d strain and
    dE/d strain / volume (zero volume -> zero stress) from the (B,) energies and the
    leaves of `differentiable_inputs`; {} when nothing was asked."""
    if not inputs:
        return {}
    if not energy.requires_grad:  # e.g. frozen parameters and no edges
        energy = energy + 0.0 * sum(x.sum() for x in inputs)
    grads = torch.autograd.grad(
        energy.sum(), inputs, create_graph=create_graph, allow_unused=True, materialize_grads=True
    )
    out = {}
    if compute_forces:
        out["forces"] = -grads[0]
    if compute_stress:
        virial = -grads[-1]
        volume = torch.linalg.det(cell).abs()
        safe = torch.where(volume > 0, volume, torch.ones_like(volume))
        out["virial"] = virial
        out["stress"] = torch.where(
            (volume > 0)[:, None, None], -virial / safe[:, None, None], torch.zeros_like(virial)
        )
    return out


def _checked_edge_mask(edge_mask, num_edges: int, positions: torch.Tensor):
    """The edge mask as a (E,) tensor of the positions' dtype and device, or None."""
    if edge_mask is None:
        return None
    if not isinstance(edge_mask, torch.Tensor) or not edge_mask.is_floating_point():
        kind = getattr(edge_mask, "dtype", type(edge_mask).__name__)
        raise InputError(
            f"edge_mask must be a floating-point torch tensor of shape ({num_edges},), got {kind}"
        )
    if tuple(edge_mask.shape) != (num_edges,):
        raise InputError(
            f"edge_mask must have shape ({num_edges},) (one factor per edge), got "
            f"{tuple(edge_mask.shape)}"
        )
    return edge_mask.to(device=positions.device, dtype=positions.dtype)
