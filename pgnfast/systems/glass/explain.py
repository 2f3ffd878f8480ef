"""Per-atom explanations of per-atom regression models with torch-geometric's GNNExplainer
(issue 16): which edges of an atom's receptive field its predicted barrier rests on.

torch-geometric applies an explainer's edge mask only inside its MessagePassing modules
(`torch_geometric.explain.algorithm.utils.set_masks` sets `_edge_mask`, `_apply_sigmoid`
and `explain` on each). pgnfast's NequIP is not built from them, so `NequIPExplainModel`
holds one, `EdgeMaskCarrier`, whose propagate step runs torch-geometric's own
`explain_message` on a message of ones per edge: what comes out is the factor PyG applies
to that edge (the sigmoided mask while GNNExplainer trains it, the raw mask for
`get_masked_prediction`, nothing when no explainer is attached), and it goes to NequIP's
edge-mask hook (`NequIP.forward(..., edge_mask=)`, which multiplies every layer's messages).
A model built from PyG layers (GATConv, the SymGNN baseline) is explained as it is;
SymGNN's sampled transformations are held fixed (`explain_symgnn_glass`).

    from pgnfast.systems.glass.explain import explain_glass
    result = explain_glass(model, glass.positions, glass.cell, glass.types, per_group=3)

Each atom is explained on its receptive field alone (the atoms within num_layers hops and
the edges into atoms within num_layers - 1 hops): its prediction there must equal the one
on the whole glass, which is checked. Predictions are explained in units of the target's
standard deviation (the model's label statistics), so the explainer's loss weights mean the
same for any label unit.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch_geometric.explain import Explainer
from torch_geometric.explain.algorithm import GNNExplainer
from torch_geometric.nn import MessagePassing

from ...errors import InputError
from ...nn.graph import Graph, build_graph
from ...validation import check_indices, check_seed
from .topology import ReceptiveField, receptive_field

__all__ = [
    "AtomExplanation",
    "EdgeMaskCarrier",
    "GlassExplanations",
    "NequIPExplainModel",
    "SymGNNExplainModel",
    "explain_atoms",
    "explain_glass",
    "explain_symgnn_glass",
    "sample_atoms",
]

GROUP_BANDS = {"low": (0.0, 0.1), "middle": (0.45, 0.55), "high": (0.9, 1.0)}
"""Quantile bands of the predicted target from which each group's atoms are drawn."""


class EdgeMaskCarrier(MessagePassing):
    """Carries the edge mask torch-geometric's explainers set on MessagePassing modules to a
    model with an edge-mask hook. forward(edge_index (2, E), num_nodes, dtype) returns the
    (E,) factor PyG's explain_message applies to each edge, or None when no explainer is
    attached (then the model runs unmasked, bit for bit)."""

    def __init__(self):
        super().__init__(aggr="sum")

    def forward(self, edge_index: torch.Tensor, num_nodes: int, dtype=torch.float64):
        if not self.explain:
            return None
        ones = torch.ones(edge_index.shape[1], 1, dtype=dtype, device=edge_index.device)
        return self.propagate(edge_index, ones=ones, size=(num_nodes, num_nodes)).squeeze(-1)

    def message(self, ones: torch.Tensor) -> torch.Tensor:
        return ones

    def aggregate(self, inputs: torch.Tensor, index: torch.Tensor, dim_size=None):
        return inputs  # one factor per edge, not a sum per node


class NequIPExplainModel(torch.nn.Module):
    """A per-atom target of a NequIP model as torch-geometric's explainers call models.

    forward(x, edge_index, types, shifts, descriptors=None) -> (N,): x the positions (N, 3)
    in the model's length unit, edge_index (2, E) int64 rows (senders, receivers) with
    receivers sorted, types (N,), shifts (E, 3) periodic images of the senders in cell
    rows. Returns (prediction - mean) / std of `target` (label statistics of the model) if
    standardise, else the prediction in label units. cell: (3, 3) box rows of the single
    periodic system (zeros for an open one)."""

    def __init__(self, model, cell, target: str = "barrier", *, standardise: bool = True):
        super().__init__()
        if target not in model.per_atom_targets:
            raise InputError(
                f"the model has no per-atom target {target!r} (it has {model.per_atom_targets})"
            )
        self.model, self.target = model, target
        self.edge_mask_carrier = EdgeMaskCarrier()
        cell = torch.as_tensor(np.asarray(cell, np.float64), dtype=model.dtype)
        if cell.shape != (3, 3):
            raise InputError(f"cell must have shape (3, 3), got {tuple(cell.shape)}")
        self.register_buffer("cell", cell.reshape(1, 3, 3))
        mean, std = model.per_atom_statistics()[target] if standardise else (0.0, 1.0)
        self.mean, self.std = float(mean), float(std)

    def forward(self, x, edge_index, types, shifts, descriptors=None) -> torch.Tensor:
        num_nodes = x.shape[0]
        graph = Graph(
            positions=x,
            types=types,
            cell=self.cell,
            batch=torch.zeros(num_nodes, dtype=torch.int64, device=x.device),
            senders=edge_index[0],
            receivers=edge_index[1],
            shifts=shifts,
            num_graphs=1,
            descriptors=descriptors,
        )
        mask = self.edge_mask_carrier(edge_index, num_nodes, x.dtype)
        out = self.model(graph, compute_forces=False, edge_mask=mask)
        return (out["per_atom"][self.target] - self.mean) / self.std


