"""SymGNN (Li, Zhang, Tang, Bauchy and Sun, ICML 2024) on torch-geometric: per-atom energy
barriers (eV) of a glass from atom types and periodic edge vectors (Angstrom).

Node encoder of the atom type; symmetrization module (each edge vector transformed by the
orthogonal matrices of `OrthogonalSampler`, each transformed vector encoded by an edge MLP,
the encodings averaged with the sampler's weights); four edge-featured graph-attention
layers (`torch_geometric.nn.GATConv`, or GATv2Conv, with `edge_dim`; heads 8, 4, 2, 1 by
default, each head `head_width` wide, concatenated except in the last layer), each
followed by normalisation, a projection back to the hidden width and a residual connection;
an MLP decoder; the output de-standardised with the training labels' mean and std (buffers).

The forward is `model(x, edge_index, edge_vectors, batch=None, seed=None)`: x (N,) int64
atom types (0 Cu, 1 Zr) or their (N, 2) one-hot float rows (the form torch_geometric.explain
needs: node features of shape (N, F)), edge_index (2, E) (sender j, receiver i), edge_vectors (E, 3)
Angstrom r_j - r_i; batch (N,) glass of each atom; seed: draw the sampler's noise from
torch.Generator().manual_seed(seed) (the same seed, the same matrices: what an explainer
that calls the model many times needs); frames: fixed transformations (`sample_frames`),
which a subgraph needs to predict what the whole glass predicts. Returns (N,) eV. The
attention layers are PyG `MessagePassing` modules, so torch_geometric.explain's edge masks
apply to them.
"""

from __future__ import annotations

import torch
from torch import nn

from ....errors import InputError
from .symmetrization import OrthogonalSampler

__all__ = ["SymGNN"]


