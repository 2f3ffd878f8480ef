"""The direct-force baseline (issue 14): a message-passing network that predicts forces, not
an energy, in the manner of GAMD (Li et al. 2022) as used by Mohanty, Wang and Cai (2024).

Architecture (scalars only): a type embedding h_i; `num_layers` rounds of edge messages
m_ij = MLP([h_i, h_j, b(r_ij)]) u(r_ij) summed over the neighbours j of i (divided by
sqrt(avg_num_neighbors)) and added to h_i by a node MLP; then the force on particle i is

    F_i = force_scale * sum_j s(h_i, h_j, b(r_ij)) u(r_ij) (r_ij / |r_ij|),

with b a trainable Bessel basis, u the polynomial cutoff envelope and r_ij the vector from
i to j. F is rotation-equivariant, translation- and permutation-invariant by construction
but, as in the paper's model, has no energy and is not conservative (s is not symmetric in
i and j and depends on many-body features, so its curl is not zero). Trained on forces only.

The model is unit-free: r_max is in its data's length unit and forces in its force unit;
`units` records that system (default PGN: nm, kT) and `metadata` a free-form JSON-able dict.
Model files (:func:`save_direct_force_model`, :func:`load_direct_force_model`) follow
`pgnfast.nn.io`: atomic write, checksum, units, read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import inspect
import math
import os

import torch

from ..errors import FileFormatError, IncompatibleModelError, InputError
from ..units import check_units
from ..validation import check_positive
from .graph import Graph, build_graph
from .io import _package_version, model_record, read_model_record, record_checksum, write_record
from .layers import BesselBasis, PolynomialCutoff
from .model import UNITS

FILE_KIND = "pgnfast-direct-force-model"
FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = (1,)
DTYPES = ("float32", "float64")
INTEGER_BOUNDS = {
    "num_layers": (0, 64),
    "num_features": (1, 1 << 14),
    "num_bessel": (1, 1 << 12),
    "polynomial_cutoff_p": (1, 1 << 10),
    "num_types": (1, 1 << 16),
}


def _mlp(sizes) -> torch.nn.Sequential:
    layers = []
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(fan_in, fan_out))
        if index < len(sizes) - 2:
            layers.append(torch.nn.SiLU())
    return torch.nn.Sequential(*layers)


class DirectForceModel(torch.nn.Module):
    """Forces (N, 3) straight from edge vectors; no energy (see the module docstring).

    r_max: cutoff (length unit of the data). num_layers: message-passing rounds (0: the
    force edges see type embeddings only). num_features: width of node features and MLPs.
    num_bessel, polynomial_cutoff_p: radial basis size and envelope exponent.
    avg_num_neighbors: message normalisation (set from the data; None: 1). num_types,
    type_names: particle types. Call :meth:`set_force_scale` with the training forces' RMS.
    """

    has_energy = False
    metadata: dict
    units: dict

    def __init__(
        self,
        *,
        r_max: float,
        num_layers: int = 2,
        num_features: int = 32,
        num_bessel: int = 8,
        polynomial_cutoff_p: int = 6,
        avg_num_neighbors: float | None = None,
        num_types: int = 1,
        type_names=None,
    ):
        super().__init__()
        check_positive(r_max, "r_max")
        for name, value in (
            ("num_layers", num_layers),
            ("num_features", num_features),
            ("num_bessel", num_bessel),
            ("polynomial_cutoff_p", polynomial_cutoff_p),
            ("num_types", num_types),
        ):
            low, high = INTEGER_BOUNDS[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InputError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
        if avg_num_neighbors is not None:
            check_positive(avg_num_neighbors, "avg_num_neighbors")
        type_names = (
            list(type_names) if type_names is not None else [str(t) for t in range(num_types)]
        )
        if len(type_names) != num_types:
            raise InputError(f"type_names must name {num_types} types, got {type_names!r}")
        self.hyperparameters = dict(
            r_max=float(r_max),
            num_layers=num_layers,
            num_features=num_features,
            num_bessel=num_bessel,
            polynomial_cutoff_p=polynomial_cutoff_p,
            avg_num_neighbors=None if avg_num_neighbors is None else float(avg_num_neighbors),
            num_types=num_types,
            type_names=type_names,
        )
        self.metadata = {}
        self.units = dict(UNITS)
        width = num_features
        self.embedding = torch.nn.Linear(num_types, width)
        self.bessel = BesselBasis(r_max, num_bessel)
        self.cutoff = PolynomialCutoff(r_max, polynomial_cutoff_p)
        self.edge_mlps = torch.nn.ModuleList(
            [_mlp([2 * width + num_bessel, width, width]) for _ in range(num_layers)]
        )
        self.node_mlps = torch.nn.ModuleList(
            [_mlp([2 * width, width, width]) for _ in range(num_layers)]
        )
        self.force_mlp = _mlp([2 * width + num_bessel, width, width, 1])
        self.register_buffer("force_scale", torch.tensor(1.0))

    # -- properties shared with NequIP ----------------------------------------------------
    @property
    def r_max(self) -> float:
        return self.hyperparameters["r_max"]

    @property
    def num_types(self) -> int:
        return self.hyperparameters["num_types"]

    @property
    def type_names(self) -> list:
        return list(self.hyperparameters["type_names"])

    @property
    def receptive_field(self) -> float:
        """Distance beyond which a particle cannot change another's force."""
        return (self.hyperparameters["num_layers"] + 1) * self.r_max

    @property
    def dtype(self) -> torch.dtype:
        return self.force_scale.dtype

    def set_force_scale(self, scale: float) -> None:
        """The force unit the network's outputs are multiplied by (e.g. the RMS of the
        training forces)."""
        self.force_scale.fill_(check_positive(scale, "force scale"))

    def set_avg_num_neighbors(self, value: float | None) -> None:
        if value is not None:
            check_positive(value, "avg_num_neighbors")
        self.hyperparameters["avg_num_neighbors"] = None if value is None else float(value)

    # -- evaluation -----------------------------------------------------------------------
    def forward(self, graph: Graph) -> dict:
        """{"forces": (N, 3)} in the model's force unit for a Graph (any number of
        systems). There is no "energy": this model does not have one."""
        positions, cell = graph.positions, graph.cell
        senders, receivers = graph.senders, graph.receivers
        if cell.shape[0] == 1:
            offsets = graph.shifts @ cell[0]
        else:
            offsets = torch.einsum("ek,ekl->el", graph.shifts, cell[graph.batch[receivers]])
        vectors = positions[senders] - positions[receivers] + offsets  # receiver -> sender
        lengths = torch.linalg.norm(vectors, dim=-1)
        basis = self.bessel(lengths)
        envelope = self.cutoff(lengths).unsqueeze(-1)
        one_hot = torch.nn.functional.one_hot(graph.types, self.num_types).to(positions.dtype)
        features = self.embedding(one_hot)
        norm = 1.0 / math.sqrt(self.hyperparameters["avg_num_neighbors"] or 1.0)
        for edge_mlp, node_mlp in zip(self.edge_mlps, self.node_mlps):
            inputs = torch.cat([features[receivers], features[senders], basis], dim=-1)
            messages = edge_mlp(inputs) * envelope
            summed = torch.zeros_like(features).index_add(0, receivers, messages) * norm
            features = features + node_mlp(torch.cat([features, summed], dim=-1))
        inputs = torch.cat([features[receivers], features[senders], basis], dim=-1)
        weights = self.force_mlp(inputs) * envelope  # (E, 1)
        safe = torch.where(lengths > 0, lengths, torch.ones_like(lengths)).unsqueeze(-1)
        # attraction towards j for positive weights: force on i along (r_j - r_i)
        edge_forces = weights * vectors / safe
        forces = torch.zeros_like(positions).index_add(0, receivers, edge_forces)
        return {"forces": forces * self.force_scale}

    def predict_forces(
        self, positions, cell=None, types=None, pbc=True, *, neighbor_backend="auto"
    ):
        """Forces (N, 3) float64 numpy of one system: positions (N, 3) and cell (3, 3) rows in
        the model's length unit (cell None: a cluster), types (N,) ints (None: all 0)."""
        graph = build_graph(
            [(positions, cell, types, pbc)],
            self.r_max,
            dtype=self.dtype,
            device=self.force_scale.device,
            neighbor_backend=neighbor_backend,
            num_types=self.num_types,
        )
        with torch.no_grad():
            forces = self(graph)["forces"]
        return forces.detach().cpu().double().numpy()


