"""Mini-batches of large periodic graphs: the subgraph of a set of centre atoms' receptive
field, on which the model gives the centres exactly their full-graph outputs.

An L-layer message-passing model computes the output of atom i from the atoms within L
hops of i in the r_max graph (so within L * r_max, periodic images included). The subgraph
of centres C keeps

- the atoms within L hops of C (in the periodic graph: an atom reached through several
  images appears once, as in the full graph), in their full-graph order;
- the edges whose receiver lies within L - 1 hops of C, with their periodic shifts and the
  structure's cell, so every edge vector is the full graph's (minimum image or any image
  the r_max graph holds; cutoffs beyond half the box included).

Atom d hops from C then has its full-graph features at every layer up to L - d, so the
centres' outputs (d = 0) equal the full graph's; atoms at L hops get no messages (their
outputs are not used). Receivers stay sorted, as the model's kernels expect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError
from ..nn.graph import Graph


@dataclass
class Subgraph:
    """A graph and the positions (in it) of the atoms the loss is taken on.

    graph: the (sub)graph. centres: (C,) int64 tensor of node indices in `graph`.
    atoms: (C,) int64 numpy indices of the same atoms in the full structure."""

    graph: Graph
    centres: torch.Tensor
    atoms: np.ndarray


def hop_masks(senders, receivers, num_nodes: int, centres, num_hops: int) -> list:
    """[mask_0, ..., mask_num_hops]: (num_nodes,) bool masks of the atoms within d hops of
    `centres` (numpy int arrays of the graph's edges, sender -> receiver)."""
    inside = np.zeros(num_nodes, dtype=bool)
    inside[centres] = True
    masks = [inside.copy()]
    for _ in range(num_hops):
        inside = inside.copy()
        inside[senders[inside[receivers]]] = True
        masks.append(inside)
    return masks


class StructureGraph:
    """One structure's full graph with numpy copies of its edge lists, to cut subgraphs
    of any set of centres quickly."""

    def __init__(self, graph: Graph):
        if graph.num_graphs != 1:
            raise InputError(f"a StructureGraph holds one structure, got {graph.num_graphs}")
        self.graph = graph
        self.senders = graph.senders.detach().cpu().numpy()
        self.receivers = graph.receivers.detach().cpu().numpy()

    @property
    def num_nodes(self) -> int:
        return self.graph.num_nodes

    def full(self) -> Subgraph:
        """The whole structure, every atom a centre."""
        atoms = np.arange(self.num_nodes)
        device = self.graph.positions.device
        return Subgraph(self.graph, torch.arange(self.num_nodes, device=device), atoms)

    def subgraph(self, centres, num_layers: int) -> Subgraph:
        """The receptive-field subgraph of `centres` ((C,) atom indices) for a model of
        num_layers layers (see the module docstring)."""
        centres = np.asarray(centres, dtype=np.int64)
        if centres.size == 0 or centres.min() < 0 or centres.max() >= self.num_nodes:
            raise InputError(
                f"subgraph centres must be atom indices in [0, {self.num_nodes}), got "
                f"{centres.size} of them in [{centres.min(initial=0)}, {centres.max(initial=0)}]"
            )
        if int(num_layers) < 1:
            raise InputError(f"num_layers must be at least 1, got {num_layers}")
        masks = hop_masks(self.senders, self.receivers, self.num_nodes, centres, int(num_layers))
        nodes = np.flatnonzero(masks[-1])
        local = np.full(self.num_nodes, -1, dtype=np.int64)
        local[nodes] = np.arange(nodes.size)
        edges = np.flatnonzero(masks[-2][self.receivers])
        graph = self.graph
        device = graph.positions.device

        def take(values, index):
            return values[torch.as_tensor(index, device=device)]

        sub = Graph(
            positions=take(graph.positions, nodes),
            types=take(graph.types, nodes),
            cell=graph.cell,
            batch=torch.zeros(nodes.size, dtype=torch.int64, device=device),
            senders=torch.as_tensor(local[self.senders[edges]], device=device),
            receivers=torch.as_tensor(local[self.receivers[edges]], device=device),
            shifts=take(graph.shifts, edges),
            num_graphs=1,
            descriptors=None if graph.descriptors is None else take(graph.descriptors, nodes),
        )
        return Subgraph(sub, torch.as_tensor(local[centres], device=device), centres)


def concatenate(parts: list[Subgraph]) -> tuple[Graph, torch.Tensor]:
    """One Graph of several (sub)graphs and the (sum C,) centre indices in it, in order."""
    if len(parts) == 1:
        return parts[0].graph, parts[0].centres
    offset, graphs_before = 0, 0
    pieces = {key: [] for key in ("pos", "types", "cell", "batch", "s", "r", "shifts", "desc")}
    centres = []
    for part in parts:
        g = part.graph
        pieces["pos"].append(g.positions)
        pieces["types"].append(g.types)
        pieces["cell"].append(g.cell)
        pieces["batch"].append(g.batch + graphs_before)
        pieces["s"].append(g.senders + offset)
        pieces["r"].append(g.receivers + offset)
        pieces["shifts"].append(g.shifts)
        if g.descriptors is not None:
            pieces["desc"].append(g.descriptors)
        centres.append(part.centres + offset)
        offset += g.num_nodes
        graphs_before += g.num_graphs
    graph = Graph(
        positions=torch.cat(pieces["pos"]),
        types=torch.cat(pieces["types"]),
        cell=torch.cat(pieces["cell"]),
        batch=torch.cat(pieces["batch"]),
        senders=torch.cat(pieces["s"]),
        receivers=torch.cat(pieces["r"]),
        shifts=torch.cat(pieces["shifts"]),
        num_graphs=graphs_before,
        descriptors=torch.cat(pieces["desc"]) if pieces["desc"] else None,
    )
    return graph, torch.cat(centres)
