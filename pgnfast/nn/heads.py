"""Per-atom output heads: node-level targets (e.g. a per-atom energy barrier) read out of a
model's scalar (0e) node features, beside its energy readout.

Each head is a small MLP (features -> width -> 1, SiLU) on the scalar channels only, so its
output is invariant under rotations, reflections and translations and permutes with the
atoms. It predicts standardised values; the per-target buffers `mean` and `std` (label
units) turn them back: output = head(features) * std + mean.
"""

from __future__ import annotations

import math

import torch
from e3nn import o3

from ..errors import InputError


def check_target_names(names) -> tuple[str, ...]:
    """`names` (a sequence of str) as a tuple; InputError for a bare string, a non-string,
    an empty name, a name with '.', or a repeated name (naming the first bad index)."""
    if isinstance(names, str):
        raise InputError(f"per_atom_targets must be a sequence of names, got the string {names!r}")
    names = tuple(names)
    for index, name in enumerate(names):
        if not isinstance(name, str) or not name or "." in name:
            raise InputError(
                f"per_atom_targets[{index}] = {name!r} is not a non-empty name without '.'"
            )
        if name in names[:index]:
            raise InputError(f"per_atom_targets[{index}] = {name!r} repeats an earlier target")
    return names


class PerAtomHead(torch.nn.Module):
    """One target: scalar features (N, F) -> MLP -> (N,) in label units."""

    def __init__(self, num_scalars: int, width: int):
        super().__init__()
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(num_scalars, width),
            torch.nn.SiLU(),
            torch.nn.Linear(width, 1),
        )
        self.register_buffer("mean", torch.zeros(()))
        self.register_buffer("std", torch.ones(()))

    def forward(self, scalars: torch.Tensor) -> torch.Tensor:
        return self.standardised(scalars) * self.std + self.mean

    def standardised(self, scalars: torch.Tensor) -> torch.Tensor:
        """(N,) prediction in standardised units ((label - mean) / std)."""
        return self.mlp(scalars).squeeze(-1)


class PerAtomHeads(torch.nn.Module):
    """One PerAtomHead per target name, all reading the 0e channels of `irreps` features."""

    def __init__(self, irreps, names, width: int | None = None):
        super().__init__()
        irreps = o3.Irreps(irreps)
        self.names = check_target_names(names)
        scalar_slices = [
            (s.start, s.stop) for s, (_, ir) in zip(irreps.slices(), irreps) if ir == o3.Irrep("0e")
        ]
        if self.names and not scalar_slices:
            raise InputError(f"per-atom heads need scalar (0e) features; the model has {irreps}")
        self._scalar_slices = scalar_slices
        num_scalars = sum(stop - start for start, stop in scalar_slices)
        width = num_scalars if width is None else int(width)
        self.heads = torch.nn.ModuleDict(
            {name: PerAtomHead(num_scalars, width) for name in self.names}
        )

    def scalars(self, features: torch.Tensor) -> torch.Tensor:
        """(N, F) scalar channels of (N, irreps.dim) features."""
        if len(self._scalar_slices) == 1:
            start, stop = self._scalar_slices[0]
            return features[:, start:stop]
        return torch.cat([features[:, start:stop] for start, stop in self._scalar_slices], -1)

    def forward(self, features: torch.Tensor) -> dict:
        """{name: (N,) tensor in label units} for every target."""
        scalars = self.scalars(features)
        return {name: self.heads[name](scalars) for name in self.names}

    def set_statistics(self, statistics: dict) -> None:
        """statistics: {name: (mean, std)} in label units (std > 0, both finite); targets not
        named keep theirs. InputError for an unknown name or a bad value."""
        if not isinstance(statistics, dict):
            raise InputError(
                f"per-atom statistics must be a dict {{name: (mean, std)}}, "
                f"got {type(statistics).__name__}"
            )
        checked = {}
        for name, value in statistics.items():
            if name not in self.heads:
                raise InputError(
                    f"per-atom statistics: unknown target {name!r}; "
                    f"this model has {list(self.names)}"
                )
            try:
                mean, std = (float(x) for x in value)
            except (TypeError, ValueError) as error:
                raise InputError(
                    f"per-atom statistics[{name!r}] must be a pair (mean, std), got {value!r}"
                ) from error
            if not math.isfinite(mean) or not math.isfinite(std) or std <= 0:
                raise InputError(
                    f"per-atom statistics[{name!r}] = ({mean}, {std}): mean must be finite and "
                    f"std finite and > 0"
                )
            checked[name] = (mean, std)
        for name, (mean, std) in checked.items():
            head = self.heads[name]
            head.mean.fill_(mean)
            head.std.fill_(std)

    def statistics(self) -> dict:
        """{name: (mean, std)} as floats (label units)."""
        return {name: (float(head.mean), float(head.std)) for name, head in self.heads.items()}
