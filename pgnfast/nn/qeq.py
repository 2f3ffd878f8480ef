"""Charge equilibration (Qeq): the charges that minimise, per structure,

    E(q) = sum_i (chi_i q_i + J_i q_i^2 / 2) + 1/2 q^T A q   subject to   sum_i q_i = Q_total,

with A the Coulomb matrix of `pgnfast.nn.electrostatics` (Gaussian or point charges; Ewald
for periodic structures). With fragments (e.g. the molecules of a dimer) there is one
constraint per fragment instead, sum_{i in f} q_i = Q_f, so no charge moves between
fragments. Solved densely (the exact reference path, cubic in the atoms of a structure)
from the augmented linear system (C (n, F) the indicator of each atom's constraint)

    [[A + diag(J), C], [C^T, 0]] [q; mu] = [-chi; Q]

with torch.linalg.solve, so forces taken by autograd include the charges' response to the
positions (and cell, widths, chi, J). Units: chi in eV/e, J in eV/e^2, charges in e,
energies in eV, lengths in Angstrom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError
from ..geometry import check_pbc
from ..validation import check_finite, check_indices
from .electrostatics import (
    COULOMB_CONSTANT,
    DEFAULT_ACCURACY,
    DenseCoulombOperator,
    coulomb_matrix,
)

__all__ = ["DenseCoulombOperator", "QeqResult", "qeq", "qeq_iterative"]


@dataclass
class QeqResult:
    """charges (N,) e; per structure (B,): energy (the minimised E(q), eV) and
    electrostatic_energy (1/2 q^T A q, eV); chemical_potential (C,) eV/e, the multiplier mu
    of each charge constraint (dE/dq_i = -mu at the minimum): one per structure (C = B), or
    one per fragment (C = F) when fragments are given; constraint (N,) int64, each atom's
    constraint (its structure, or its fragment)."""

    charges: torch.Tensor
    energy: torch.Tensor
    electrostatic_energy: torch.Tensor
    chemical_potential: torch.Tensor
    constraint: torch.Tensor


def _per_atom(values, name: str, n: int, like: torch.Tensor) -> torch.Tensor:
    if not isinstance(values, torch.Tensor) or tuple(values.shape) != (n,):
        shape = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values)
        raise InputError(f"{name} must be a ({n},) torch tensor like positions, got {shape}")
    check_finite(values, name)
    return values.to(dtype=like.dtype, device=like.device)


def _total_charges(total_charge, count: int, like: torch.Tensor) -> torch.Tensor:
    """(B,) total charges from a number or a (B,) sequence/tensor, all finite (None: 0)."""
    if total_charge is None:
        total_charge = 0.0
    if isinstance(total_charge, torch.Tensor):
        totals = total_charge.to(dtype=like.dtype, device=like.device)
    else:
        try:
            totals = torch.as_tensor(np.asarray(total_charge, dtype=np.float64), device=like.device)
        except (TypeError, ValueError) as error:
            message = f"total_charge must be a number or numbers, got {total_charge!r}"
            raise InputError(message) from error
        totals = totals.to(like.dtype)
    if totals.dim() == 0:
        totals = totals.expand(count)
    if tuple(totals.shape) != (count,):
        raise InputError(
            f"total_charge must be a number or have one entry per structure ({count},), "
            f"got shape {tuple(totals.shape)}"
        )
    bad = ~torch.isfinite(totals)
    if bool(bad.any()):
        b = int(torch.nonzero(bad)[0])
        raise InputError(f"total_charge of structure {b} is not finite: {float(totals[b])}")
    return totals


def _per_structure(value, count: int, name: str, per_item_dim: int):
    """A list of `count` entries from one shared value or a per-structure stack."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return [value] * count
    if isinstance(value, (list, tuple)) and len(value) == count and count != 3:
        return list(value)
    array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if array.ndim == per_item_dim:
        return [value] * count
    if array.ndim == per_item_dim + 1 and array.shape[0] == count:
        return [value[b] for b in range(count)]
    raise InputError(
        f"{name} must be shared by all structures or given per structure "
        f"(leading dimension {count}), got shape {array.shape}"
    )


