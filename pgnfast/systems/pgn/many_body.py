"""How much of the PGN forces a pair force leaves to many-body terms (issue 17): the best
radial pair force, and the best pair force plus a three-body energy, fitted by linear least
squares to the DFT forces (units nm, kT).

The three-body energy is a smooth function of the three distances of every triangle whose
legs are all shorter than `triplet_cutoff`:

    E3 = sum over triangles (a, b, c) of sum_t c_t S_t(r_ab, r_ac, r_bc),

with S_t the products b_p(x) b_q(y) b_s(z) of Gaussian radial functions times a smooth
cosine cutoff, symmetrised over the six orders of the three distances (p <= q <= s), so E3
is invariant under relabelling the triangle's corners and goes to zero smoothly at the
cutoff. The pair force is the linear spline of `pgnfast.systems.pgn.diagnostics
.pair_force_residual`. Both are linear in their coefficients; their force columns (the
three-body ones by automatic differentiation, `torch.func.jacrev`) are fitted together on
the first frames and measured on the held-out rest.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from pgnfast.errors import InputError
from pgnfast.validation import check_positive


def radial_functions(distances, cutoff: float, count: int):
    """(..., count) Gaussians centred evenly on [0, cutoff] (width the spacing) times the
    cosine cutoff 0.5 (1 + cos(pi r / cutoff)), zero beyond the cutoff. distances: nm."""
    centres = torch.linspace(0.0, cutoff, count, dtype=distances.dtype)
    width = cutoff / max(count - 1, 1)
    envelope = 0.5 * (1.0 + torch.cos(torch.pi * distances / cutoff))
    envelope = torch.where(distances < cutoff, envelope, torch.zeros_like(distances))
    gaussians = torch.exp(-(((distances[..., None] - centres) / width) ** 2))
    return gaussians * envelope[..., None]


def triplet_terms(count: int) -> list[tuple[int, int, int]]:
    """The (p, q, s), p <= q <= s, of the symmetrised three-body basis."""
    return list(itertools.combinations_with_replacement(range(count), 3))


def triangles(atoms, cutoff: float):
    """Every triangle with three legs shorter than `cutoff` around each corner: (centres,
    first neighbour edge, second neighbour edge) into ASE's neighbor list (i, j, S) within
    `cutoff`, and that list. Each triangle appears once per corner (three times)."""
    from ase.neighborlist import neighbor_list

    i, j, shifts = neighbor_list("ijS", atoms, cutoff)
    first, second = [], []
    starts = np.searchsorted(i, np.arange(len(atoms) + 1))
    for centre in range(len(atoms)):
        edges = np.arange(starts[centre], starts[centre + 1])
        if len(edges) >= 2:
            a, b = np.triu_indices(len(edges), 1)
            first.append(edges[a])
            second.append(edges[b])
    first = np.concatenate(first) if first else np.zeros(0, int)
    second = np.concatenate(second) if second else np.zeros(0, int)
    return first, second, (i, j, shifts)


def _triplet_basis(atoms, cutoff: float, count: int):
    """The function positions (N, 3) -> three-body basis energies (terms,) of `atoms`'
    triangles (their neighbour images fixed), or None without triangles."""
    first, second, (i, j, shifts) = triangles(atoms, cutoff)
    terms = triplet_terms(count)
    if len(first) == 0:
        return None
    cell = torch.as_tensor(np.asarray(atoms.cell[:]), dtype=torch.float64)
    offsets = torch.as_tensor(shifts, dtype=torch.float64) @ cell
    centre = torch.as_tensor(i)
    neighbour = torch.as_tensor(j)
    first_t, second_t = torch.as_tensor(first), torch.as_tensor(second)
    p, q, s = (torch.as_tensor(column) for column in zip(*terms))

    def basis_energies(positions):
        vectors = positions[neighbour] - positions[centre] + offsets
        leg1, leg2 = vectors[first_t], vectors[second_t]
        distances = torch.stack(
            [leg1.norm(dim=-1), leg2.norm(dim=-1), (leg2 - leg1).norm(dim=-1)], dim=-1
        )
        values = radial_functions(distances, cutoff, count)  # (T, 3, count)
        x, y, z = values[:, 0], values[:, 1], values[:, 2]
        total = 0.0
        for u, v, w in itertools.permutations((x, y, z)):
            total = total + u[:, p] * v[:, q] * w[:, s]
        return total.sum(dim=0) / 3.0  # each triangle was seen from its three corners

    return basis_energies


def triplet_energies(atoms, cutoff: float, count: int) -> np.ndarray:
    """(len(triplet_terms(count)),) three-body basis energies of `atoms` (per unit
    coefficient, kT)."""
    basis = _triplet_basis(atoms, cutoff, count)
    if basis is None:
        return np.zeros(len(triplet_terms(count)))
    positions = torch.as_tensor(np.asarray(atoms.positions), dtype=torch.float64)
    return basis(positions).numpy()


def triplet_force_columns(atoms, cutoff: float, count: int) -> np.ndarray:
    """(3N, len(triplet_terms(count))) forces of each three-body basis energy, kT/nm per
    unit coefficient, rows ordered particle-major (x, y, z)."""
    n, terms = len(atoms), triplet_terms(count)
    basis_energies = _triplet_basis(atoms, cutoff, count)
    if basis_energies is None:
        return np.zeros((3 * n, len(terms)))
    positions = torch.as_tensor(np.asarray(atoms.positions), dtype=torch.float64)
    jacobian = torch.func.jacrev(basis_energies)(positions)  # (terms, N, 3)
    return -jacobian.reshape(len(terms), 3 * n).T.numpy()


def pair_force_columns(atoms, grid: np.ndarray) -> np.ndarray:
    """(3N, len(grid)) forces of the linear-spline pair force on `grid` (nm), per unit
    value at each knot (the parameterisation of `diagnostics.pair_force_residual`)."""
    from ase.neighborlist import neighbor_list

    knots = len(grid)
    i, d, vec = neighbor_list("idD", atoms, float(grid[-1]))
    unit = -vec / d[:, None]
    t = (d - grid[0]) / (grid[1] - grid[0])
    left = np.floor(t).astype(int)
    frac = t - left
    columns = np.zeros((len(atoms) * 3, knots))
    for axis in range(3):
        for node, weight in ((left, 1 - frac), (left + 1, frac)):
            ok = (node >= 0) & (node < knots)
            np.add.at(columns, (i[ok] * 3 + axis, node[ok]), weight[ok] * unit[ok, axis])
    return columns


def many_body_force_residual(
    frames,
    pair_cutoff: float,
    triplet_cutoffs,
    *,
    radial_count: int = 6,
    knots: int = 40,
    inner: float | None = None,
    test_fraction: float = 0.2,
) -> dict:
    """Relative RMS force residual (residual RMS over force RMS, fit and held-out) of the
    best pair force up to `pair_cutoff` alone and with a three-body energy for each triplet
    cutoff (nm). frames: labeled ase.Atoms (forces kT/nm); the first (1 - test_fraction)
    are fitted. What the triplet term removes from the pair residual is the three-body part
    of the forces that a smooth function of the three distances can hold."""
    from ase.neighborlist import neighbor_list

    frames = list(frames)
    check_positive(pair_cutoff, "pair_cutoff (nm)")
    triplet_cutoffs = [check_positive(c, "triplet cutoff (nm)") for c in triplet_cutoffs]
    n_fit = int(round(len(frames) * (1 - test_fraction)))
    if not 0 < n_fit < len(frames):
        raise InputError(
            f"many_body_force_residual needs frames on both sides of the split: "
            f"{len(frames)} frames with test_fraction {test_fraction}"
        )
    if inner is None:
        inner = min(neighbor_list("d", a, pair_cutoff).min() for a in frames) - 1e-6
    grid = np.linspace(inner, pair_cutoff, knots)
    pair = [pair_force_columns(a, grid) for a in frames]
    targets = [np.asarray(a.get_forces(), np.float64).ravel() for a in frames]

    def residuals(columns):
        x_fit, y_fit = np.vstack(columns[:n_fit]), np.concatenate(targets[:n_fit])
        x_out, y_out = np.vstack(columns[n_fit:]), np.concatenate(targets[n_fit:])
        scale = np.linalg.norm(x_fit, axis=0)
        scale[scale == 0] = 1.0
        coefficients = np.linalg.lstsq(x_fit / scale, y_fit, rcond=None)[0] / scale
        return {
            "fit": float(np.sqrt(np.mean((x_fit @ coefficients - y_fit) ** 2) / np.mean(y_fit**2))),
            "held-out": float(
                np.sqrt(np.mean((x_out @ coefficients - y_out) ** 2) / np.mean(y_out**2))
            ),
            "parameters": int(x_fit.shape[1]),
        }

    out = {"pair_cutoff": float(pair_cutoff), "pair": residuals(pair), "pair+triplet": {}}
    for cutoff in triplet_cutoffs:
        columns = [
            np.hstack([p, triplet_force_columns(a, cutoff, radial_count)])
            for p, a in zip(pair, frames)
        ]
        out["pair+triplet"][float(cutoff)] = residuals(columns)
    out["frames"] = {"fit": n_fit, "held-out": len(frames) - n_fit}
    return out


__all__ = [
    "many_body_force_residual",
    "pair_force_columns",
    "radial_functions",
    "triangles",
    "triplet_energies",
    "triplet_force_columns",
    "triplet_terms",
]
