"""Per-atom explanations through torch-geometric's GNNExplainer: the mask carrier hands PyG's
masks to NequIP's edge-mask hook, the explainer finds the one edge a constructed model's
answer rests on (NequIP and a PyG GATConv model), masks live on the receptive field."""

import numpy as np
import pytest
import torch

pytest.importorskip("torch_geometric")

from torch_geometric.explain.algorithm.utils import clear_masks, set_masks  # noqa: E402
from torch_geometric.nn import GATConv  # noqa: E402

from pgnfast.systems.glass.explain import (  # noqa: E402
    GROUP_BANDS,
    NequIPExplainModel,
    explain_atoms,
    explain_glass,
    sample_atoms,
)
from pgnfast.systems.glass.topology import receptive_field  # noqa: E402
from pgnfast.testing import random_graph, small_model  # noqa: E402


def _model(rng, **overrides):
    model = small_model(
        torch.float64, seed=int(rng.integers(2**31)), per_atom_targets=("barrier",), **overrides
    )
    model.set_per_atom_statistics({"barrier": (0.7, 0.2)})
    return model


def _graph(model, rng, num_particles=12, box=1.5):
    return random_graph(model, num_particles=num_particles, box=box, seed=int(rng.integers(2**31)))


def _inputs(graph):
    edge_index = torch.stack([graph.senders, graph.receivers])
    return edge_index, {"types": graph.types}, {"shifts": graph.shifts}


def test_carrier_hands_pyg_masks_to_the_nequip_hook(rng):
    model = _model(rng)
    graph = _graph(model, rng)
    adapter = NequIPExplainModel(model, graph.cell[0], "barrier", standardise=False)
    edge_index, node_inputs, edge_inputs = _inputs(graph)
    inputs = {**node_inputs, **edge_inputs}
    unmasked = model(graph, compute_forces=False)["per_atom"]["barrier"]
    assert torch.equal(adapter(graph.positions, edge_index, **inputs), unmasked)
    logits = torch.as_tensor(rng.normal(size=edge_index.shape[1]))
    for apply_sigmoid in (True, False):
        set_masks(adapter, logits, edge_index, apply_sigmoid=apply_sigmoid)
        factor = logits.sigmoid() if apply_sigmoid else logits
        expected = model(graph, compute_forces=False, edge_mask=factor)["per_atom"]["barrier"]
        torch.testing.assert_close(
            adapter(graph.positions, edge_index, **inputs), expected, rtol=0, atol=1e-13
        )
        clear_masks(adapter)
    assert torch.equal(adapter(graph.positions, edge_index, **inputs), unmasked)
    standardised = NequIPExplainModel(model, graph.cell[0], "barrier")
    torch.testing.assert_close(
        standardised(graph.positions, edge_index, **inputs), (unmasked - 0.7) / 0.2
    )


# GNNExplainer's entropy term is a mean over edges and its size term a sum: on a glass's
# thousands of field edges the size term pulls every edge whose prediction error gradient is
# weaker down, but on a handful of edges the entropy term would push each weak edge to the
# side of 0.5 it started on. These weights give a few-edge test the glass's balance.
# Trained long enough to converge (PyG's default 100 epochs at lr 0.01 move a mask logit by
# at most about 1, so on a few edges the random start would still show).
FEW_EDGES = {"edge_size": 0.05, "edge_ent": 0.0}  # no entropy push: unused edges fall
CONVERGED = {"epochs": 200, "lr": 0.05}


