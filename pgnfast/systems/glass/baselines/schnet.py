"""SchNet for per-atom regression, built from torch-geometric's SchNet components
(`GaussianSmearing`, `InteractionBlock` with its continuous-filter convolution and cosine
cutoff, `ShiftedSoftplus`) on the periodic edges of pgnfast's neighbor list (PyG's own
SchNet builds its graph with radius_graph, which is not periodic).

`model(x, edge_index, edge_vectors, batch=None)`: x (N,) int64 types, edge_index (2, E)
(sender j, receiver i), edge_vectors (E, 3) Angstrom; returns (N,) eV. Exactly invariant
under rotations, reflections, translations and permutations (it sees distances only).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SchNetNode"]


class SchNetNode(nn.Module):
    """SchNet with a per-atom output head.

    hidden: atom feature width; filters: filter width; interactions: interaction blocks;
    gaussians: radial basis size; cutoff: Angstrom (the graph's)."""

    def __init__(
        self,
        hidden: int = 64,
        filters: int = 64,
        interactions: int = 3,
        gaussians: int = 50,
        cutoff: float = 5.0,
    ):
        super().__init__()
        from torch_geometric.nn.models.schnet import (
            GaussianSmearing,
            InteractionBlock,
            ShiftedSoftplus,
        )

        self.config = {
            "kind": "schnet",
            "hidden": int(hidden),
            "filters": int(filters),
            "interactions": int(interactions),
            "gaussians": int(gaussians),
            "cutoff": float(cutoff),
        }
        self.embedding = nn.Embedding(2, hidden)
        self.smearing = GaussianSmearing(0.0, cutoff, gaussians)
        self.interactions = nn.ModuleList(
            InteractionBlock(hidden, gaussians, filters, cutoff) for _ in range(interactions)
        )
        self.head = nn.Sequential(
            nn.Linear(hidden, hidden // 2), ShiftedSoftplus(), nn.Linear(hidden // 2, 1)
        )
        self.register_buffer("label_mean", torch.zeros(()))
        self.register_buffer("label_std", torch.ones(()))

    @property
    def receptive_hops(self) -> int:
        return len(self.interactions)

    def set_label_statistics(self, mean: float, std: float) -> None:
        """Mean and std (eV) of the training labels; outputs are mean + std * network."""
        self.label_mean.fill_(float(mean))
        self.label_std.fill_(float(std))

    def forward(self, x, edge_index, edge_vectors, batch=None, seed=None) -> torch.Tensor:
        """Per-atom barriers (N,) eV; batch and seed are accepted for a common call and
        unused (SchNet is deterministic)."""
        distances = torch.linalg.norm(edge_vectors, dim=1)
        basis = self.smearing(distances)
        h = self.embedding(x)
        for interaction in self.interactions:
            h = h + interaction(h, edge_index, distances, basis)
        return self.label_mean + self.label_std * self.head(h).squeeze(-1)
