"""Building blocks of the NequIP model (radial basis, cutoff, interaction block, gate layer)."""

from __future__ import annotations

import math

import torch
from e3nn import nn as e3nn_nn
from e3nn import o3
from e3nn.math import normalize2mom

from ..ops import TPConvSpec, tp_conv


class BesselBasis(torch.nn.Module):
    """Trainable Bessel radial basis, dimensionless (the same network for any length unit):
    b_n(r) = sin(w_n x) / (pi x), x = r / r_max, w_n = n pi at start (so b_n(0) = n).
    r: (E,) nm -> (E, num_bessel)."""

    def __init__(self, r_max: float, num_bessel: int = 8, trainable: bool = True):
        super().__init__()
        self.r_max = float(r_max)
        frequencies = math.pi * torch.arange(1, num_bessel + 1, dtype=torch.get_default_dtype())
        if trainable:
            self.frequencies = torch.nn.Parameter(frequencies)
        else:
            self.register_buffer("frequencies", frequencies)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        x = r.unsqueeze(-1) / self.r_max
        return torch.sin(self.frequencies * x) / (math.pi * x)


class PolynomialCutoff(torch.nn.Module):
    """Smooth envelope u(x), x = r / r_max (Klicpera et al.): u(0) = 1; u and its first two
    derivatives vanish at r_max; exactly 0 beyond. r: (E,) nm -> (E,)."""

    def __init__(self, r_max: float, p: int = 6):
        super().__init__()
        self.r_max, self.p = float(r_max), float(p)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        p = self.p
        x = r / self.r_max
        envelope = (
            1.0
            - 0.5 * (p + 1.0) * (p + 2.0) * x.pow(p)
            + p * (p + 2.0) * x.pow(p + 1.0)
            - 0.5 * p * (p + 1.0) * x.pow(p + 2.0)
        )
        return envelope * (x < 1.0)


def _gate_irreps(hidden: o3.Irreps, reachable: set):
    """Split the part of `hidden` reachable by the convolution into gate pieces."""
    scalars = o3.Irreps([(mul, ir) for mul, ir in hidden if ir.l == 0 and ir in reachable])
    gated = o3.Irreps([(mul, ir) for mul, ir in hidden if ir.l > 0 and ir in reachable])
    gate_ir = o3.Irrep("0e") if o3.Irrep("0e") in reachable else o3.Irrep("0o")
    gates = o3.Irreps([(mul, gate_ir) for mul, _ in gated])
    return scalars, gates, gated


_ACTIVATIONS = {1: torch.nn.functional.silu, -1: torch.tanh}


class _Weight(torch.nn.Module):
    def __init__(self, fan_in: int, fan_out: int):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(fan_in, fan_out))


class RadialMLP(torch.nn.Module):
    """The radial MLP of e3nn's ``FullyConnectedNet(sizes, silu)`` (same parameters, names
    and function: weights / sqrt(fan_in), second-moment-normalised SiLU, no bias), with the
    normalisation constants folded into the next layer's weights, so no per-edge tensor is
    scaled on its own. (E, sizes[0]) -> (E, sizes[-1])."""

    def __init__(self, sizes):
        super().__init__()
        self.sizes = list(sizes)
        self.activation_scale = float(normalize2mom(torch.nn.functional.silu).cst)
        for k, (fan_in, fan_out) in enumerate(zip(self.sizes, self.sizes[1:])):
            setattr(self, f"layer{k}", _Weight(fan_in, fan_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = 1.0
        for k, fan_in in enumerate(self.sizes[:-1]):
            weight = getattr(self, f"layer{k}").weight * (scale / math.sqrt(fan_in))
            x = x @ weight
            if k < len(self.sizes) - 2:
                x = torch.nn.functional.silu(x)
                scale = self.activation_scale
        return x


class InteractionBlock(torch.nn.Module):
    """linear -> tp_conv (radial-MLP path weights, / sqrt(avg_num_neighbors)) -> linear
    (+ self-connection with the node attributes). Node features (N, irreps_in.dim) ->
    (N, irreps_out.dim)."""

    def __init__(
        self,
        irreps_in,
        irreps_out,
        irreps_sh,
        irreps_node_attrs,
        *,
        num_basis: int,
        radial_mlp_depth: int,
        radial_mlp_width: int,
        avg_num_neighbors: float | None,
        use_self_connection: bool,
        backend: str = "auto",
    ):
        super().__init__()
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        self.backend = backend
        self.avg_num_neighbors = avg_num_neighbors
        self.linear_1 = o3.Linear(self.irreps_in, self.irreps_in)
        self.spec = TPConvSpec.build(self.irreps_in, irreps_sh, self.irreps_out)
        self.radial_mlp = RadialMLP(
            [num_basis] + [radial_mlp_width] * radial_mlp_depth + [self.spec.weight_numel]
        )
        self.linear_2 = o3.Linear(o3.Irreps(self.spec.irreps_out).simplify(), self.irreps_out)
        self.self_connection = (
            o3.FullyConnectedTensorProduct(self.irreps_in, irreps_node_attrs, self.irreps_out)
            if use_self_connection
            else None
        )

    def forward(
        self, features, node_attrs, edge_sh, edge_basis, senders, receivers, edge_mask=None
    ):
        """edge_mask: optional (E,) factor on every edge's message (1 keeps it, 0 removes it:
        the message is linear in the edge's path weights); None is the unmasked block."""
        weights = self.radial_mlp(edge_basis)
        if edge_mask is not None:
            weights = weights * edge_mask.unsqueeze(-1)
        x = self.linear_1(features)
        x = tp_conv(
            self.spec,
            x,
            edge_sh,
            weights,
            senders,
            receivers,
            features.shape[0],
            backend=self.backend,
        )
        if self.avg_num_neighbors is not None:
            x = x * (1.0 / math.sqrt(self.avg_num_neighbors))
        x = self.linear_2(x)
        if self.self_connection is not None:
            x = x + self.self_connection(features, node_attrs)
        return x


class ConvLayer(torch.nn.Module):
    """An interaction block followed by the gate nonlinearity (silu for even scalars and
    gates, tanh for odd). Keeps only the hidden irreps the convolution can reach."""

    def __init__(self, irreps_in, irreps_hidden, irreps_sh, irreps_node_attrs, **block_kwargs):
        super().__init__()
        irreps_in, irreps_sh = o3.Irreps(irreps_in), o3.Irreps(irreps_sh)
        reachable = {
            ir_out for _, ir_in in irreps_in for _, ir_sh in irreps_sh for ir_out in ir_in * ir_sh
        }
        scalars, gates, gated = _gate_irreps(o3.Irreps(irreps_hidden), reachable)
        self.gate = e3nn_nn.Gate(
            scalars,
            [_ACTIVATIONS[ir.p] for _, ir in scalars],
            gates,
            [_ACTIVATIONS[ir.p] for _, ir in gates],
            gated,
        )
        self.interaction = InteractionBlock(
            irreps_in, self.gate.irreps_in, irreps_sh, irreps_node_attrs, **block_kwargs
        )
        self.irreps_out = self.gate.irreps_out

    def forward(
        self, features, node_attrs, edge_sh, edge_basis, senders, receivers, edge_mask=None
    ):
        return self.gate(
            self.interaction(
                features, node_attrs, edge_sh, edge_basis, senders, receivers, edge_mask
            )
        )