@dataclass(frozen=True)
class AtomExplanation:
    """GNNExplainer's answer for one atom. field: its ReceptiveField (atoms, hops, edges as
    indices of the whole graph); edge_mask (K,) in [0, 1], one entry per field.edges;
    prediction: the model's output at the atom (the explained model's units); node_mask:
    (M, F) per field.nodes when a node mask was asked for, else None."""

    atom: int
    prediction: float
    field: ReceptiveField
    edge_mask: np.ndarray
    node_mask: np.ndarray | None = None


@contextlib.contextmanager
def _frozen(model: torch.nn.Module):
    """The model in eval mode with parameters without gradients for the duration
    (explainers train only masks); its mode and flags restored after."""
    training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for parameter, _ in flags:
        parameter.requires_grad_(False)
    try:
        yield
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)
        model.train(training)


def _per_node(name: str, value, size: int, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or value.dim() == 0 or value.shape[0] != size:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise InputError(f"{name} must be a tensor with {size} rows (one per {what}), got {shape}")
    return value


def _outputs(values: torch.Tensor, num_nodes: int) -> torch.Tensor:
    values = values.detach()
    if values.shape not in ((num_nodes,), (num_nodes, 1)):
        raise InputError(
            f"the model must return one value per atom, shape ({num_nodes},) or "
            f"({num_nodes}, 1); got {tuple(values.shape)}"
        )
    return values.reshape(num_nodes)


def explain_atoms(
    model: torch.nn.Module,
    x: torch.Tensor,
    edge_index: torch.Tensor,
    atoms,
    *,
    num_layers: int,
    node_inputs: dict | None = None,
    edge_inputs: dict | None = None,
    epochs: int = 100,
    lr: float = 0.01,
    coefficients: dict | None = None,
    node_mask_type: str | None = None,
    seed: int = 0,
    progress: bool = False,
) -> list[AtomExplanation]:
    """Explain model(x, edge_index, **node_inputs, **edge_inputs) -> (N,) or (N, 1) at each
    of `atoms` with torch-geometric's Explainer and GNNExplainer (mode "regression", return
    type "raw", node level, one mask value per edge). Each atom is explained on its
    receptive field for num_layers message-passing layers (node_inputs sliced per atom,
    edge_inputs per edge); InputError if the model's output at the atom differs there from
    the whole graph's (num_layers too small, or a model that mixes distant atoms, such as
    a graph-wide normalisation). coefficients: GNNExplainer loss weights (edge_size,
    edge_ent, ...). Each atom's mask starts from a torch seed drawn from (seed, atom)."""
    node_inputs, edge_inputs = dict(node_inputs or {}), dict(edge_inputs or {})
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        raise InputError(f"x must be an (N, F) tensor, got {getattr(x, 'shape', type(x))}")
    num_nodes = x.shape[0]
    if (
        not isinstance(edge_index, torch.Tensor)
        or edge_index.dim() != 2
        or edge_index.shape[0] != 2
    ):
        raise InputError(
            f"edge_index must be a (2, E) tensor, got {getattr(edge_index, 'shape', None)}"
        )
    senders = check_indices(edge_index[0].cpu().numpy(), num_nodes, "edge_index[0]")
    receivers = check_indices(edge_index[1].cpu().numpy(), num_nodes, "edge_index[1]")
    num_edges = edge_index.shape[1]
    for name, value in node_inputs.items():
        _per_node(name, value, num_nodes, "atom")
    for name, value in edge_inputs.items():
        _per_node(name, value, num_edges, "edge")
    atoms = check_indices(np.atleast_1d(np.asarray(atoms)), num_nodes, "atoms")
    seed = check_seed(seed)
    explainer = Explainer(
        model=model,
        algorithm=GNNExplainer(epochs=int(epochs), lr=float(lr), **(coefficients or {})),
        explanation_type="model",
        node_mask_type=node_mask_type,
        edge_mask_type="object",
        model_config=dict(mode="regression", task_level="node", return_type="raw"),
    )
    with _frozen(model), torch.no_grad():
        full = _outputs(model(x, edge_index, **node_inputs, **edge_inputs), num_nodes)
    tolerance = 1e-5 * max(1.0, float(full.abs().max()))
    explanations = []
    iterator = atoms.tolist()
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="explaining atoms")
    with _frozen(model):
        for atom in iterator:
            field = receptive_field(senders, receivers, num_nodes, atom, num_layers)
            relabel = torch.full((num_nodes,), -1, dtype=torch.int64)
            relabel[field.nodes] = torch.arange(len(field.nodes))
            nodes = torch.as_tensor(field.nodes, device=x.device)
            edges = torch.as_tensor(field.edges, device=x.device)
            local = int(relabel[atom])
            inputs = {k: v[nodes] for k, v in node_inputs.items()}
            inputs.update({k: v[edges] for k, v in edge_inputs.items()})
            sub_edge_index = relabel.to(x.device)[edge_index[:, edges]]
            atom_seed = int(np.random.SeedSequence([seed, atom]).generate_state(1)[0])
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(atom_seed)
                explanation = explainer(x[nodes], sub_edge_index, index=local, **inputs)
            prediction = _outputs(explanation.prediction, len(field.nodes))[local]
            if abs(float(prediction) - float(full[atom])) > tolerance:
                raise InputError(
                    f"atom {atom}: the model's output on its receptive field for num_layers="
                    f"{num_layers} ({float(prediction):.6g}) differs from the whole graph's "
                    f"({float(full[atom]):.6g}): num_layers is smaller than the model's, or "
                    f"the model mixes atoms beyond message passing"
                )
            node_mask = explanation.get("node_mask")
            explanations.append(
                AtomExplanation(
                    atom=int(atom),
                    prediction=float(full[atom]),
                    field=field,
                    edge_mask=explanation.edge_mask.detach().cpu().numpy().astype(np.float64),
                    node_mask=None if node_mask is None else node_mask.detach().cpu().numpy(),
                )
            )
    return explanations