def _constraints(fragment, fragment_charge, batch, count, total_charge, totals, like):
    """(constraint (N,) int64, constraint charges (C,)): per structure without fragments;
    per fragment with them, after checking that every fragment is non-empty and inside one
    structure and that the fragment charges add up to a total_charge given beside them."""
    if fragment is None and fragment_charge is None:
        return batch, totals
    if fragment is None or fragment_charge is None:
        raise InputError("fragment and fragment_charge must be given together")
    if not isinstance(fragment, torch.Tensor) or tuple(fragment.shape) != tuple(batch.shape):
        raise InputError(f"fragment must be an ({batch.numel()},) int64 torch tensor")
    charges = torch.as_tensor(fragment_charge, dtype=like.dtype, device=like.device)
    if charges.dim() != 1 or charges.numel() < 1:
        raise InputError("fragment_charge must be a 1-D sequence of charges, one per fragment")
    check_finite(charges, "fragment_charge")
    fragment = fragment.to(device=like.device)
    check_indices(fragment, charges.numel(), "fragment", batch.numel())
    sizes = torch.bincount(fragment, minlength=charges.numel())
    if bool((sizes == 0).any()):
        f = int(torch.nonzero(sizes == 0)[0])
        raise InputError(
            f"fragment {f} has no atoms: its charge constraint ({float(charges[f])}) cannot be met"
        )
    first = torch.full_like(sizes, batch.numel()).scatter_reduce(0, fragment, batch, reduce="amin")
    last = torch.zeros_like(sizes).scatter_reduce(0, fragment, batch, reduce="amax")
    if bool((first != last).any()):
        f = int(torch.nonzero(first != last)[0])
        raise InputError(f"fragment {f} has atoms in structures {int(first[f])} and {int(last[f])}")
    if total_charge is not None:
        summed = torch.zeros(count, dtype=like.dtype, device=like.device)
        summed = summed.index_add(0, first, charges.detach())
        off = (summed - totals.detach()).abs() > 1e-6 * (1 + totals.detach().abs())
        if bool(off.any()):
            b = int(torch.nonzero(off)[0])
            raise InputError(
                f"the fragment charges of structure {b} add up to {float(summed[b])}, not "
                f"to its total_charge {float(totals[b])}"
            )
    return fragment, charges


def _structure_constraints(constraint, atoms):
    """(global constraint ids (F_b,), indicator (n_b, F_b)) of one structure's atoms."""
    ids, local = torch.unique(constraint[atoms], return_inverse=True)
    return ids, torch.nn.functional.one_hot(local, ids.numel())


def _prepare_inputs(
    electronegativity,
    hardness,
    positions,
    widths,
    batch,
    num_structures,
    total_charge,
    cell,
    pbc,
    fragment=None,
    fragment_charge=None,
):
    """Checked (chi, hardness, widths, batch, count, constraint (N,), constraint charges
    (C,), cells [B], pbcs [B])."""
    if not isinstance(positions, torch.Tensor) or positions.dim() != 2 or positions.shape[1] != 3:
        raise InputError("positions must be an (N, 3) torch tensor")
    n = positions.shape[0]
    chi = _per_atom(electronegativity, "electronegativity", n, positions)
    hardness = _per_atom(hardness, "hardness", n, positions)
    negative = hardness < 0
    if bool(negative.any()):
        i = int(torch.nonzero(negative)[0])
        raise InputError(f"hardness must be >= 0: hardness[{i}] = {float(hardness[i])}")
    if widths is not None:
        widths = _per_atom(widths, "widths", n, positions)
    if batch is None:
        batch = torch.zeros(n, dtype=torch.int64, device=positions.device)
        count = 1 if num_structures is None else int(num_structures)
    else:
        if num_structures is not None:
            count = int(num_structures)
        else:
            count = int(batch.max()) + 1 if batch.numel() else 0
        check_indices(batch, max(count, 1), "batch", n)
    if count < 1:
        raise InputError("qeq needs at least one structure (got none)")
    totals = _total_charges(total_charge, count, positions)
    sizes = torch.bincount(batch, minlength=count)
    for b in range(count):
        if int(sizes[b]) == 0:
            raise InputError(
                f"structure {b} has no atoms: its charge constraint (total_charge "
                f"{float(totals[b])}) cannot be met"
            )
    constraint, charges = _constraints(
        fragment, fragment_charge, batch, count, total_charge, totals, positions
    )
    cells = _per_structure(cell, count, "cell", 2)
    pbcs = _per_structure(pbc, count, "pbc", 1)
    return chi, hardness, widths, batch, count, constraint, charges, cells, pbcs