def _one_edge_nequip(rng):
    """A one-layer NequIP on a graph where atom `atom` hears one type-1 atom (its nearest
    neighbour), every other
    atom being type 0 with a type embedding 1000 times weaker: its answer rests on one edge."""
    model = _model(rng, num_layers=1)
    graph = _graph(model, rng, num_particles=14, box=1.6)
    in_degree = torch.bincount(graph.receivers, minlength=graph.num_nodes)
    atom = int(torch.argmax(in_degree))
    into = torch.nonzero(graph.receivers == atom).flatten()
    vectors = graph.positions[graph.senders[into]] - graph.positions[atom]
    lengths = torch.linalg.norm(vectors + graph.shifts[into] @ graph.cell[0], dim=1)
    key = int(into[torch.argmin(lengths)])  # the shortest: far from the smooth cutoff
    types = torch.zeros_like(graph.types)
    types[graph.senders[key]] = 1
    graph.types = types
    with torch.no_grad():
        embedding = model.type_embedding.weight.view(model.num_types, -1)
        embedding[0] *= 1e-3
        mask = torch.ones(graph.senders.shape[0], dtype=torch.float64)
        mask[key] = 0.0
        full = model(graph, compute_forces=False)["per_atom"]["barrier"][atom]
        without = model(graph, compute_forces=False, edge_mask=mask)["per_atom"]["barrier"][atom]
        # scale the head so that dropping the edge moves the prediction by one std
        _, std = model.per_atom_statistics()["barrier"]
        last = model.per_atom_heads.heads["barrier"].mlp[-1]
        last.weight *= std / float(abs(full - without))
        last.bias *= std / float(abs(full - without))
    return model, graph, atom, key


def test_explainer_finds_the_one_edge_of_a_nequip_model(rng):
    model, graph, atom, key = _one_edge_nequip(rng)
    adapter = NequIPExplainModel(model, graph.cell[0], "barrier")
    edge_index, node_inputs, edge_inputs = _inputs(graph)
    inputs = {**node_inputs, **edge_inputs}
    (explanation,) = explain_atoms(
        adapter,
        graph.positions,
        edge_index,
        [atom],
        num_layers=1,
        node_inputs=node_inputs,
        edge_inputs=edge_inputs,
        coefficients=FEW_EDGES,
        **CONVERGED,
        seed=int(rng.integers(1000)),
    )
    np.testing.assert_array_equal(explanation.field.edges, np.flatnonzero(graph.receivers == atom))
    best = explanation.field.edges[np.argmax(explanation.edge_mask)]
    assert best == key, (explanation.edge_mask, explanation.field.edges, key)
    others = np.delete(explanation.edge_mask, np.argmax(explanation.edge_mask))
    assert explanation.edge_mask.max() > others.max() + 0.1
    # the explainer leaves the model as it was: unmasked, parameters trainable
    assert all(p.requires_grad for p in model.parameters())
    with torch.no_grad():
        after = adapter(graph.positions, edge_index, **inputs)
    assert float(after[atom]) == explanation.prediction


class _GAT(torch.nn.Module):
    def __init__(self, features, layers):
        super().__init__()
        self.convs = torch.nn.ModuleList(
            [GATConv(features, features, heads=1, bias=False) for _ in range(layers)]
        )
        self.readout = torch.nn.Linear(features, 1, bias=False)

    def forward(self, x, edge_index):
        for conv in self.convs:
            x = conv(x, edge_index)
        return self.readout(x)


def _random_edges(rng, n, probability=0.3):
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j and rng.uniform() < probability]
    return torch.as_tensor(np.array(pairs).T, dtype=torch.int64)


def test_explainer_finds_the_one_edge_of_a_gat_model(rng):
    torch.manual_seed(int(rng.integers(2**31)))
    n, features = 10, 4
    edge_index = _random_edges(rng, n)
    atom = int(torch.mode(edge_index[1]).values)
    into = torch.nonzero(edge_index[1] == atom).flatten()
    key = int(into[rng.integers(len(into))])
    x = 1e-3 * torch.randn(n, features)
    x[edge_index[0, key]] = torch.randn(features)
    model = _GAT(features, layers=1)
    with torch.no_grad():  # scale the readout so that dropping the edge moves it by one
        full = model(x, edge_index)[atom]
        mask = torch.ones(edge_index.shape[1])
        mask[key] = 0.0
        set_masks(model, mask, edge_index, apply_sigmoid=False)
        without = model(x, edge_index)[atom]
        clear_masks(model)
        model.readout.weight /= float(abs(full - without))
    (explanation,) = explain_atoms(
        model, x, edge_index, [atom], num_layers=1, coefficients=FEW_EDGES, **CONVERGED, seed=5
    )
    best = explanation.field.edges[np.argmax(explanation.edge_mask)]
    assert best == key, (explanation.edge_mask, key)


