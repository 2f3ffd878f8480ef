"""Electrostatics of point and Gaussian charges: the direct pair sum (non-periodic) and the
Ewald sum (fully periodic, triclinic), as energies and as a dense Coulomb matrix.

Units: Angstrom, elementary charges and eV; `COULOMB_CONSTANT` = 14.399645 eV Angstrom (the
`coulomb_constant` argument overrides it). A Gaussian charge of width sigma_i (Angstrom) has
the density q_i (2 pi sigma_i^2)^(-3/2) exp(-|r - r_i|^2 / (2 sigma_i^2)); two of them
interact as q_i q_j erf(r / (sqrt(2) gamma_ij)) / r with gamma_ij = sqrt(sigma_i^2 +
sigma_j^2), and one with itself as q_i^2 / (2 sqrt(pi) sigma_i) (the self energy,
included unless `include_self=False`). `widths=None` means point charges (no self energy).

Periodic cells (Ewald, splitting parameter alpha, 1/Angstrom), E = k (E_real + E_recip +
E_self + E_background):

- E_real = 1/2 sum_{i,j,n}' q_i q_j [erfc(alpha r) - erfc(r / (sqrt(2) gamma_ij))] / r over
  every image pair (i == j too, n != 0) with r = |r_j - r_i + n @ cell| < r_cut (the
  erfc(r / (sqrt(2) gamma)) part only for Gaussian charges);
- E_recip = (2 pi / V) sum_{0 < |k| <= k_max} exp(-k^2 / (4 alpha^2)) / k^2 |S(k)|^2,
  S(k) = sum_i q_i exp(i k.r_i), k = 2 pi m @ inverse(cell).T for every integer m in the
  full range -n..n per direction;
- E_self = -alpha / sqrt(pi) sum_i q_i^2 (+ sum_i q_i^2 / (2 sqrt(pi) sigma_i) with
  include_self for Gaussian charges);
- E_background = -pi Q^2 / (2 V alpha^2) + (2 pi Q / V) sum_i q_i sigma_i^2, Q = sum_i q_i:
  the energy with a uniform neutralising background (the k = 0 term dropped from the Fourier
  sum of the Gaussian-charge interaction); the second part is the background's interaction
  with the Gaussians' spread, independent of alpha; both vanish for a neutral cell.

The result is independent of alpha up to the requested accuracy; `ewald_parameters` picks
alpha = sqrt(pi) (N / V^2)^(1/6), r_cut = s / alpha (at least 2 s sigma_max for Gaussian
charges), k_max = 2 alpha s with s = sqrt(-ln(accuracy)) (Kolafa-Perram style estimates:
the neglected terms are below exp(-s^2) relative). Everything is differentiable by autograd
with respect to charges, widths, positions and cell (the cutoffs' integer ranges are fixed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError
from ..geometry import check_cell, check_pbc
from ..validation import check_finite, check_positive

COULOMB_CONSTANT = 14.399645
"""k = 1 / (4 pi epsilon_0) in eV Angstrom per elementary charge squared."""

DEFAULT_ACCURACY = 1e-10

__all__ = [
    "COULOMB_CONSTANT",
    "DenseCoulombOperator",
    "EwaldParameters",
    "coulomb_matrix",
    "direct_energy",
    "electrostatic_energy",
    "ewald_energy",
    "ewald_parameters",
    "reciprocal_vectors",
]


@dataclass(frozen=True)
class EwaldParameters:
    """alpha (1/Angstrom), real-space cutoff r_cut (Angstrom), reciprocal cutoff k_max
    (1/Angstrom)."""

    alpha: float
    r_cut: float
    k_max: float


def _check_inputs(charges, positions, widths):
    """Shapes, dtypes and finiteness of (N,) charges, (N, 3) positions, (N,) widths > 0."""
    if not isinstance(positions, torch.Tensor) or positions.dim() != 2 or positions.shape[1] != 3:
        shape = tuple(positions.shape) if isinstance(positions, torch.Tensor) else type(positions)
        raise InputError(f"positions must be an (N, 3) torch tensor, got {shape}")
    n = positions.shape[0]
    check_finite(positions, "positions")
    if not isinstance(charges, torch.Tensor) or tuple(charges.shape) != (n,):
        shape = tuple(charges.shape) if isinstance(charges, torch.Tensor) else type(charges)
        raise InputError(f"charges must be a ({n},) torch tensor like positions, got {shape}")
    check_finite(charges, "charges")
    if widths is not None:
        if not isinstance(widths, torch.Tensor) or tuple(widths.shape) != (n,):
            shape = tuple(widths.shape) if isinstance(widths, torch.Tensor) else type(widths)
            raise InputError(f"widths must be a ({n},) torch tensor like positions, got {shape}")
        check_finite(widths, "widths")
        bad = widths <= 0
        if bool(bad.any()):
            i = int(torch.nonzero(bad)[0])
            raise InputError(
                f"widths must be > 0 Angstrom (None for point charges): widths[{i}] = "
                f"{float(widths[i])}"
            )


def _periodic_cell(cell, pbc, positions) -> torch.Tensor:
    """The (3, 3) cell as a tensor like positions, refusing anything not fully periodic."""
    periodic = check_pbc(pbc)
    if not all(periodic):
        raise InputError(
            f"Ewald summation needs a fully periodic structure, got pbc={periodic} "
            "(use direct_energy for a non-periodic one)"
        )
    check_cell(cell, periodic)
    if not isinstance(cell, torch.Tensor):
        cell = torch.as_tensor(np.asarray(cell, dtype=np.float64))
    return cell.to(dtype=positions.dtype, device=positions.device)


def ewald_parameters(
    cell, n_atoms: int, accuracy: float = DEFAULT_ACCURACY, widths=None, alpha=None
) -> EwaldParameters:
    """EwaldParameters for `n_atoms` in `cell` ((3, 3), Angstrom) at relative `accuracy`
    (0 < accuracy < 1): alpha = sqrt(pi) (N / V^2)^(1/6) unless given, r_cut = s / alpha
    (at least 2 s max(widths) for Gaussian charges), k_max = 2 alpha s, s =
    sqrt(-ln(accuracy))."""
    if not 0.0 < float(accuracy) < 1.0:
        raise InputError(f"accuracy must lie strictly between 0 and 1, got {accuracy!r}")
    cell = cell.detach().cpu().numpy() if isinstance(cell, torch.Tensor) else np.asarray(cell)
    s = math.sqrt(-math.log(float(accuracy)))
    if alpha is None:
        volume = abs(float(np.linalg.det(cell)))
        alpha = math.sqrt(math.pi) * (max(n_atoms, 1) / volume**2) ** (1.0 / 6.0)
    alpha = check_positive(alpha, "alpha")
    r_cut = s / alpha
    if widths is not None and widths.numel():
        r_cut = max(r_cut, 2.0 * s * float(widths.detach().max()))
    return EwaldParameters(alpha=alpha, r_cut=r_cut, k_max=2.0 * alpha * s)


def _resolve_parameters(cell, n, accuracy, widths, alpha, r_cut, k_max) -> EwaldParameters:
    """ewald_parameters with the caller's overrides."""
    chosen = ewald_parameters(cell, n, accuracy, widths, alpha)
    r_cut = chosen.r_cut if r_cut is None else check_positive(r_cut, "r_cut")
    k_max = chosen.k_max if k_max is None else check_positive(k_max, "k_max")
    return EwaldParameters(chosen.alpha, r_cut, k_max)