def qeq(
    electronegativity: torch.Tensor,
    hardness: torch.Tensor,
    positions: torch.Tensor,
    widths: torch.Tensor | None = None,
    *,
    batch: torch.Tensor | None = None,
    num_structures: int | None = None,
    total_charge=None,
    fragment: torch.Tensor | None = None,
    fragment_charge=None,
    cell=None,
    pbc=False,
    include_self: bool = True,
    accuracy: float = DEFAULT_ACCURACY,
    coulomb_constant: float = COULOMB_CONSTANT,
) -> QeqResult:
    """Equilibrated charges of one or more structures.

    electronegativity chi (N,) eV/e, hardness J (N,) eV/e^2 (>= 0), positions (N, 3)
    Angstrom, widths (N,) Angstrom (None: point charges, which need J > 0 without a cell).
    batch (N,) int64 structure of each atom (None: one structure); num_structures B
    (default batch.max() + 1). total_charge: a number or (B,) e (None: 0). fragment (N,)
    int64 and fragment_charge (F,) e: one charge constraint per fragment (each inside one
    structure) instead of one per structure; a total_charge given beside them must equal
    their sum. cell: None, (3, 3) shared or (B, 3, 3); pbc: a bool, three bools, or one of
    those per structure. Periodic structures use the Ewald Coulomb matrix at `accuracy`.
    Raises InputError for mismatched lengths, a non-finite total charge, a structure or
    fragment with no atoms, a fragment across structures, fragment charges that miss the
    total, negative hardness, or a periodic structure without a cell.
    """
    chi, hardness, widths, batch, count, constraint, targets, cells, pbcs = _prepare_inputs(
        electronegativity,
        hardness,
        positions,
        widths,
        batch,
        num_structures,
        total_charge,
        cell,
        pbc,
        fragment,
        fragment_charge,
    )
    n = positions.shape[0]
    solved = []  # per structure: (atoms, constraint ids, q, mu, energy, coulomb)
    for b in range(count):
        atoms = torch.nonzero(batch == b).reshape(-1)
        ids, indicator = _structure_constraints(constraint, atoms)
        q, mu, matrix = _solve_one(
            chi[atoms],
            hardness[atoms],
            positions[atoms],
            None if widths is None else widths[atoms],
            targets[ids],
            indicator.to(positions.dtype),
            cells[b],
            pbcs[b],
            include_self=include_self,
            accuracy=accuracy,
            coulomb_constant=coulomb_constant,
        )
        coulomb = 0.5 * q @ matrix @ q
        energy = chi[atoms] @ q + 0.5 * (hardness[atoms] * q**2).sum() + coulomb
        solved.append((atoms, ids, q, mu, energy, coulomb))
    return _result(n, targets.numel(), constraint, solved)


def _result(n, num_constraints, constraint, solved):
    """The QeqResult assembled from per-structure pieces (atoms, constraint ids, charges,
    multipliers, energy, electrostatic energy)."""
    atoms, ids, charges, mus, energies, coulombs = zip(*solved)
    like = charges[0]
    full = like.new_zeros(n).index_copy(0, torch.cat(atoms), torch.cat(charges))
    potential = like.new_zeros(num_constraints).index_copy(0, torch.cat(ids), torch.cat(mus))
    return QeqResult(
        charges=full,
        energy=torch.stack(energies),
        electrostatic_energy=torch.stack(coulombs),
        chemical_potential=potential,
        constraint=constraint,
    )