# -- model files ---------------------------------------------------------------------------
def direct_force_record(model: DirectForceModel, metadata=None) -> dict:
    """The dictionary a direct-force model file holds (tensors on CPU)."""
    return model_record(model, metadata, kind=FILE_KIND)


def save_direct_force_model(model: DirectForceModel, path, metadata=None) -> None:
    """Write `model` to `path` atomically; metadata: a JSON-able dict (default
    model.metadata)."""
    if not isinstance(model, DirectForceModel):
        raise InputError(f"model must be a DirectForceModel, got {type(model).__name__}")
    write_record(direct_force_record(model, metadata), path)


def _check_hyperparameters(hyper: dict, source: str) -> None:
    known = set(inspect.signature(DirectForceModel.__init__).parameters) - {"self"}
    unknown = sorted(str(k) for k in set(hyper) - known)
    if unknown:
        raise IncompatibleModelError(
            f"{source} has unknown hyperparameters {unknown}; this pgnfast knows {sorted(known)}"
        )
    for name, (low, high) in INTEGER_BOUNDS.items():
        value = hyper.get(name, low)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise IncompatibleModelError(
                f"{source}: hyperparameter {name} = {value!r} is not an integer in "
                f"[{low}, {high}] (a damaged file?)"
            )
    r_max = hyper.get("r_max")
    if isinstance(r_max, bool) or not isinstance(r_max, (int, float)) or not r_max > 0:
        raise IncompatibleModelError(f"{source}: hyperparameter r_max = {r_max!r} is not > 0")