def reciprocal_vectors(cell: torch.Tensor, k_max: float) -> torch.Tensor:
    """(M, 3) wave vectors 2 pi m @ inverse(cell).T, 0 < |k| <= k_max, over every integer m
    with -n_d <= m_d <= n_d (n_d = ceil(k_max |a_d| / (2 pi)), enough for any k in the
    ball: m_d = k . a_d / (2 pi))."""
    lengths = torch.linalg.norm(cell.detach(), dim=1).cpu().numpy()
    bounds = [int(math.ceil(k_max * length / (2.0 * math.pi))) for length in lengths]
    ranges = [torch.arange(-b, b + 1, device=cell.device) for b in bounds]
    m = torch.cartesian_prod(*ranges).to(cell.dtype)
    k = 2.0 * math.pi * m @ torch.linalg.inv(cell).T
    norm2 = (k.detach() ** 2).sum(dim=1)
    keep = (norm2 > 0) & (norm2 <= k_max**2)
    return k[keep]


def _real_space_pairs(positions, cell, r_cut):
    """(i, j, r) over every image pair closer than r_cut (i == j with nonzero shift too), each
    pair listed in both directions; r differentiable in positions and cell."""
    from ..neighbors import neighbor_list

    found = neighbor_list(positions.detach(), cell.detach(), r_cut, pbc=True)
    vectors = positions[found.j] - positions[found.i] + found.shifts.to(cell.dtype) @ cell
    return found.i, found.j, torch.linalg.norm(vectors, dim=1)


def _pair_gammas(widths, i, j):
    return torch.sqrt(widths[i] ** 2 + widths[j] ** 2)