def _solve_one(chi, hardness, positions, widths, targets, indicator, cell, pbc, **options):
    """(charges (n,), mu (F,), Coulomb matrix (n, n)) of one structure with constraints
    indicator.T q = targets (indicator (n, F))."""
    periodic = any(check_pbc(pbc))
    matrix = coulomb_matrix(
        positions,
        widths,
        cell=cell if periodic else None,
        pbc=pbc,
        include_self=options["include_self"],
        accuracy=options["accuracy"],
        coulomb_constant=options["coulomb_constant"],
    )
    if not periodic and widths is None and not bool((hardness > 0).all()):
        i = int(torch.nonzero(hardness <= 0)[0])
        raise InputError(
            f"point charges without a cell need hardness > 0: hardness[{i}] = "
            f"{float(hardness[i])} (their Coulomb matrix has a zero diagonal)"
        )
    m, f = indicator.shape
    system = torch.cat(
        [
            torch.cat([matrix + torch.diag(hardness), indicator], dim=1),
            torch.cat([indicator.T, positions.new_zeros(f, f)], dim=1),
        ],
        dim=0,
    )
    rhs = torch.cat([-chi, targets])
    try:
        solution = torch.linalg.solve(system, rhs)
    except torch.linalg.LinAlgError as error:
        raise InputError(
            "the Qeq system of a structure is singular: check its hardness and widths"
        ) from error
    return solution[:m], solution[m:], matrix


# -- the iterative path: conjugate gradients with implicit differentiation ---------------


def _conjugate_gradients(apply, precondition, rhs, tolerance, max_iterations):
    """Solve H X = rhs (n, k) column by column (shared matrix-vector products) by
    preconditioned CG in its flexible form (precondition: r -> P^-1 r, an SPD map or a few
    inner iterations of one; beta = r.(z - z_old) / r_old.z_old, which equals the usual
    beta for a fixed linear P), H symmetric positive definite; returns (X, iterations);
    InputError if H is not or the relative residual stays above tolerance."""
    x = torch.zeros_like(rhs)
    residual = rhs.clone()
    scale = torch.linalg.norm(rhs, dim=0).clamp_min(torch.finfo(rhs.dtype).tiny)
    z = precondition(residual)
    direction = z.clone()
    rz = (residual * z).sum(dim=0)
    for iteration in range(max_iterations + 1):
        relative = torch.linalg.norm(residual, dim=0) / scale
        if bool((relative <= tolerance).all()):
            return x, iteration
        if iteration == max_iterations:
            break
        h_direction = apply(direction)
        curvature = (direction * h_direction).sum(dim=0)
        if bool((curvature <= 0).any()):
            raise InputError(
                "the Qeq matrix A + diag(hardness) is not positive definite (conjugate "
                "gradients broke down): use Gaussian widths or larger hardness"
            )
        step = torch.where(relative <= tolerance, torch.zeros_like(rz), rz / curvature)
        x = x + step * direction
        residual = residual - step * h_direction
        z_old, z = z, precondition(residual)
        rz_new = (residual * z).sum(dim=0)
        flexible = (residual * (z - z_old)).sum(dim=0)
        direction = z + (flexible / torch.where(rz == 0, torch.ones_like(rz), rz)) * direction
        rz = rz_new
    raise InputError(
        f"the iterative Qeq solve did not converge in {max_iterations} iterations "
        f"(relative residual {float(relative.max()):.3g} > tolerance {tolerance:g})"
    )


