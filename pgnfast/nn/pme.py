"""Particle-mesh Ewald (PME) electrostatics of point and Gaussian charges: the near-linear
path beside the exact Ewald sum of `pgnfast.nn.electrostatics` (same energy, same terms, same
units: Angstrom, e, eV).

The Ewald split with parameter alpha (torch-pme's smearing s = 1 / (sqrt(2) alpha)) gives the
potential phi = A q of the charges q (A: the Coulomb matrix of `coulomb_matrix`) as

- real space, over the image pairs within a fixed cutoff r_cut (pgnfast's neighbor list):
  sum_j q_j [erfc(alpha r) - erfc(r / (sqrt(2) gamma_ij))] / r;
- reciprocal space by torch-pme's PME pieces (`MeshInterpolator`: Lagrange interpolation of
  the charges onto a mesh; `KSpaceFilter` with its `CoulombPotential`: FFT, the filter
  exp(-k^2 / (4 alpha^2)) 4 pi / k^2, inverse FFT; interpolation back), set up once per
  geometry (`bind`) and reused by every product of an iterative solve;
- the point-charge self term -2 alpha / sqrt(pi) q_i and the background of a charged cell
  -pi Q / (V alpha^2);
- the Gaussian self energy 1 / (sqrt(pi) sigma_i) and the background's interaction with the
  Gaussians' spread, 2 pi (sigma_i^2 Q + sum_j q_j sigma_j^2) / V.

With r_cut fixed, alpha = s / r_cut (s = sqrt(-ln(accuracy))) and the mesh spacing from
alpha, the cost is O(N) for the real space and O(M log M) for a mesh of M ~ V points, so
O(N log N) at fixed density. The interpolation matrix W is used for spreading and for
gathering, so the PME operator A_pme = W^T G W (+ the exact real-space and diagonal terms)
is symmetric, and its energy 1/2 q^T A_pme q is differentiable by autograd with respect to
charges, positions, cell and widths (forces and stress). Its error against the exact Ewald
sum is set by `accuracy` (tested in tests/nn/test_qeq_fast.py and measured by
benchmarks/bench_electrostatics.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import InputError
from ..ops import mesh as mesh_ops
from .electrostatics import (
    COULOMB_CONSTANT,
    _check_inputs,
    _pair_gammas,
    _periodic_cell,
    _real_space_kernel,
)

DEFAULT_PME_ACCURACY = 1e-6
DEFAULT_R_CUT = 8.0
# the two-level preconditioner: envelope wavevector as a fraction of k_c, mesh points per
# envelope wavelength 2 pi / k_env, and conjugate-gradient steps on the coarse system
LONG_WAVE_ENVELOPE = 0.8
LONG_WAVE_MESH_POINTS = 6.0
COARSE_ITERATIONS = 3

__all__ = [
    "DEFAULT_PME_ACCURACY",
    "PMECoulombOperator",
    "PMEParameters",
    "pme_energy",
    "mesh_points",
    "pme_parameters",
]


@dataclass(frozen=True)
class PMEParameters:
    """alpha (1/Angstrom), real-space cutoff r_cut (Angstrom), largest grid spacing
    mesh_spacing (Angstrom) and interpolation_nodes (points per direction of torch-pme's
    Lagrange interpolation, 3..7)."""

    alpha: float
    r_cut: float
    mesh_spacing: float
    interpolation_nodes: int


def pme_parameters(
    widths=None,
    *,
    accuracy: float = DEFAULT_PME_ACCURACY,
    r_cut: float | None = None,
    mesh_spacing: float | None = None,
    interpolation_nodes: int = 6,
) -> PMEParameters:
    """PMEParameters at relative `accuracy` (0 < accuracy < 1), s = sqrt(-ln(accuracy)):
    r_cut (default 8 Angstrom, widened to 2 s max(widths) for Gaussian charges) fixed
    whatever N, alpha = s / r_cut, k_max = 2 alpha s, and a grid spacing h with
    h k_max = min(1.5, 0.87 (accuracy / 1e-6)^(1/5)) (the interpolation error of 6 nodes
    falls as about h^5; calibrated on random Gaussian charges at 0.05 atoms per Angstrom^3,
    where h k_max = 0.87 gives relative energy errors near 1e-6 and force errors near 1e-5
    of max |F|). The mesh has the smallest 2-3-5-smooth number of points per box vector
    that reaches that spacing (`mesh_points`)."""
    if not 0.0 < float(accuracy) < 1.0:
        raise InputError(f"accuracy must lie strictly between 0 and 1, got {accuracy!r}")
    if interpolation_nodes not in (3, 4, 5, 6, 7):
        raise InputError(f"interpolation_nodes must be 3..7, got {interpolation_nodes!r}")
    s = math.sqrt(-math.log(float(accuracy)))
    if r_cut is None:
        r_cut = DEFAULT_R_CUT
        if widths is not None and widths.numel():
            r_cut = max(r_cut, 2.0 * s * float(widths.detach().max()))
    elif not math.isfinite(float(r_cut)) or float(r_cut) <= 0:
        raise InputError(f"r_cut must be > 0 Angstrom, got {r_cut!r}")
    alpha = s / float(r_cut)
    if mesh_spacing is None:
        k_max = 2.0 * alpha * s
        mesh_spacing = min(1.5, 0.87 * (float(accuracy) / 1e-6) ** 0.2) / k_max
    elif not math.isfinite(float(mesh_spacing)) or float(mesh_spacing) <= 0:
        raise InputError(f"mesh_spacing must be > 0 Angstrom, got {mesh_spacing!r}")
    return PMEParameters(float(alpha), float(r_cut), float(mesh_spacing), int(interpolation_nodes))


class PMECoulombOperator:
    """The map q -> A q (eV/e per e) of one fully periodic structure by PME, for energies and
    for the matrix-vector products of an iterative charge equilibration.

    Built once per geometry: the real-space image pairs (i, j, shift) within r_cut come from
    pgnfast's neighbor list at construction; `matvec(charges, positions, cell, widths)` is
    then differentiable in every argument (the pair list is fixed, as the exact Ewald sum's
    integer ranges are). charges may be (n,) or (n, k) (k right-hand sides at once).
    """

    def __init__(
        self,
        positions: torch.Tensor,
        cell,
        widths: torch.Tensor | None = None,
        *,
        pbc=True,
        include_self: bool = True,
        parameters: PMEParameters | None = None,
        accuracy: float = DEFAULT_PME_ACCURACY,
        coulomb_constant: float = COULOMB_CONSTANT,
    ):
        from ..neighbors import neighbor_list

        _check_inputs(positions.new_zeros(positions.shape[0]), positions, widths)
        self.cell = _periodic_cell(cell, pbc, positions)
        self.parameters = parameters or pme_parameters(widths, accuracy=accuracy)
        self.include_self = include_self
        self.coulomb_constant = float(coulomb_constant)
        self.gaussian = widths is not None
        found = neighbor_list(
            positions.detach(), self.cell.detach(), self.parameters.r_cut, pbc=True
        )
        self.i = torch.as_tensor(found.i, device=positions.device, dtype=torch.int64)
        self.j = torch.as_tensor(found.j, device=positions.device, dtype=torch.int64)
        self.shifts = torch.as_tensor(found.shifts, device=positions.device).to(positions.dtype)
        self.num_atoms = positions.shape[0]

    def diagonal(self, widths: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        """An estimate (n,) of A's diagonal for a Jacobi preconditioner: the Gaussian self
        energy (0 for point charges)."""
        if widths is None or not self.include_self:
            return like.new_zeros(self.num_atoms)
        return self.coulomb_constant / (math.sqrt(math.pi) * widths.detach().to(like.dtype))

    def bind(self, positions, cell=None, widths=None):
        """q -> A q ((n,) or (n, k) charges) at these positions, cell and widths: the
        interpolation weights, the k-space filter and the real-space kernel are computed once
        here (differentiably) and reused by every product, as in an iterative solve."""
        try:
            from torchpme import CoulombPotential
            from torchpme.lib import KSpaceFilter, MeshInterpolator
        except ImportError as error:
            raise ImportError(
                "particle-mesh Ewald needs torch-pme: pip install 'pgnfast[charges]' "
                "(or use the exact Ewald sum, periodic_method='ewald')"
            ) from error

        cell = self.cell if cell is None else cell
        if (widths is not None) != self.gaussian:
            raise InputError("give widths exactly when the operator was built with them")
        alpha = self.parameters.alpha
        vectors = positions[self.j] - positions[self.i] + self.shifts @ cell
        r = torch.linalg.norm(vectors, dim=1)
        gammas = None if widths is None else _pair_gammas(widths, self.i, self.j)
        kernel = _real_space_kernel(r, alpha, gammas)
        smearing = 1.0 / (math.sqrt(2.0) * alpha)
        potential = CoulombPotential(smearing=smearing).to(positions.device, positions.dtype)
        mesh = mesh_points(cell, self.parameters.mesh_spacing).to(positions.device)
        interpolation = MeshInterpolator(
            cell, mesh, self.parameters.interpolation_nodes, method="Lagrange"
        )
        interpolation.compute_weights(positions)
        to_mesh, to_points = _mesh_transfer(interpolation, mesh)
        reciprocal = KSpaceFilter(
            cell, mesh, kernel=potential, fft_norm="backward", ifft_norm="forward"
        )
        volume = torch.abs(torch.linalg.det(cell))

        def apply(charges: torch.Tensor) -> torch.Tensor:
            columns = charges if charges.dim() == 2 else charges[:, None]
            total = columns.sum(dim=0)
            result = torch.zeros_like(columns).index_add(
                0, self.i, kernel[:, None] * columns[self.j]
            )
            result = result + to_points(reciprocal(to_mesh(columns))) / volume
            # point-charge self term and the background of a charged cell
            result = result - 2.0 * alpha / math.sqrt(math.pi) * columns
            result = result - math.pi / (volume * alpha**2) * total[None, :]
            if widths is not None:
                squares = widths**2
                width_sum = (squares[:, None] * columns).sum(dim=0)
                result = result + 2.0 * math.pi / volume * (
                    squares[:, None] * total[None, :] + width_sum[None, :]
                )
                if self.include_self:
                    result = result + columns / (math.sqrt(math.pi) * widths[:, None])
            result = self.coulomb_constant * result
            return result if charges.dim() == 2 else result[:, 0]

        return apply

    def preconditioner(self, diagonal, positions, cell=None, widths=None):
        """r -> P^-1 r ((n,) or (n, k)), an approximate inverse of H = A + diag(h) for
        (flexible) conjugate gradients, `diagonal` (n,) H's diagonal estimate D (eV/e^2,
        Gaussian self energy plus hardness). Jacobi alone leaves the long charge waves
        badly conditioned: a wave of wavevector k costs about d + c(k), c(k) = k_e 4 pi
        rho exp(-k^2 s^2) / k^2, whose largest value grows as the box length squared.

        Two levels: H is modelled as D + W^T G W, G the Coulomb kernel of the long waves
        (k_e 4 pi / k^2 exp(-k^2 s^2), enveloped by exp(-k^2 / k_env^2)) on a coarse mesh
        (4-node interpolation W, about one atom per cell), and P^-1 is its inverse by
        Woodbury: D^-1 - D^-1 W^T G^1/2 (I + G^1/2 B G^1/2)^-1 G^1/2 W D^-1 with
        B = W D^-1 W^T. The coarse system is solved by a few conjugate-gradient steps
        (COARSE_ITERATIONS) preconditioned by its uniform-density form (I + b G)^-1, b
        the mean of B, diagonal in k-space; the atoms' real density enters through B.
        Being a few iterations, P^-1 is not a fixed linear map, so the outer solve uses
        the flexible form of conjugate gradients. Built without gradients (it only
        steers the solve; the solution is the same)."""
        from torchpme.lib import MeshInterpolator

        with torch.no_grad():
            cell = (self.cell if cell is None else cell).detach()
            positions = positions.detach()
            diagonal = diagonal.detach().to(positions.dtype)
            volume = float(torch.abs(torch.linalg.det(cell)))
            n = self.num_atoms
            # the harmonic mean: what the long waves see of a varying diagonal
            mean_diagonal = float(1.0 / (1.0 / diagonal).mean())
            spread = 0.0 if widths is None else float((widths.detach() ** 2).mean())
            strength = self.coulomb_constant * 4.0 * math.pi * n / volume
            # the waves that need the correction have k^2 below about strength / d
            k_envelope = LONG_WAVE_ENVELOPE * math.sqrt(strength / max(mean_diagonal, 1e-12))
            spacing = 2.0 * math.pi / (LONG_WAVE_MESH_POINTS * k_envelope)
            mesh = mesh_points(cell, min(max(spacing, 0.5), 8.0)).to(positions.device)
            interpolation = MeshInterpolator(cell, mesh, 4, method="Lagrange")
            interpolation.compute_weights(positions)
            to_mesh, to_points = _mesh_transfer(interpolation, mesh)
            shape = tuple(int(v) for v in mesh)
            nodes = shape[0] * shape[1] * shape[2]
            k_sq = _rfft_k_squared(cell, shape)
            safe = torch.where(k_sq > 0, k_sq, torch.ones_like(k_sq))
            kernel = self.coulomb_constant * 4.0 * math.pi / safe
            kernel = kernel * torch.exp(-safe * (spread + 1.0 / k_envelope**2))
            kernel = torch.where(k_sq > 0, kernel, torch.zeros_like(kernel)) * nodes / volume
            root_kernel = torch.sqrt(kernel)
            coarse_inverse = 1.0 / (1.0 + n / (nodes * mean_diagonal) * kernel)
            inverse_diagonal = (1.0 / diagonal)[:, None]

        def filtered(values, kernel_values):
            spectrum = torch.fft.rfftn(values, dim=(1, 2, 3)) * kernel_values
            return torch.fft.irfftn(spectrum, s=shape, dim=(1, 2, 3))

        def coarse_matrix(u):  # I + G^1/2 B G^1/2
            potential = to_points(filtered(u, root_kernel)) * inverse_diagonal
            return u + filtered(to_mesh(potential), root_kernel)

        def apply(residual: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                columns = residual if residual.dim() == 2 else residual[:, None]
                jacobi = inverse_diagonal * columns
                rhs = filtered(to_mesh(jacobi), root_kernel)
                u = filtered(rhs, coarse_inverse)
                rest = rhs - coarse_matrix(u)
                z = filtered(rest, coarse_inverse)
                direction, rz = z, (rest * z).flatten(1).sum(1)
                for _ in range(COARSE_ITERATIONS):
                    image = coarse_matrix(direction)
                    step = rz / (direction * image).flatten(1).sum(1).clamp_min(1e-300)
                    u = u + step[:, None, None, None] * direction
                    rest = rest - step[:, None, None, None] * image
                    z = filtered(rest, coarse_inverse)
                    rz_new = (rest * z).flatten(1).sum(1)
                    ratio = rz_new / rz.clamp_min(1e-300)
                    direction, rz = z + ratio[:, None, None, None] * direction, rz_new
                result = jacobi - inverse_diagonal * to_points(filtered(u, root_kernel))
                return result if residual.dim() == 2 else result[:, 0]

        return apply

    def matvec(self, charges, positions, cell=None, widths=None) -> torch.Tensor:
        """A q: potentials (n,) or (n, k) in eV/e of charges (n,) or (n, k) e."""
        return self.bind(positions, cell, widths)(charges)


def _mesh_transfer(interpolation, mesh):
    """(to_mesh, to_points): torch-pme's Lagrange spreading (n, k) -> (k, nx, ny, nz) and
    gathering back, with the product of the three 1-d weights and the flat mesh index
    formed once per geometry instead of at every product (about twice as fast in an
    iterative solve); torch-pme's own methods where its weight layout is not the known
    one. The atoms are visited in the order of their mesh cell, so that spreading and
    gathering walk the mesh nearly in memory order (at 1e5 atoms the mesh is far larger
    than the caches). Products that need no gradient (the iterative solve) run in the
    compiled kernels of `pgnfast.ops.mesh`; the others in torch, differentiable in the
    charges, the mesh values and the weights (positions)."""
    names = ("interpolation_weights", "x_shifts", "y_shifts", "z_shifts")
    names += ("x_indices", "y_indices", "z_indices")
    if not all(hasattr(interpolation, name) for name in names):
        return interpolation.points_to_mesh, interpolation.mesh_to_points
    weights_1d = interpolation.interpolation_weights
    weights = (
        weights_1d[interpolation.x_shifts, :, 0]
        * weights_1d[interpolation.y_shifts, :, 1]
        * weights_1d[interpolation.z_shifts, :, 2]
    )  # (nodes^3, n)
    nx, ny, nz = (int(value) for value in mesh)
    flat = (interpolation.x_indices * ny + interpolation.y_indices) * nz
    flat = (flat + interpolation.z_indices).reshape(-1)
    if weights.shape != interpolation.x_indices.shape:
        return interpolation.points_to_mesh, interpolation.mesh_to_points
    order = torch.argsort(flat[: weights.shape[1]])  # by the first node's mesh point
    rows = weights.T[order].contiguous()  # (n, nodes^3)
    flat_rows = flat.reshape(weights.shape).T[order].contiguous()
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(order.numel(), device=order.device)
    size = nx * ny * nz
    fixed_rows = rows.detach()

    def to_mesh(columns: torch.Tensor) -> torch.Tensor:
        columns = columns[order]
        if mesh_ops.is_available(rows, columns):
            grids = mesh_ops.spread(fixed_rows, flat_rows, columns, size)
        else:
            grids = mesh_ops.spread_reference(rows, flat_rows, columns, size)
        return grids.reshape(columns.shape[1], nx, ny, nz)

    def to_points(mesh_values: torch.Tensor) -> torch.Tensor:
        values = mesh_values.reshape(mesh_values.shape[0], -1)
        if mesh_ops.is_available(rows, values):
            return mesh_ops.gather(fixed_rows, flat_rows, values)[inverse]
        return mesh_ops.gather_reference(rows, flat_rows, values)[inverse]

    return to_mesh, to_points


def _rfft_k_squared(cell: torch.Tensor, shape) -> torch.Tensor:
    """|k|^2 (1/Angstrom^2) on the half spectrum of torch.fft.rfftn over a mesh of `shape`
    spanning `cell` (box vectors as rows)."""
    frequencies = [
        torch.fft.fftfreq(shape[0], d=1.0 / shape[0], dtype=cell.dtype, device=cell.device),
        torch.fft.fftfreq(shape[1], d=1.0 / shape[1], dtype=cell.dtype, device=cell.device),
        torch.fft.rfftfreq(shape[2], d=1.0 / shape[2], dtype=cell.dtype, device=cell.device),
    ]
    grid = torch.stack(torch.meshgrid(*frequencies, indexing="ij"), dim=-1)
    wavevectors = 2.0 * math.pi * grid @ torch.linalg.inv(cell).T
    return (wavevectors**2).sum(dim=-1)


def _smooth_size(minimum: int) -> int:
    """The smallest integer >= minimum with no prime factor above 5 (fast FFT lengths)."""
    size = max(int(minimum), 1)
    while True:
        rest = size
        for prime in (2, 3, 5):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return size
        size += 1


def mesh_points(cell, spacing: float) -> torch.Tensor:
    """(3,) int64 mesh points along the box vectors: the smallest 2-3-5-smooth count giving
    a spacing |a_d| / n_d <= spacing (Angstrom), at least 2 interpolation nodes wide."""
    lengths = torch.linalg.norm(torch.as_tensor(cell).detach(), dim=1).cpu().tolist()
    return torch.tensor(
        [_smooth_size(max(8, math.ceil(length / spacing))) for length in lengths],
        dtype=torch.int64,
    )


def pme_energy(
    charges: torch.Tensor,
    positions: torch.Tensor,
    cell,
    widths: torch.Tensor | None = None,
    *,
    pbc=True,
    include_self: bool = True,
    accuracy: float = DEFAULT_PME_ACCURACY,
    r_cut: float | None = None,
    mesh_spacing: float | None = None,
    interpolation_nodes: int = 6,
    coulomb_constant: float = COULOMB_CONSTANT,
) -> torch.Tensor:
    """PME energy (eV, scalar tensor) 1/2 q^T A q of charges (N,) e at positions (N, 3)
    Angstrom in a fully periodic triclinic `cell` (3, 3, rows), Gaussian `widths` (N,)
    Angstrom or None: the exact `ewald_energy` up to `accuracy` (relative), every term
    included (neutralising background for a charged cell). Forces and stress by autograd.
    Raises InputError for pbc not all True (a non-periodic structure needs `direct_energy`),
    a missing or singular cell, bad shapes or non-positive widths."""
    _check_inputs(charges, positions, widths)
    if positions.shape[0] == 0:
        _periodic_cell(cell, pbc, positions)
        return positions.new_zeros(())
    parameters = pme_parameters(
        widths,
        accuracy=accuracy,
        r_cut=r_cut,
        mesh_spacing=mesh_spacing,
        interpolation_nodes=interpolation_nodes,
    )
    operator = PMECoulombOperator(
        positions,
        cell,
        widths,
        pbc=pbc,
        include_self=include_self,
        parameters=parameters,
        coulomb_constant=coulomb_constant,
    )
    if isinstance(cell, torch.Tensor):
        cell = cell.to(dtype=positions.dtype, device=positions.device)
    else:
        cell = operator.cell
    return 0.5 * charges @ operator.matvec(charges, positions, cell, widths)
