"""Orthogonal transformations for SymGNN's symmetrization module, drawn from a learnable
distribution over O(3) (rotations and, optionally, reflections).

Three samplers (`OrthogonalSampler(mode=...)`):

- ``"equivariant"`` (default): a distribution conditioned on the structure, equivariant
  under O(3) in the sense of probabilistic symmetrization (Kim et al., NeurIPS 2023). Each
  atom i holds three vectors u_ia = sum over its edges of w_a(|r|, t_i, t_j) r (w: a small
  learnable network of the distance, Gaussian-smeared, and the two types, times a cosine
  envelope that vanishes at the cutoff); each sample draws Gaussian noise eps_ia per atom and
  sums v_a = sum_i eps_ia u_ia over the glass's atoms; Gram-Schmidt of (v_1, v_2, v_3) gives
  the rows of the matrix Q. Rotating or reflecting the glass by R turns Q into Q R^T for the
  same noise, so Q r is exactly invariant for every sample; a permutation of the atoms
  changes which noise goes with which atom, so the output is permutation invariant in
  distribution (in expectation). Without reflections the third row is e_1 x e_2 (det +1),
  invariant under rotations only. The noise is reparameterised, so w gets gradients.
- ``"free"``: a structure-independent learnable distribution, as the paper's text reads:
  rotations exp([omega]_x) with axis-angle omega = mu + softplus(rho) * eps (reparameterised),
  and a reflection with learnable probability p = sigmoid(logit). The reflection is not
  sampled but summed out: every rotation R_k comes with R_k diag(-1, 1, 1), weighted p and
  1 - p, so p gets an exact gradient. Invariant in expectation only where the distribution
  is uniform (softplus(rho) large); a concentrated one is not invariant at all.
- ``"released"``: what the authors' released code runs: two fixed rotations (Euler angles
  0 and 1 rad about z, y, x), no reflections, no learnable parameters.

`sample` returns matrices (S, G, 3, 3) for G glasses and weights (S,) that sum to one.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ....errors import InputError

__all__ = ["MODES", "OrthogonalSampler", "euler_rotation", "gram_schmidt"]

MODES = ("equivariant", "free", "released")
_TINY = 1e-30


def euler_rotation(theta, phi, gamma) -> torch.Tensor:
    """R_z(theta) @ R_y(phi) @ R_x(gamma), (3, 3), angles in radians (tensors or floats)."""
    theta, phi, gamma = (torch.as_tensor(a, dtype=torch.float64) for a in (theta, phi, gamma))
    c, s = torch.cos, torch.sin
    zero = torch.zeros((), dtype=torch.float64)
    one = torch.ones((), dtype=torch.float64)
    rz = torch.stack(
        [c(theta), -s(theta), zero, s(theta), c(theta), zero, zero, zero, one]
    ).reshape(3, 3)
    ry = torch.stack([c(phi), zero, -s(phi), zero, one, zero, s(phi), zero, c(phi)]).reshape(3, 3)
    rx = torch.stack(
        [one, zero, zero, zero, c(gamma), -s(gamma), zero, s(gamma), c(gamma)]
    ).reshape(3, 3)
    return rz @ ry @ rx


def _skew(omega: torch.Tensor) -> torch.Tensor:
    zero = torch.zeros_like(omega[..., 0])
    x, y, z = omega.unbind(-1)
    return torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(
        *omega.shape[:-1], 3, 3
    )


def _unit(vectors: torch.Tensor) -> torch.Tensor:
    return vectors / torch.linalg.norm(vectors, dim=-1, keepdim=True).clamp_min(_TINY)


def gram_schmidt(v1, v2, v3=None) -> torch.Tensor:
    """Orthonormal rows (..., 3, 3) from vectors (..., 3): e1 along v1, e2 in the plane of
    v1 and v2, e3 from v3 (then det = sign of v3 on e1 x e2) or e1 x e2 (det +1)."""
    e1 = _unit(v1)
    e2 = _unit(_orthogonalised(_orthogonalised(v2, e1), e1))
    if v3 is None:
        e3 = torch.linalg.cross(e1, e2)
    else:
        rest = v3
        for _ in range(2):  # twice: orthogonal to rounding even for nearly dependent vectors
            rest = _orthogonalised(_orthogonalised(rest, e1), e2)
        e3 = _unit(rest)
    return torch.stack([e1, e2, e3], dim=-2)


def _orthogonalised(vectors, unit):
    return vectors - (vectors * unit).sum(-1, keepdim=True) * unit


class OrthogonalSampler(nn.Module):
    """A learnable distribution over O(3) (see the module docstring for the modes).

    mode: "equivariant" | "free" | "released"; reflections: allow det -1 matrices (ignored
    by "released"); cutoff: Angstrom, the graph's (the envelope of "equivariant" weights);
    hidden: width of the weight network; basis: Gaussians of the distance.
    """

    def __init__(
        self,
        mode: str = "equivariant",
        reflections: bool = True,
        cutoff: float = 5.0,
        hidden: int = 16,
        basis: int = 8,
    ):
        super().__init__()
        if mode not in MODES:
            raise InputError(f"unknown sampler mode {mode!r}; choose one of {MODES}")
        self.mode = mode
        self.reflections = bool(reflections) and mode != "released"
        self.cutoff = float(cutoff)
        if mode == "equivariant":
            self.register_buffer("centres", torch.linspace(0.0, self.cutoff, basis))
            self.width = self.cutoff / basis
            self.weights = nn.Sequential(
                nn.Linear(basis + 4, hidden), nn.SiLU(), nn.Linear(hidden, 3)
            )
        elif mode == "free":
            self.mu = nn.Parameter(torch.zeros(3))
            self.rho = nn.Parameter(torch.full((3,), 1.0))
            if self.reflections:
                self.reflection_logit = nn.Parameter(torch.zeros(()))

    def reflection_probability(self) -> torch.Tensor | None:
        """p of the "free" sampler with reflections (None otherwise)."""
        if self.mode == "free" and self.reflections:
            return torch.sigmoid(self.reflection_logit)
        return None

    def sample(
        self,
        num_samples: int,
        edge_index=None,
        edge_vectors=None,
        types=None,
        batch=None,
        num_graphs: int = 1,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Matrices (S, G, 3, 3) and weights (S,) summing to 1. "equivariant" needs the
        graph: edge_index (2, E) (sender, receiver), edge_vectors (E, 3), types (N,), batch
        (N,) glass of each atom (None: one glass)."""
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise InputError(f"num_samples must be a whole number >= 1, got {num_samples!r}")
        dtype = edge_vectors.dtype if edge_vectors is not None else torch.float32
        if self.mode == "released":
            matrices = torch.stack([euler_rotation(a, a, a) for a in (0.0, 1.0)]).to(dtype)
            return matrices[:, None].expand(2, num_graphs, 3, 3), torch.full((2,), 0.5, dtype=dtype)
        if self.mode == "free":
            return self._free(num_samples, num_graphs, dtype, generator)
        if edge_index is None or edge_vectors is None or types is None:
            raise InputError("the equivariant sampler needs edge_index, edge_vectors and types")
        return self._equivariant(
            num_samples, edge_index, edge_vectors, types, batch, num_graphs, generator
        )

    def _free(self, num_samples, num_graphs, dtype, generator):
        eps = torch.randn(num_samples, 3, generator=generator, dtype=self.mu.dtype)
        omega = self.mu + nn.functional.softplus(self.rho) * eps
        rotations = torch.linalg.matrix_exp(_skew(omega)).to(dtype)
        weights = torch.full((num_samples,), 1.0 / num_samples, dtype=dtype)
        if self.reflections:
            flip = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=dtype))
            p = torch.sigmoid(self.reflection_logit).to(dtype)
            rotations = torch.cat([rotations, rotations @ flip])
            weights = torch.cat([weights * (1 - p), weights * p])
        return rotations[:, None].expand(-1, num_graphs, 3, 3), weights

    def _equivariant(self, num_samples, edge_index, edge_vectors, types, batch, graphs, generator):
        senders, receivers = edge_index
        distances = torch.linalg.norm(edge_vectors, dim=1)
        smeared = torch.exp(-(((distances[:, None] - self.centres) / self.width) ** 2) / 2)
        pair_types = torch.cat(
            [
                nn.functional.one_hot(types[receivers], 2),
                nn.functional.one_hot(types[senders], 2),
            ],
            dim=1,
        ).to(smeared.dtype)
        envelope = 0.5 * (torch.cos(math.pi * distances / self.cutoff) + 1.0)
        envelope = envelope * (distances < self.cutoff)
        w = self.weights(torch.cat([smeared, pair_types], dim=1)) * envelope[:, None]
        per_edge = w[:, :, None] * edge_vectors[:, None, :]  # (E, 3 vectors, 3)
        per_atom = torch.zeros(types.shape[0], 3, 3, dtype=per_edge.dtype)
        per_atom = per_atom.index_add(0, receivers, per_edge)
        noise = torch.randn(
            num_samples, types.shape[0], 3, generator=generator, dtype=per_atom.dtype
        )
        weighted = noise[..., None] * per_atom  # (S, N, 3, 3)
        batch = torch.zeros_like(types) if batch is None else batch
        summed = torch.zeros(num_samples, graphs, 3, 3, dtype=weighted.dtype)
        summed = summed.index_add(1, batch, weighted)
        v1, v2, v3 = summed.unbind(2)
        matrices = gram_schmidt(v1, v2, v3 if self.reflections else None)
        weights = torch.full((num_samples,), 1.0 / num_samples, dtype=matrices.dtype)
        return matrices, weights