def _constrained_solve(
    apply, precondition, hardness, chi, targets, indicator, tolerance, max_iterations
):
    """[[H, C], [C^T, 0]] [q; mu] = [-chi; targets], H = A + diag(hardness), C = indicator
    (n, F), through the SPD solves H s = -chi, H T = C (shared iterations): q = s + T c
    with (C^T T) c = targets - C^T s, mu = -c. precondition: r -> P^-1 r for H."""
    rhs = torch.cat([-chi[:, None], indicator], dim=1)
    solution, _ = _conjugate_gradients(
        lambda x: apply(x) + hardness[:, None] * x,
        precondition,
        rhs,
        tolerance,
        max_iterations,
    )
    s, t = solution[:, 0], solution[:, 1:]
    c = torch.linalg.solve(indicator.T @ t, targets - indicator.T @ s)
    return s + t @ c, -c


def _preconditioner(operator, hardness, positions, cell, widths):
    """r -> P^-1 r for H = A + diag(hardness): the operator's own when it has one (PME: a
    two-level coarse-mesh preconditioner), else Jacobi on the Gaussian self energy plus
    hardness."""
    diagonal = operator.diagonal(widths, hardness) + hardness.detach()
    if hasattr(operator, "preconditioner"):
        return operator.preconditioner(diagonal, positions, cell, widths)
    return lambda residual: residual / diagonal[:, None]


class _ImplicitQeq(torch.autograd.Function):
    """(q, mu) of one structure by CG (indicator (n, F): the atoms of each charge
    constraint, targets (F,) their charges); backward by implicit differentiation: one
    adjoint solve K [lambda; nu] = [dL/dq; dL/dmu] (K symmetric), then dL/dchi = -lambda,
    dL/dtargets = nu, dL/dJ = -lambda q, dL/dtheta = -d/dtheta (lambda^T A(theta) q) for theta =
    positions, cell, widths. The backward is built from this Function and differentiable
    ops, so it is itself differentiable (forces can be trained on)."""

    @staticmethod
    def forward(
        ctx, operator, settings, indicator, chi, targets, hardness, positions, cell, widths
    ):
        with torch.no_grad():
            apply = operator.bind(positions, cell, widths)
            precondition = _preconditioner(operator, hardness, positions, cell, widths)
            q, mu = _constrained_solve(
                apply, precondition, hardness, chi, targets, indicator, *settings
            )
        ctx.operator, ctx.settings, ctx.indicator = operator, settings, indicator
        ctx.save_for_backward(chi, targets, hardness, positions, cell, widths, q)
        return q, mu

    @staticmethod
    def backward(ctx, grad_q, grad_mu):
        chi, targets, hardness, positions, cell, widths, q = ctx.saved_tensors
        lam, nu = _ImplicitQeq.apply(
            ctx.operator,
            ctx.settings,
            ctx.indicator,
            -grad_q,
            grad_mu,
            hardness,
            positions,
            cell,
            widths,
        )
        needs = ctx.needs_input_grad
        grads = [None, None, None, -lam if needs[3] else None, nu if needs[4] else None]
        grads.append(-lam * q if needs[5] else None)
        thetas = [(k, t) for k, t in zip((6, 7, 8), (positions, cell, widths)) if needs[k]]
        theta_grads = [None, None, None]
        if thetas:
            create_graph = torch.is_grad_enabled()
            with torch.enable_grad():
                # fresh aliases of theta, made after lambda and q: the gradient then follows
                # only A's explicit dependence on theta, and stays differentiable in
                # theta, lambda and q when create_graph
                if create_graph:
                    aliases = {k: t.view_as(t) for k, t in thetas}
                    left, right = lam, q
                else:
                    aliases = {k: t.detach().requires_grad_(True) for k, t in thetas}
                    left, right = lam.detach(), q.detach()
                bound = [aliases.get(k, t) for k, t in zip((6, 7, 8), (positions, cell, widths))]
                bilinear = left @ ctx.operator.bind(*bound)(right)
                found = torch.autograd.grad(
                    bilinear,
                    list(aliases.values()),
                    create_graph=create_graph,
                    allow_unused=True,
                    materialize_grads=True,
                )
            for (k, _), gradient in zip(thetas, found):
                theta_grads[k - 6] = -gradient
        return (*grads, *theta_grads)