def sample_atoms(predictions, per_group: int, rng: np.random.Generator, bands=None) -> dict:
    """{group: sorted atom indices}: per_group atoms drawn without replacement from each
    quantile band of the predictions (default GROUP_BANDS: lowest tenth, middle tenth,
    highest tenth); fewer where a band holds fewer atoms."""
    predictions = np.asarray(predictions, np.float64)
    if predictions.ndim != 1 or predictions.size == 0:
        raise InputError(f"predictions must be a non-empty (N,) array, got {predictions.shape}")
    if int(per_group) < 1:
        raise InputError(f"per_group must be >= 1, got {per_group}")
    order = np.argsort(predictions, kind="stable")
    groups = {}
    for name, (low, high) in (bands or GROUP_BANDS).items():
        if not 0.0 <= low < high <= 1.0:
            raise InputError(f"band {name!r} must satisfy 0 <= low < high <= 1, got {(low, high)}")
        start = int(np.floor(low * len(order) + 1e-9))
        stop = max(int(np.ceil(high * len(order) - 1e-9)), start + 1)
        band = order[start:stop]
        groups[name] = np.sort(rng.choice(band, size=min(int(per_group), len(band)), replace=False))
    return groups


@dataclass(frozen=True)
class GlassExplanations:
    """Explanations of one glass. positions (N, 3), cell (3, 3), senders, receivers (E,):
    the graph explained; predictions (N,) of the target (label units); groups {name: atom
    indices}; explanations: one AtomExplanation per explained atom (groups in order)."""

    positions: np.ndarray
    cell: np.ndarray
    senders: np.ndarray
    receivers: np.ndarray
    predictions: np.ndarray
    groups: dict
    explanations: list
    num_layers: int


def explain_glass(
    model,
    positions,
    cell,
    types,
    *,
    target: str = "barrier",
    per_group: int = 3,
    atoms=None,
    epochs: int = 100,
    lr: float = 0.01,
    coefficients: dict | None = None,
    seed: int = 0,
    progress: bool = False,
) -> GlassExplanations:
    """Explain a NequIP per-atom target on one periodic glass (positions (N, 3) and cell
    (3, 3) in the model's length unit, types (N,)): per_group atoms from the low, middle
    and high bands of the predicted target (or the given atoms, group "chosen"), each by
    explain_atoms on NequIPExplainModel."""
    graph = build_graph(
        [(positions, cell, types, True)], model.r_max, dtype=model.dtype, num_types=model.num_types
    )
    adapter = NequIPExplainModel(model, graph.cell[0], target)
    with torch.no_grad():
        predictions = model(graph, compute_forces=False)["per_atom"][target].cpu().numpy()
    return _explain_groups(
        adapter,
        graph.positions,
        torch.stack([graph.senders, graph.receivers]),
        predictions,
        positions=graph.positions.cpu().numpy(),
        cell=graph.cell[0].cpu().numpy(),
        num_layers=model.num_layers,
        node_inputs={"types": graph.types},
        edge_inputs={"shifts": graph.shifts},
        per_group=per_group,
        atoms=atoms,
        explain_options=dict(
            epochs=epochs, lr=lr, coefficients=coefficients, seed=seed, progress=progress
        ),
    )