def _real_space_kernel(r, alpha, gammas):
    """[erfc(alpha r) - erfc(r / (sqrt(2) gamma))] / r (the second term only with widths)."""
    value = torch.special.erfc(alpha * r)
    if gammas is not None:
        value = value - torch.special.erfc(r / (math.sqrt(2.0) * gammas))
    return value / r


def _self_diagonal(charges_like, widths, alpha, include_self):
    """The diagonal d with E_self = 1/2 sum_i d_i q_i^2."""
    diagonal = torch.full_like(charges_like, -2.0 * alpha / math.sqrt(math.pi))
    if widths is not None and include_self:
        diagonal = diagonal + 1.0 / (math.sqrt(math.pi) * widths)
    return diagonal


def ewald_energy(
    charges: torch.Tensor,
    positions: torch.Tensor,
    cell,
    widths: torch.Tensor | None = None,
    *,
    pbc=True,
    include_self: bool = True,
    accuracy: float = DEFAULT_ACCURACY,
    alpha: float | None = None,
    r_cut: float | None = None,
    k_max: float | None = None,
    coulomb_constant: float = COULOMB_CONSTANT,
) -> torch.Tensor:
    """Ewald energy (eV, scalar tensor) of charges (N,) e at positions (N, 3) Angstrom in a
    fully periodic `cell` (3, 3, rows), with Gaussian `widths` (N,) Angstrom or None for
    point charges; a non-neutral cell gets the uniform neutralising background (see the
    module docstring for every term). alpha, r_cut and k_max override the choice made from
    `accuracy`. Raises InputError for pbc not all True, a missing or singular cell, bad
    shapes or non-positive widths."""
    _check_inputs(charges, positions, widths)
    cell = _periodic_cell(cell, pbc, positions)
    n = positions.shape[0]
    if n == 0:
        return positions.new_zeros(())
    params = _resolve_parameters(cell, n, accuracy, widths, alpha, r_cut, k_max)
    volume = torch.abs(torch.linalg.det(cell))

    i, j, r = _real_space_pairs(positions, cell, params.r_cut)
    gammas = None if widths is None else _pair_gammas(widths, i, j)
    real = 0.5 * (charges[i] * charges[j] * _real_space_kernel(r, params.alpha, gammas)).sum()

    k = reciprocal_vectors(cell, params.k_max)
    k2 = (k**2).sum(dim=1)
    phase = positions @ k.T  # (N, M)
    cos_sum = charges @ torch.cos(phase)
    sin_sum = charges @ torch.sin(phase)
    weights = torch.exp(-k2 / (4.0 * params.alpha**2)) / k2
    recip = 2.0 * math.pi / volume * (weights * (cos_sum**2 + sin_sum**2)).sum()

    diagonal = _self_diagonal(charges, widths, params.alpha, include_self)
    self_energy = 0.5 * (diagonal * charges**2).sum()
    total = charges.sum()
    background = -math.pi * total**2 / (2.0 * volume * params.alpha**2)
    if widths is not None:
        background = background + 2.0 * math.pi * total / volume * (charges * widths**2).sum()
    return coulomb_constant * (real + recip + self_energy + background)


def direct_energy(
    charges: torch.Tensor,
    positions: torch.Tensor,
    widths: torch.Tensor | None = None,
    *,
    include_self: bool = True,
    coulomb_constant: float = COULOMB_CONSTANT,
) -> torch.Tensor:
    """Energy (eV, scalar tensor) of charges (N,) e at positions (N, 3) Angstrom without
    periodicity: k sum_{i<j} q_i q_j erf(r_ij / (sqrt(2) gamma_ij)) / r_ij (1 / r_ij for
    point charges, widths None) plus, with include_self and widths, the Gaussian self
    energy k sum_i q_i^2 / (2 sqrt(pi) sigma_i)."""
    _check_inputs(charges, positions, widths)
    n = positions.shape[0]
    i, j = torch.triu_indices(n, n, offset=1, device=positions.device)
    r = torch.linalg.norm(positions[j] - positions[i], dim=1)
    kernel = 1.0 / r
    if widths is not None:
        kernel = torch.special.erf(r / (math.sqrt(2.0) * _pair_gammas(widths, i, j))) / r
    energy = (charges[i] * charges[j] * kernel).sum()
    if widths is not None and include_self:
        energy = energy + (charges**2 / (2.0 * math.sqrt(math.pi) * widths)).sum()
    return coulomb_constant * energy


