"""Periodic atomic graphs of glasses for the baseline models (Angstrom).

A `GlassGraph` holds one glass (or several batched together) as torch tensors in
torch-geometric's convention: `edge_index[0]` is the sending atom j, `edge_index[1]` the
receiving atom i (messages flow j -> i), and `edge_vectors` = r_j - r_i + image shift, the
minimum-or-other periodic image found by pgnfast's cell list (every image within the cutoff,
so boxes smaller than twice the cutoff work too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ....errors import InputError
from ....geometry import check_cell
from ....neighbors import neighbor_list
from ....validation import check_finite, check_positions, check_positive, check_types

__all__ = ["GlassGraph", "batch_graphs", "glass_graph", "graph_from_arrays", "subgraph_around"]

N_TYPES = 2
"""Atom types of the glasses: 0 Cu, 1 Zr."""


@dataclass(frozen=True, eq=False)
class GlassGraph:
    """Atoms and periodic edges of one or several glasses.

    types: (N,) int64 (0 Cu, 1 Zr); edge_index: (2, E) int64 (sender j, receiver i);
    edge_vectors: (E, 3) Angstrom, r_j - r_i (+ shift); batch: (N,) int64 glass of each atom;
    labels: (N,) eV per-atom barrier, or None; names: one name per glass; cutoff: Angstrom;
    centres: (N,) bool, the atoms whose predictions count (all True except in subgraphs).
    """

    types: torch.Tensor
    edge_index: torch.Tensor
    edge_vectors: torch.Tensor
    batch: torch.Tensor
    labels: torch.Tensor | None
    names: tuple[str, ...]
    cutoff: float
    centres: torch.Tensor

    @property
    def n_atoms(self) -> int:
        return int(self.types.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_index.shape[1])

    @property
    def distances(self) -> torch.Tensor:
        """(E,) edge lengths, Angstrom."""
        return torch.linalg.norm(self.edge_vectors, dim=1)

    def to(self, dtype: torch.dtype) -> GlassGraph:
        """The same graph with edge vectors (and labels) in `dtype`."""
        labels = None if self.labels is None else self.labels.to(dtype)
        return GlassGraph(
            self.types,
            self.edge_index,
            self.edge_vectors.to(dtype),
            self.batch,
            labels,
            self.names,
            self.cutoff,
            self.centres,
        )


def graph_from_arrays(
    positions,
    types,
    cell,
    cutoff: float,
    labels=None,
    name: str = "glass",
    dtype: torch.dtype = torch.float32,
) -> GlassGraph:
    """The periodic graph of one glass: positions (N, 3) Angstrom, types (N,) in {0, 1},
    cell (3, 3) or (3,) box lengths (Angstrom, periodic in all directions), cutoff
    (Angstrom, > 0), labels (N,) eV or None; dtype of edge vectors and labels. Every pair
    closer than the cutoff, in both directions, is an edge (no self-edges)."""
    positions = check_positions(positions)
    n = positions.shape[0]
    if n == 0:
        raise InputError("a glass graph needs at least one atom, got 0")
    types = check_types(types, n, N_TYPES)
    cell = check_cell(cell)
    cutoff = check_positive(cutoff, "cutoff")
    pairs = neighbor_list(positions, cell, cutoff)
    edge_index = torch.as_tensor(np.stack([pairs.j, pairs.i]), dtype=torch.int64)
    label_tensor = None
    if labels is not None:
        labels = np.asarray(labels, dtype=np.float64)
        if labels.shape != (n,):
            raise InputError(f"labels must have shape ({n},) (one per atom), got {labels.shape}")
        check_finite(labels, "labels")
        label_tensor = torch.as_tensor(labels, dtype=dtype)
    return GlassGraph(
        types=torch.as_tensor(types, dtype=torch.int64),
        edge_index=edge_index,
        edge_vectors=torch.as_tensor(np.asarray(pairs.vectors), dtype=dtype),
        batch=torch.zeros(n, dtype=torch.int64),
        labels=label_tensor,
        names=(str(name),),
        cutoff=cutoff,
        centres=torch.ones(n, dtype=torch.bool),
    )


def glass_graph(glass, cutoff: float, label: str | None = "barrier") -> GlassGraph:
    """The graph of a `pgnfast.systems.glass.Glass` with the per-atom label `label` (a column
    of `glass.labels()`, eV for the barrier; None: no labels). Inputs are positions, types
    and box only: the other labels never enter the graph."""
    labels = None
    if label is not None:
        available = glass.labels()
        if label not in available:
            raise InputError(f"glass {glass.name} has no label {label!r}; it has {list(available)}")
        labels = available[label]
    return graph_from_arrays(glass.positions, glass.types, glass.cell, cutoff, labels, glass.name)


def batch_graphs(graphs: Sequence[GlassGraph]) -> GlassGraph:
    """Several graphs as one disconnected graph (atoms and edges concatenated, indices
    offset, `batch` numbering the glasses in order)."""
    graphs = list(graphs)
    if not graphs:
        raise InputError("batch_graphs needs at least one graph")
    cutoffs = {g.cutoff for g in graphs}
    if len(cutoffs) != 1:
        raise InputError(f"graphs with different cutoffs cannot be batched: {sorted(cutoffs)}")
    has_labels = {g.labels is not None for g in graphs}
    if len(has_labels) != 1:
        raise InputError("either every batched graph has labels or none has")
    offsets = np.cumsum([0] + [g.n_atoms for g in graphs[:-1]])
    glass_offsets = np.cumsum([0] + [int(g.batch.max()) + 1 for g in graphs[:-1]])
    return GlassGraph(
        types=torch.cat([g.types for g in graphs]),
        edge_index=torch.cat([g.edge_index + int(o) for g, o in zip(graphs, offsets)], dim=1),
        edge_vectors=torch.cat([g.edge_vectors for g in graphs]),
        batch=torch.cat([g.batch + int(o) for g, o in zip(graphs, glass_offsets)]),
        labels=torch.cat([g.labels for g in graphs]) if graphs[0].labels is not None else None,
        names=tuple(name for g in graphs for name in g.names),
        cutoff=graphs[0].cutoff,
        centres=torch.cat([g.centres for g in graphs]),
    )


def subgraph_around(graph: GlassGraph, centres, hops: int) -> GlassGraph:
    """The part of `graph` that a `hops`-layer message-passing model needs to predict the
    atoms `centres` ((C,) int indices): every atom within `hops` edges of a centre and the
    edges among them (torch_geometric.utils.k_hop_subgraph). `centres` of the result marks
    the centre atoms; predictions for the others are incomplete and must not count."""
    from torch_geometric.utils import k_hop_subgraph

    centres = torch.as_tensor(np.asarray(centres), dtype=torch.int64).reshape(-1)
    if centres.numel() == 0:
        raise InputError("subgraph_around needs at least one centre atom")
    if int(centres.min()) < 0 or int(centres.max()) >= graph.n_atoms:
        raise InputError(f"centre indices must lie in [0, {graph.n_atoms}), got {centres.tolist()}")
    if isinstance(hops, bool) or not isinstance(hops, int) or hops < 0:
        raise InputError(f"hops must be a whole number >= 0, got {hops!r}")
    atoms, edge_index, _, edge_mask = k_hop_subgraph(
        centres, hops, graph.edge_index, relabel_nodes=True, num_nodes=graph.n_atoms
    )
    is_centre = torch.zeros(graph.n_atoms, dtype=torch.bool)
    is_centre[centres] = True
    return GlassGraph(
        types=graph.types[atoms],
        edge_index=edge_index,
        edge_vectors=graph.edge_vectors[edge_mask],
        batch=graph.batch[atoms],
        labels=None if graph.labels is None else graph.labels[atoms],
        names=graph.names,
        cutoff=graph.cutoff,
        centres=is_centre[atoms],
    )