def qeq_iterative(
    electronegativity: torch.Tensor,
    hardness: torch.Tensor,
    positions: torch.Tensor,
    widths: torch.Tensor | None = None,
    *,
    batch: torch.Tensor | None = None,
    num_structures: int | None = None,
    total_charge=None,
    fragment: torch.Tensor | None = None,
    fragment_charge=None,
    cell=None,
    pbc=False,
    method: str = "pme",
    include_self: bool = True,
    accuracy: float | None = None,
    tolerance: float | None = None,
    max_iterations: int = 1000,
    coulomb_constant: float = COULOMB_CONSTANT,
) -> QeqResult:
    """`qeq` by preconditioned conjugate gradients, matrix-free for periodic structures:
    same arguments and result. method: "pme" (periodic structures through
    `pgnfast.nn.pme.PMECoulombOperator`, near-linear in N, at `accuracy`, default 1e-6) or
    "ewald" (the exact dense Ewald matrix as the operator); non-periodic structures use the
    exact direct Coulomb matrix either way. tolerance: relative residual of the CG solve
    (default 1e-10 in float64, 1e-5 otherwise, and not below accuracy / 10 with PME).
    Gradients (forces, training) by implicit differentiation: one more solve in backward,
    no backpropagation through iterations.
    Needs A + diag(hardness) positive definite (Gaussian widths with the self energy, or
    enough hardness); raises InputError otherwise or when CG does not converge.
    """
    if method not in ("pme", "ewald"):
        raise InputError(f"method must be 'pme' or 'ewald', got {method!r}")
    chi, hardness, widths, batch, count, constraint, targets, cells, pbcs = _prepare_inputs(
        electronegativity,
        hardness,
        positions,
        widths,
        batch,
        num_structures,
        total_charge,
        cell,
        pbc,
        fragment,
        fragment_charge,
    )
    if tolerance is None:
        tolerance = 1e-10 if positions.dtype == torch.float64 else 1e-5
        if method == "pme":  # no closer than the PME operator itself
            tolerance = max(tolerance, 0.1 * (1e-6 if accuracy is None else accuracy))
    settings = (float(tolerance), int(max_iterations))
    n = positions.shape[0]
    solved = []  # per structure: (atoms, constraint ids, q, mu, energy, coulomb)
    for b in range(count):
        atoms = torch.nonzero(batch == b).reshape(-1)
        ids, indicator = _structure_constraints(constraint, atoms)
        x, w = positions[atoms], None if widths is None else widths[atoms]
        periodic = any(check_pbc(pbcs[b]))
        box = None
        if periodic:
            from .electrostatics import _periodic_cell

            box = _periodic_cell(cells[b], pbcs[b], x)
            if isinstance(cells[b], torch.Tensor):
                box = cells[b].to(dtype=x.dtype, device=x.device)
        if periodic and method == "pme":
            from .pme import DEFAULT_PME_ACCURACY, PMECoulombOperator

            operator = PMECoulombOperator(
                x,
                box,
                w,
                include_self=include_self,
                accuracy=DEFAULT_PME_ACCURACY if accuracy is None else accuracy,
                coulomb_constant=coulomb_constant,
            )
        else:
            operator = DenseCoulombOperator(
                pbc=pbcs[b] if periodic else False,
                include_self=include_self,
                accuracy=DEFAULT_ACCURACY if accuracy is None else accuracy,
                coulomb_constant=coulomb_constant,
            )
        q, mu = _ImplicitQeq.apply(
            operator,
            settings,
            indicator.to(x.dtype),
            chi[atoms],
            targets[ids],
            hardness[atoms],
            x,
            box,
            w,
        )
        coulomb = 0.5 * q @ operator.bind(x, box, w)(q)
        energy = chi[atoms] @ q + 0.5 * (hardness[atoms] * q**2).sum() + coulomb
        solved.append((atoms, ids, q, mu, energy, coulomb))
    return _result(n, targets.numel(), constraint, solved)