def electrostatic_energy(charges, positions, widths=None, *, cell=None, pbc=False, **options):
    """`ewald_energy` when any direction is periodic (then all must be), else
    `direct_energy`; options are passed on."""
    if any(check_pbc(pbc)):
        return ewald_energy(charges, positions, cell, widths, pbc=pbc, **options)
    for name in ("accuracy", "alpha", "r_cut", "k_max"):
        options.pop(name, None)
    return direct_energy(charges, positions, widths, **options)


def coulomb_matrix(
    positions: torch.Tensor,
    widths: torch.Tensor | None = None,
    *,
    cell=None,
    pbc=False,
    include_self: bool = True,
    accuracy: float = DEFAULT_ACCURACY,
    alpha: float | None = None,
    r_cut: float | None = None,
    k_max: float | None = None,
    coulomb_constant: float = COULOMB_CONSTANT,
) -> torch.Tensor:
    """Symmetric (N, N) matrix A (eV per e^2) with electrostatic_energy = 1/2 q^T A q for
    every q, self, width and background terms included (for Qeq). Non-periodic point
    charges have a zero diagonal; periodic ones carry the Ewald self term there."""
    n = positions.shape[0]
    _check_inputs(positions.new_zeros(n), positions, widths)
    matrix = positions.new_zeros((n, n))
    if not any(check_pbc(pbc)):
        i, j = torch.triu_indices(n, n, offset=1, device=positions.device)
        r = torch.linalg.norm(positions[j] - positions[i], dim=1)
        kernel = 1.0 / r
        if widths is not None:
            kernel = torch.special.erf(r / (math.sqrt(2.0) * _pair_gammas(widths, i, j))) / r
        matrix = matrix.index_put((i, j), kernel).index_put((j, i), kernel)
        if widths is not None and include_self:
            matrix = matrix + torch.diag(1.0 / (math.sqrt(math.pi) * widths))
        return coulomb_constant * matrix
    cell = _periodic_cell(cell, pbc, positions)
    if n == 0:
        return matrix
    params = _resolve_parameters(cell, n, accuracy, widths, alpha, r_cut, k_max)
    volume = torch.abs(torch.linalg.det(cell))

    i, j, r = _real_space_pairs(positions, cell, params.r_cut)
    gammas = None if widths is None else _pair_gammas(widths, i, j)
    matrix = matrix.index_put((i, j), _real_space_kernel(r, params.alpha, gammas), accumulate=True)

    k = reciprocal_vectors(cell, params.k_max)
    k2 = (k**2).sum(dim=1)
    weights = torch.exp(-k2 / (4.0 * params.alpha**2)) / k2
    phase = positions @ k.T
    cosines, sines = torch.cos(phase), torch.sin(phase)
    matrix = matrix + 4.0 * math.pi / volume * ((cosines * weights) @ cosines.T)
    matrix = matrix + 4.0 * math.pi / volume * ((sines * weights) @ sines.T)

    diagonal = _self_diagonal(positions[:, 0], widths, params.alpha, include_self)
    matrix = matrix + torch.diag(diagonal)
    matrix = matrix - math.pi / (volume * params.alpha**2)
    if widths is not None:
        # 1/2 sum_ij q_i q_j 2 pi (sigma_i^2 + sigma_j^2) / V = (2 pi Q / V) sum_i q_i sigma_i^2
        squares = widths**2
        matrix = matrix + 2.0 * math.pi / volume * (squares[:, None] + squares[None, :])
    return coulomb_constant * matrix


class DenseCoulombOperator:
    """q -> A q with the exact dense Coulomb matrix of `coulomb_matrix` (direct sum without
    a cell, Ewald with one), built once per `bind`: the reference operator of the iterative
    solve, and its operator for non-periodic structures (O(n^2) memory, no cubic solve)."""

    def __init__(self, *, pbc=False, include_self=True, accuracy=DEFAULT_ACCURACY, **options):
        self.periodic = any(check_pbc(pbc))
        self.pbc = pbc
        self.include_self = include_self
        self.accuracy = accuracy
        self.coulomb_constant = options.get("coulomb_constant", COULOMB_CONSTANT)

    def diagonal(self, widths, like):
        """Gaussian self energies (n,) for the Jacobi preconditioner (0 for point charges)."""
        if widths is None or not self.include_self:
            return like.new_zeros(like.shape[0])
        return self.coulomb_constant / (math.sqrt(math.pi) * widths.detach())

    def bind(self, positions, cell, widths):
        matrix = coulomb_matrix(
            positions,
            widths,
            cell=cell if self.periodic else None,
            pbc=self.pbc,
            include_self=self.include_self,
            accuracy=self.accuracy,
            coulomb_constant=self.coulomb_constant,
        )
        return lambda charges: matrix @ charges