def direct_force_from_record(record: dict, source: str = "record") -> DirectForceModel:
    """Rebuild a model from :func:`direct_force_record` output."""
    if not isinstance(record, dict) or record.get("kind") != FILE_KIND:
        kind = record.get("kind") if isinstance(record, dict) else None
        raise IncompatibleModelError(
            f"{source} is not a pgnfast direct-force model file (its kind is {kind!r})"
        )
    if record.get("format_version") not in SUPPORTED_FORMAT_VERSIONS:
        raise IncompatibleModelError(
            f"{source} has direct-force format version {record.get('format_version')!r}; this "
            f"pgnfast {_package_version()} reads {SUPPORTED_FORMAT_VERSIONS}"
        )
    state = record.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FileFormatError(
            f"{source} is damaged: its state_dict is missing or holds non-tensors"
        )
    try:
        checksum = record_checksum(record)
    except (TypeError, ValueError, RuntimeError, KeyError) as error:
        raise FileFormatError(f"{source} is damaged: {error}") from error
    if checksum != record.get("checksum"):
        raise FileFormatError(
            f"{source} is damaged: its checksum does not match its contents (a partial copy or "
            f"a corrupted disk); use another copy or retrain"
        )
    hyper = record.get("hyperparameters")
    if not isinstance(hyper, dict):
        raise IncompatibleModelError(f"{source}: field 'hyperparameters' must be a dict")
    _check_hyperparameters(hyper, source)
    dtype_name = record.get("dtype")
    if dtype_name not in DTYPES:
        raise IncompatibleModelError(f"{source} has dtype {dtype_name!r}; expected one of {DTYPES}")
    units, metadata = record.get("units"), record.get("metadata") or {}
    if not isinstance(units, dict) or not isinstance(metadata, dict):
        raise IncompatibleModelError(f"{source}: fields 'units' and 'metadata' must be dicts")
    try:
        model = DirectForceModel(**hyper).to(getattr(torch, dtype_name))
        model.load_state_dict(state)
    except (TypeError, ValueError, KeyError, RuntimeError, InputError) as error:
        raise IncompatibleModelError(
            f"{source}: its weights do not fit its hyperparameters: {error}"
        ) from error
    model.units, model.metadata = dict(units), dict(metadata)
    return model


def load_direct_force_model(path, *, units=None, map_location="cpu") -> DirectForceModel:
    """Read a model written by :func:`save_direct_force_model` (eval mode). units: the unit
    system the caller works in ("atomistic", "pgn" or a dict); other recorded units raise
    UnitsError. A damaged file raises FileFormatError, another kind of file
    IncompatibleModelError."""
    path = os.fspath(path)
    record = read_model_record(path, map_location=map_location)
    model = direct_force_from_record(record, source=path)
    if units is not None:
        check_units(record.get("units"), units, f"model file {path}")
    return model.to(map_location).eval()


__all__ = [
    "FILE_KIND",
    "DirectForceModel",
    "direct_force_from_record",
    "direct_force_record",
    "load_direct_force_model",
    "save_direct_force_model",
]