def _norm(kind: str, width: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(width)
    if kind == "layer":
        return nn.LayerNorm(width)
    if kind == "none":
        return nn.Identity()
    raise InputError(f"unknown normalisation {kind!r}; choose batch, layer or none")


class SymGNN(nn.Module):
    """SymGNN for per-atom regression.

    hidden: feature width; heads: attention heads per layer (the paper: 8, 4, 2, 1);
    head_width: features per head (None: hidden, as the released code's EGATConv);
    conv: "gat" (GATConv) or "gatv2" (GATv2Conv);
    num_samples: orthogonal matrices drawn per forward in training; eval_samples: in eval
    mode; sampler: OrthogonalSampler mode ("equivariant", "free", "released");
    reflections: allow improper matrices; cutoff: Angstrom (the graph's); dropout;
    norm: "batch" (the released code), "layer" or "none"; decoder_layers: hidden layers of
    the decoder.
    """

    def __init__(
        self,
        hidden: int = 32,
        heads: tuple[int, ...] = (8, 4, 2, 1),
        head_width: int | None = None,
        conv: str = "gat",
        num_samples: int = 2,
        eval_samples: int = 8,
        sampler: str = "equivariant",
        reflections: bool = True,
        cutoff: float = 5.0,
        dropout: float = 0.25,
        norm: str = "batch",
        decoder_layers: int = 4,
    ):
        super().__init__()
        from torch_geometric.nn import GATConv, GATv2Conv

        heads = tuple(int(h) for h in heads)
        if not heads or min(heads) < 1:
            raise InputError(f"heads must be positive whole numbers, got {heads}")
        if conv not in ("gat", "gatv2"):
            raise InputError(f"conv must be 'gat' or 'gatv2', got {conv!r}")
        head_width = int(hidden if head_width is None else head_width)
        layer_class = GATConv if conv == "gat" else GATv2Conv
        self.config = {
            "kind": "symgnn",
            "hidden": int(hidden),
            "heads": list(heads),
            "head_width": head_width,
            "conv": conv,
            "num_samples": int(num_samples),
            "eval_samples": int(eval_samples),
            "sampler": sampler,
            "reflections": bool(reflections),
            "cutoff": float(cutoff),
            "dropout": float(dropout),
            "norm": norm,
            "decoder_layers": int(decoder_layers),
        }
        self.num_samples, self.eval_samples = int(num_samples), int(eval_samples)
        self.sampler = OrthogonalSampler(sampler, reflections, cutoff)
        self.node_encoder = nn.Sequential(
            nn.Linear(2, hidden, bias=False),  # on one-hot types: an embedding
            _norm(norm, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            _norm(norm, hidden),
            nn.ReLU(),
        )
        self.edge_encoder = nn.Sequential(
            nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.edge_norm = _norm(norm, hidden)
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.projections = nn.ModuleList()
        for layer, h in enumerate(heads):
            last = layer == len(heads) - 1
            self.convs.append(
                layer_class(hidden, head_width, heads=h, concat=not last, edge_dim=hidden)
            )
            width = head_width if last else head_width * h
            self.norms.append(_norm(norm, width))
            self.projections.append(nn.Linear(width, hidden))
        decoder = []
        for _ in range(decoder_layers):
            decoder += [nn.Linear(hidden, hidden), _norm(norm, hidden), nn.PReLU()]
        self.decoder = nn.Sequential(*decoder, nn.Linear(hidden, 1))
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("label_mean", torch.zeros(()))
        self.register_buffer("label_std", torch.ones(()))

    @property
    def receptive_hops(self) -> int:
        """Edges between an atom and the farthest atom its prediction depends on."""
        return len(self.convs)

    def set_label_statistics(self, mean: float, std: float) -> None:
        """Mean and std (eV) of the training labels; outputs are mean + std * network."""
        self.label_mean.fill_(float(mean))
        self.label_std.fill_(float(std))

    def sample_frames(self, x, edge_index, edge_vectors, batch=None, seed=None):
        """The sampled transformations of one forward call: (matrices (S, G, 3, 3), weights
        (S,)), S the training or evaluation sample count; inputs as forward. Passing them
        back as forward(..., frames=) holds them fixed, e.g. while a subgraph is explained
        (the equivariant sampler draws them from every atom of the graph it sees)."""
        types = self._types_and_features(x, edge_vectors.dtype)[0]
        graphs = 1 if batch is None or batch.numel() == 0 else int(batch.max()) + 1
        generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        samples = self.num_samples if self.training else self.eval_samples
        return self.sampler.sample(
            samples, edge_index, edge_vectors, types, batch, graphs, generator
        )

    def symmetrized_edges(
        self, types, edge_index, edge_vectors, batch=None, seed=None, frames=None
    ):
        """(E, hidden) edge features: the edge MLP averaged over sampled transformations
        (or the given `frames`, see sample_frames); types (N,) int64."""
        graphs = 1 if batch is None or batch.numel() == 0 else int(batch.max()) + 1
        if frames is None:
            frames = self.sample_frames(types, edge_index, edge_vectors, batch, seed)
        matrices, weights = frames
        if matrices.dim() != 4 or matrices.shape[1:] != (graphs, 3, 3):
            raise InputError(
                f"frames: matrices must have shape (S, {graphs}, 3, 3), got {tuple(matrices.shape)}"
            )
        if weights.shape != (matrices.shape[0],):
            raise InputError(
                f"frames: weights must have shape ({matrices.shape[0]},), got "
                f"{tuple(weights.shape)}"
            )
        receivers = edge_index[1]
        edge_graph = torch.zeros_like(receivers) if batch is None else batch[receivers]  # (E,)
        features = 0
        for matrix, weight in zip(matrices, weights):
            if graphs == 1:
                transformed = edge_vectors @ matrix[0].T
            else:
                transformed = torch.einsum("eab,eb->ea", matrix[edge_graph], edge_vectors)
            features = features + weight * self.edge_encoder(transformed.to(edge_vectors.dtype))
        return self.edge_norm(features)

    @staticmethod
    def _types_and_features(x, dtype):
        if x.dim() == 1:
            return x, nn.functional.one_hot(x, 2).to(dtype)
        if x.dim() == 2 and x.shape[1] == 2:
            return x.argmax(dim=1), x.to(dtype)
        raise InputError(f"x must be (N,) types or (N, 2) one-hot rows, got {tuple(x.shape)}")

    def forward(
        self, x, edge_index, edge_vectors, batch=None, seed=None, frames=None
    ) -> torch.Tensor:
        """Per-atom barriers (N,) eV (see the module docstring); frames: fixed
        transformations from sample_frames (then seed is not used)."""
        types, features = self._types_and_features(x, edge_vectors.dtype)
        edges = self.symmetrized_edges(types, edge_index, edge_vectors, batch, seed, frames)
        h = self.node_encoder(features)
        for conv, norm, projection in zip(self.convs, self.norms, self.projections):
            update = projection(torch.relu(norm(conv(h, edge_index, edges))))
            h = self.dropout(h + update)
        return self.label_mean + self.label_std * self.decoder(h).squeeze(-1)
