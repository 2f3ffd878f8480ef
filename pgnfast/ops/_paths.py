"""Path tables of a TPConvSpec for the fused kernels (contract: csrc/include/pgnfast/tp_conv.hpp).

A spec becomes, once, a few small integer/float arrays that every backend reads:
  paths (K, 9) int64: in_start, in_dim, sh_start, out_start, out_dim, mul, weight_offset,
      cg_begin, cg_end per path;
  cg_index (nnz, 3) int64: (input component, sh component, output component) of each nonzero
      Clebsch-Gordan coefficient, cg_value (nnz,) float64 = path_weight * C[a, b, c];
  out_blocks (B, 3) int64: start, mul, 2l+1 of every irrep block of the output rows.
"forward" tables map node features to the output; "transposed" tables swap each path's input
and output roles (the gradient w.r.t. node features, a convolution over senders).
Specs are also registered under a string key so torch ops (whose schemas take no Python
objects) can name them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from e3nn import o3

_SPECS: dict[str, object] = {}


def spec_key(spec) -> str:
    """A string naming the spec in torch op calls (registers it on first use)."""
    key = f"{spec.irreps_in}|{spec.irreps_sh}|{spec.irreps_out}|{spec.instructions}"
    _SPECS.setdefault(key, spec)
    return key


def spec_from_key(key: str):
    """The spec registered under ``key`` (rebuilt from the key in a fresh process, e.g. when
    a traced or exported graph is loaded before any model built it)."""
    spec = _SPECS.get(key)
    if spec is None:
        from .convolution import TPConvSpec

        irreps_in, irreps_sh, irreps_out, _ = key.split("|")
        spec = TPConvSpec.build(irreps_in, irreps_sh, irreps_out)
        if spec_key(spec) != key:
            raise KeyError(f"tp_conv spec {key!r} is not registered and cannot be rebuilt")
    return spec


class PathRow(NamedTuple):
    """One row of ``PathTables.paths``; its CG entries are cg_index/cg_value[begin:end]."""

    in_start: int
    in_dim: int
    sh_start: int
    out_start: int
    out_dim: int
    mul: int
    weight_offset: int
    begin: int
    end: int


@dataclass(frozen=True)
class PathTables:
    """Numpy path tables of one direction (see the module docstring)."""

    paths: np.ndarray
    cg_index: np.ndarray
    cg_value: np.ndarray
    out_blocks: np.ndarray

    @property
    def num_paths(self) -> int:
        return len(self.paths)

    def rows(self) -> list[PathRow]:
        return [PathRow(*row) for row in self.paths.tolist()]


def _blocks(irreps: o3.Irreps) -> np.ndarray:
    rows, start = [], 0
    for mul, ir in irreps:
        rows.append((start, mul, ir.dim))
        start += mul * ir.dim
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


@functools.cache
def path_tables(spec, transposed: bool = False) -> PathTables:
    """Path tables of ``spec``; ``transposed`` swaps input and output of every path."""
    irreps_in, irreps_sh, irreps_out = (
        o3.Irreps(s) for s in (spec.irreps_in, spec.irreps_sh, spec.irreps_out)
    )
    in_blocks, sh_blocks, out_blocks = _blocks(irreps_in), _blocks(irreps_sh), _blocks(irreps_out)
    paths, cg_index, cg_value = [], [], []
    for k, (i_in, i_sh, i_out) in enumerate(spec.instructions):
        l1, l2, l3 = irreps_in[i_in].ir.l, irreps_sh[i_sh].ir.l, irreps_out[i_out].ir.l
        cg = o3.wigner_3j(l1, l2, l3, dtype=torch.float64).numpy() * spec.path_weights[k]
        a, b, c = np.nonzero(cg)
        values = cg[a, b, c]
        begin = len(cg_value)
        source, target = (
            (out_blocks[i_out], in_blocks[i_in])
            if transposed
            else (in_blocks[i_in], out_blocks[i_out])
        )
        entries = np.stack([c, b, a] if transposed else [a, b, c], axis=1)
        cg_index.extend(entries.tolist())
        cg_value.extend(values.tolist())
        paths.append(
            (
                source[0],
                source[2],
                sh_blocks[i_sh][0],
                target[0],
                target[2],
                irreps_in[i_in].mul,
                spec.weight_offsets[k],
                begin,
                len(cg_value),
            )
        )
    return PathTables(
        paths=np.asarray(paths, dtype=np.int64).reshape(-1, 9),
        cg_index=np.asarray(cg_index, dtype=np.int64).reshape(-1, 3),
        cg_value=np.asarray(cg_value, dtype=np.float64),
        out_blocks=in_blocks if transposed else out_blocks,
    )