def _explain_groups(
    adapter,
    x,
    edge_index,
    predictions,
    *,
    positions,
    cell,
    num_layers,
    per_group,
    atoms,
    explain_options,
    node_inputs=None,
    edge_inputs=None,
) -> GlassExplanations:
    """explain_atoms on the atoms of each prediction band (or the given atoms, group
    "chosen"), with each explanation's prediction in label units (the adapters explain
    standardised ones)."""
    if atoms is None:
        rng = np.random.default_rng(check_seed(explain_options["seed"]))
        groups = sample_atoms(predictions, per_group, rng)
    else:
        groups = {"chosen": np.asarray(atoms)}
    explanations = explain_atoms(
        adapter,
        x,
        edge_index,
        np.concatenate(list(groups.values())),
        num_layers=num_layers,
        node_inputs=node_inputs,
        edge_inputs=edge_inputs,
        **explain_options,
    )
    explanations = [replace(e, prediction=float(predictions[e.atom])) for e in explanations]
    return GlassExplanations(
        positions=np.asarray(positions, np.float64),
        cell=np.asarray(cell, np.float64),
        senders=edge_index[0].cpu().numpy(),
        receivers=edge_index[1].cpu().numpy(),
        predictions=np.asarray(predictions, np.float64),
        groups={name: [int(a) for a in members] for name, members in groups.items()},
        explanations=explanations,
        num_layers=num_layers,
    )


class SymGNNExplainModel(torch.nn.Module):
    """The SymGNN baseline as torch-geometric's explainers call models, with its sampled
    transformations held fixed: forward(x, edge_index, edge_vectors) -> (N,) standardised
    barriers ((prediction - label mean) / label std). x: (N, 2) one-hot types; edge_index
    (2, E) (sender, receiver); edge_vectors (E, 3) Angstrom. frames: SymGNN.sample_frames of
    the whole glass. Its equivariant sampler draws the frames from every atom it sees, so
    without fixed frames a receptive field would predict something else than the glass."""

    def __init__(self, model, frames):
        super().__init__()
        self.model, self.frames = model, frames

    def forward(self, x, edge_index, edge_vectors) -> torch.Tensor:
        out = self.model(x, edge_index, edge_vectors, frames=self.frames)
        return (out - self.model.label_mean) / self.model.label_std


def explain_symgnn_glass(
    model,
    positions,
    cell,
    types,
    *,
    per_group: int = 3,
    atoms=None,
    epochs: int = 100,
    lr: float = 0.01,
    coefficients: dict | None = None,
    seed: int = 0,
    progress: bool = False,
) -> GlassExplanations:
    """Explain the SymGNN baseline's barriers on one periodic glass (positions (N, 3) and
    cell (3, 3) Angstrom, types (N,) 0 Cu / 1 Zr) as explain_glass explains NequIP: atoms
    from the low, middle and high bands of the prediction (or the given atoms), each on its
    receptive field of the model's graph (its cutoff, model.receptive_hops layers), with the
    transformations drawn once from the whole glass (seed) and held fixed."""
    from .baselines.graphs import graph_from_arrays

    dtype = next(model.parameters()).dtype
    graph = graph_from_arrays(positions, types, cell, model.config["cutoff"], dtype=dtype)
    x = torch.nn.functional.one_hot(graph.types, 2).to(dtype)
    model.eval()
    with torch.no_grad():
        frames = model.sample_frames(x, graph.edge_index, graph.edge_vectors, seed=seed)
        adapter = SymGNNExplainModel(model, frames)
        predictions = model(x, graph.edge_index, graph.edge_vectors, frames=frames).numpy()
    return _explain_groups(
        adapter,
        x,
        graph.edge_index,
        predictions,
        positions=positions,
        cell=cell if np.ndim(cell) == 2 else np.diag(cell),
        num_layers=model.receptive_hops,
        edge_inputs={"edge_vectors": graph.edge_vectors},
        per_group=per_group,
        atoms=atoms,
        explain_options=dict(
            epochs=epochs, lr=lr, coefficients=coefficients, seed=seed, progress=progress
        ),
    )
