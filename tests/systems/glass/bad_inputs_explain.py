"""Bad inputs of the glass explanations and their topology: a receptive field too small for
the model, a target the model lacks, atoms out of range, per-edge inputs of the wrong
length, and topology settings that cannot be measured."""

from __future__ import annotations

import numpy as np
import torch

from pgnfast.errors import InputError
from tests.bad_inputs import bad_input


def _two_layer_gat(rng):
    from torch_geometric.nn import GATConv

    class TwoLayers(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.second = GATConv(3, 3), GATConv(3, 1)

        def forward(self, x, edge_index):
            return self.second(self.first(x, edge_index), edge_index)

    torch.manual_seed(int(rng.integers(2**31)))
    edge_index = torch.as_tensor(np.array([[0, 1, 2, 3, 1, 2], [1, 2, 3, 0, 0, 1]]))
    return TwoLayers(), torch.as_tensor(rng.normal(size=(4, 3)), dtype=torch.float32), edge_index


@bad_input(
    "pgnfast.systems.glass.explain.explain_atoms",
    "num_layers=1 for a two-layer model (its receptive field cut short)",
    InputError,
    r"atom 0: the model's output on its receptive field for num_layers=1 .* differs from the "
    r"whole graph's",
    requires="torch_geometric",
)
def explain_receptive_field_too_small(rng, tmp_path):
    from pgnfast.systems.glass.explain import explain_atoms

    model, x, edge_index = _two_layer_gat(rng)
    explain_atoms(model, x, edge_index, [0], num_layers=1, epochs=1)


@bad_input(
    "pgnfast.systems.glass.explain.explain_atoms",
    "an atom index beyond the graph",
    InputError,
    r"atoms\[0\] = 4 is out of range for 4 rows",
    requires="torch_geometric",
)
def explain_atom_out_of_range(rng, tmp_path):
    from pgnfast.systems.glass.explain import explain_atoms

    model, x, edge_index = _two_layer_gat(rng)
    explain_atoms(model, x, edge_index, [4], num_layers=2, epochs=1)


@bad_input(
    "pgnfast.systems.glass.explain.explain_atoms",
    "a per-edge input with one row too few",
    InputError,
    r"edge_attr must be a tensor with 6 rows \(one per edge\), got \(5, 2\)",
    requires="torch_geometric",
)
def explain_edge_input_wrong_length(rng, tmp_path):
    from pgnfast.systems.glass.explain import explain_atoms

    model, x, edge_index = _two_layer_gat(rng)
    edge_inputs = {"edge_attr": torch.zeros(5, 2)}
    explain_atoms(model, x, edge_index, [0], num_layers=2, edge_inputs=edge_inputs, epochs=1)


@bad_input(
    "pgnfast.systems.glass.explain.NequIPExplainModel",
    "a per-atom target the model lacks",
    InputError,
    r"the model has no per-atom target 'barrier' \(it has \('stress',\)\)",
    requires="torch_geometric",
)
def explain_missing_target(rng, tmp_path):
    from pgnfast.systems.glass.explain import NequIPExplainModel
    from pgnfast.testing import small_model

    model = small_model(torch.float64, per_atom_targets=("stress",))
    NequIPExplainModel(model, np.eye(3), "barrier")


@bad_input(
    "pgnfast.systems.glass.topology.count_h1_cycles",
    "min_persistence 0 (every zero-length bar would count)",
    InputError,
    r"min_persistence must be a finite number > 0, got 0",
    requires="ripser",
)
def topology_zero_persistence(rng, tmp_path):
    from pgnfast.systems.glass.topology import count_h1_cycles

    count_h1_cycles(rng.uniform(size=(6, 3)), None, min_persistence=0)


@bad_input(
    "pgnfast.systems.glass.topology.h1_bars",
    "an unknown persistent-homology library",
    InputError,
    r"unknown library 'dionysus'; choose one of \('ripser', 'gudhi'\)",
)
def topology_unknown_library(rng, tmp_path):
    from pgnfast.systems.glass.topology import h1_bars

    h1_bars(rng.uniform(size=(6, 3)), None, library="dionysus")


@bad_input(
    "pgnfast.systems.glass.topology.h1_null_counts",
    "random edge sets larger than the receptive field",
    InputError,
    r"size must lie in \[1, 3\] \(field edges\), got 4",
)
def topology_null_too_large(rng, tmp_path):
    from pgnfast.systems.glass.topology import h1_null_counts

    senders, receivers = np.array([0, 1, 2]), np.array([1, 2, 0])
    positions = rng.uniform(size=(3, 3))
    h1_null_counts(positions, None, senders, receivers, [0, 1, 2], 4, 10, rng, min_persistence=0.1)


@bad_input(
    "pgnfast.systems.glass.topology.empirical_p_value",
    "a null distribution without draws",
    InputError,
    r"the null distribution holds no draws",
)
def topology_empty_null(rng, tmp_path):
    from pgnfast.systems.glass.topology import empirical_p_value

    empirical_p_value(1.0, [])


@bad_input(
    "pgnfast.systems.glass.topology.hop_distances",
    "an edge naming an atom beyond the graph",
    InputError,
    r"receivers\[1\] = 5 is out of range for 3 rows",
)
def topology_edge_out_of_range(rng, tmp_path):
    from pgnfast.systems.glass.topology import hop_distances

    hop_distances(np.array([0, 1]), np.array([1, 5]), 3, 0, 2)