def test_masks_cover_the_receptive_field_of_a_two_layer_gat(rng):
    torch.manual_seed(int(rng.integers(2**31)))
    n = 14
    edge_index = _random_edges(rng, n, probability=0.12)
    model = _GAT(3, layers=2)
    x = torch.randn(n, 3)
    atoms = rng.choice(n, 2, replace=False)
    explanations = explain_atoms(model, x, edge_index, atoms, num_layers=2, epochs=20)
    for atom, explanation in zip(atoms, explanations):
        field = receptive_field(edge_index[0].numpy(), edge_index[1].numpy(), n, atom, 2)
        np.testing.assert_array_equal(explanation.field.edges, field.edges)
        assert explanation.edge_mask.shape == field.edges.shape
        assert ((explanation.edge_mask > 0) & (explanation.edge_mask < 1)).all()


def test_receptive_field_is_where_nequip_gradients_reach(rng):
    model = _model(rng)  # two layers
    graph = _graph(model, rng, num_particles=16, box=1.9)
    atom = int(rng.integers(graph.num_nodes))
    mask = torch.ones(graph.senders.shape[0], dtype=torch.float64, requires_grad=True)
    value = model(graph, compute_forces=False, edge_mask=mask)["per_atom"]["barrier"][atom]
    (gradient,) = torch.autograd.grad(value, mask)
    field = receptive_field(
        graph.senders.numpy(), graph.receivers.numpy(), graph.num_nodes, atom, 2
    )
    np.testing.assert_array_equal(np.flatnonzero(gradient.numpy() != 0), field.edges)


def test_explanations_follow_the_seed(rng):
    model = _model(rng)
    graph = _graph(model, rng)
    adapter = NequIPExplainModel(model, graph.cell[0], "barrier")
    edge_index, node_inputs, edge_inputs = _inputs(graph)
    runs = [
        explain_atoms(
            adapter, graph.positions, edge_index, [0], num_layers=2,
            node_inputs=node_inputs, edge_inputs=edge_inputs, epochs=5, seed=seed,
        )[0].edge_mask
        for seed in (1, 1, 2)
    ]  # fmt: skip
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_sample_atoms_draws_from_each_band(rng):
    predictions = rng.normal(size=200)
    groups = sample_atoms(predictions, 4, rng)
    ranks = np.argsort(np.argsort(predictions)) / len(predictions)
    for name, (low, high) in GROUP_BANDS.items():
        assert len(groups[name]) == 4 and len(set(groups[name])) == 4
        assert ((ranks[groups[name]] >= low - 1e-12) & (ranks[groups[name]] < high)).all()


def test_explain_glass_end_to_end(rng):
    model = _model(rng)
    graph = _graph(model, rng, num_particles=20, box=1.7)
    result = explain_glass(
        model,
        graph.positions.numpy(),
        graph.cell[0].numpy(),
        graph.types.numpy(),
        per_group=1,
        epochs=5,
        seed=int(rng.integers(1000)),
    )
    assert set(result.groups) == set(GROUP_BANDS)
    assert [e.atom for e in result.explanations] == sum(result.groups.values(), [])
    expected = model(graph, compute_forces=False)["per_atom"]["barrier"].detach().numpy()
    np.testing.assert_allclose(result.predictions, expected, rtol=0, atol=1e-12)
    for explanation in result.explanations:
        assert explanation.prediction == pytest.approx(expected[explanation.atom], abs=1e-12)
        assert explanation.edge_mask.shape == explanation.field.edges.shape
