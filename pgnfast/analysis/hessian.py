"""Hessians (second derivatives of the energy with respect to positions) for phonons at 0 K.

Units follow the inputs: positions in a length unit (Angstrom for argon), energies in an
energy unit (eV), so a Hessian is in energy / length^2 (eV/Angstrom^2). A Hessian of N
particles is a (3N, 3N) array whose row and column 3 i + a is coordinate a (x, y, z) of
particle i: H[3 i + a, 3 j + b] = d^2 E / d r_ia d r_jb.

- :func:`hessian_autograd`: the exact Hessian of a torch energy function by automatic
  differentiation (rows in batches of vector-Jacobian products);
- :func:`model_hessian`: the same for a pgnfast NequIP model with fixed neighbor pairs;
- :func:`hessian_finite_differences`: central differences of forces;
- :func:`lennard_jones_hessian` (analytic, numpy) and :func:`lennard_jones_energy` (torch);
- :func:`asymmetry` and :func:`force_constants` (phonopy's (N, N, 3, 3) layout).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..errors import InputError
from ..neighbors import neighbor_list
from ..validation import check_finite, check_positions, check_positive


def _positions_tensor(positions, dtype=None, device=None) -> torch.Tensor:
    """Positions (N, 3) as a detached torch tensor (numpy input: float64), checked."""
    if isinstance(positions, torch.Tensor):
        check_positions(positions.detach().cpu().numpy())
        tensor = positions.detach()
    else:
        tensor = torch.as_tensor(check_positions(positions), dtype=torch.float64)
    return tensor.to(dtype=dtype or tensor.dtype, device=device or tensor.device)


def hessian_autograd(energy_fn, positions, *, chunk_size: int | None = None, batched=True):
    """The exact Hessian (3N, 3N) of `energy_fn` at `positions` by automatic differentiation.

    energy_fn: positions (N, 3) torch tensor -> scalar torch tensor (energy), twice
    differentiable. positions: (N, 3) numpy array (taken as float64) or torch tensor (its
    dtype and device are kept). The gradient is taken once with create_graph; its rows are
    then differentiated `chunk_size` at a time (default: all 3N) as batched vector-Jacobian
    products (is_grads_batched, one vmapped backward pass per chunk); batched=False does one
    backward pass per row instead (for operations without batching rules). Returns a torch
    tensor of the positions' dtype and device. Raises InputError for positions that are not
    (N, 3) and finite and for an energy that is not a scalar tensor.
    """
    x = _positions_tensor(positions).requires_grad_(True)
    size = x.numel()
    if chunk_size is None:
        chunk_size = max(size, 1)
    elif isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InputError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    energy = energy_fn(x)
    if not isinstance(energy, torch.Tensor) or energy.numel() != 1:
        shape = tuple(energy.shape) if isinstance(energy, torch.Tensor) else type(energy).__name__
        raise InputError(f"energy_fn must return a scalar torch tensor, got {shape}")
    hessian = torch.zeros(size, size, dtype=x.dtype, device=x.device)
    if not energy.requires_grad:
        return hessian
    (gradient,) = torch.autograd.grad(energy.reshape(()), x, create_graph=True)
    gradient = gradient.reshape(-1)
    if not gradient.requires_grad:  # energy linear in the positions
        return hessian
    identity = torch.eye(size, dtype=x.dtype, device=x.device)
    for start in range(0, size, chunk_size):
        stop = min(start + chunk_size, size)
        if batched:
            (rows,) = torch.autograd.grad(
                gradient,
                x,
                grad_outputs=identity[start:stop],
                is_grads_batched=True,
                retain_graph=True,
                allow_unused=True,
            )
            if rows is not None:
                hessian[start:stop] = rows.reshape(stop - start, size)
            continue
        for row in range(start, stop):
            (values,) = torch.autograd.grad(gradient[row], x, retain_graph=True, allow_unused=True)
            if values is not None:
                hessian[row] = values.reshape(size)
    return hessian.detach()


def model_energy_function(model, positions, cell=None, types=None, pbc=True, *, backend="auto"):
    """A function positions (N, 3) -> total energy (scalar tensor) of a NequIP `model`, with
    the neighbor pairs of `positions` held fixed (model length and energy units).

    The graph is built once; the edge vectors are recomputed from the positions passed in,
    so they carry second derivatives. cell (3, 3) rows or None, types (N,) or None (type 0),
    pbc bool or three bools; backend: the neighbor-list backend.
    """
    from ..nn.graph import build_graph

    device = next(model.parameters()).device
    graph = build_graph(
        [(positions, cell, types, pbc)],
        model.r_max,
        dtype=model.dtype,
        device=device,
        neighbor_backend=backend,
        num_types=model.num_types,
    )

    def energy(moved: torch.Tensor) -> torch.Tensor:
        out = model(replace(graph, positions=moved), compute_forces=False)
        return out["energy"].sum()

    return energy


def model_hessian(
    model, positions, cell=None, types=None, pbc=True, *, chunk_size=None, batched=True
):
    """The exact Hessian (3N, 3N) of a NequIP `model` at `positions` (its units: energy /
    length^2), neighbor pairs fixed at `positions`; chunk_size and batched as in
    :func:`hessian_autograd` (batched=False for kernels without batching rules)."""
    x = _positions_tensor(positions, dtype=model.dtype, device=next(model.parameters()).device)
    energy = model_energy_function(model, x, cell, types, pbc)
    return hessian_autograd(energy, x, chunk_size=chunk_size, batched=batched)


def hessian_finite_differences(forces_fn, positions, step: float = 1e-4) -> np.ndarray:
    """Hessian (3N, 3N) float64 by central differences of forces:
    H[3 i + a, :] = -(F(r + step e_ia) - F(r - step e_ia)) / (2 step), flattened.

    forces_fn: positions (N, 3) float64 numpy -> forces (N, 3) (energy / length). step:
    displacement in the length unit (> 0). The result is not symmetrized (see
    :func:`asymmetry`); its error is O(step^2) plus the forces' rounding / step.
    """
    step = check_positive(step, "step")
    x = check_positions(positions).astype(np.float64)
    size = x.size
    hessian = np.zeros((size, size))
    for row in range(size):
        forces = []
        for sign in (1.0, -1.0):
            moved = x.copy().reshape(-1)
            moved[row] += sign * step
            value = forces_fn(moved.reshape(x.shape))
            if isinstance(value, torch.Tensor):
                value = value.detach().cpu().numpy()
            value = np.asarray(value, dtype=np.float64)
            if value.shape != x.shape:
                raise InputError(f"forces_fn must return shape {x.shape}, got {value.shape}")
            forces.append(value.reshape(-1))
        hessian[row] = -(forces[0] - forces[1]) / (2.0 * step)
    check_finite(hessian, "finite-difference Hessian")
    return hessian


def asymmetry(hessian) -> float:
    """||H - H^T||_F / ||H||_F (Frobenius norms) of a square matrix; 0 for H = 0."""
    if isinstance(hessian, torch.Tensor):
        hessian = hessian.detach().cpu().numpy()
    matrix = np.asarray(hessian, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise InputError(f"hessian must be a square matrix, got shape {matrix.shape}")
    norm = np.linalg.norm(matrix)
    return 0.0 if norm == 0 else float(np.linalg.norm(matrix - matrix.T) / norm)


def force_constants(hessian) -> np.ndarray:
    """Force constants (N, N, 3, 3) in phonopy's layout, FC[i, j, a, b] = H[3 i + a, 3 j + b]
    (energy / length^2, not mass-weighted), from a (3N, 3N) Hessian."""
    if isinstance(hessian, torch.Tensor):
        hessian = hessian.detach().cpu().numpy()
    matrix = np.asarray(hessian, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] % 3:
        raise InputError(f"hessian must have shape (3N, 3N), got {matrix.shape}")
    n = matrix.shape[0] // 3
    return np.ascontiguousarray(matrix.reshape(n, 3, n, 3).transpose(0, 2, 1, 3))


def _lj_pairs(positions: np.ndarray, cell, cutoff: float, pbc):
    """Each pair (and periodic image) closer than cutoff once: i, j, shifts (P, 3)."""
    periodic = pbc if isinstance(pbc, bool) else any(pbc)
    box = None if cell is None or not periodic else np.asarray(cell, dtype=np.float64)
    nl = neighbor_list(positions, box, cutoff, pbc=pbc if box is not None else False, half=True)
    return np.asarray(nl.i), np.asarray(nl.j), np.asarray(nl.shifts, dtype=np.float64), box


def lennard_jones_energy(positions, cell, epsilon, sigma, cutoff, pbc=True) -> torch.Tensor:
    """Total Lennard-Jones energy (scalar tensor) 4 epsilon ((sigma/r)^12 - (sigma/r)^6)
    over the pairs (all periodic images) closer than `cutoff`, not shifted, as a
    differentiable function of the torch `positions` (N, 3); cell (3, 3) rows or None."""
    check_positive(epsilon, "epsilon")
    check_positive(sigma, "sigma")
    check_positive(cutoff, "cutoff")
    if not isinstance(positions, torch.Tensor):
        raise InputError("positions must be a torch tensor (use lennard_jones_hessian for numpy)")
    i, j, shifts, box = _lj_pairs(positions.detach().cpu().numpy(), cell, cutoff, pbc)
    vectors = positions[torch.as_tensor(j)] - positions[torch.as_tensor(i)]
    if box is not None:
        offsets = torch.as_tensor(shifts @ box, dtype=positions.dtype, device=positions.device)
        vectors = vectors + offsets
    inverse6 = (sigma**2 / (vectors * vectors).sum(dim=1)) ** 3
    return (4.0 * epsilon * (inverse6 * inverse6 - inverse6)).sum()


def lennard_jones_hessian(positions, cell, epsilon, sigma, cutoff, pbc=True) -> np.ndarray:
    """The analytic Hessian (3N, 3N) float64 of the Lennard-Jones energy of
    :func:`lennard_jones_energy` (energy / length^2), every periodic image within `cutoff`.

    Each pair vector d = r_j - r_i (+ image) with phi(r) contributes the block
    K = phi''(r) d d^T / r^2 + phi'(r) / r (I - d d^T / r^2) to H_ii and H_jj and -K to
    H_ij and H_ji (an atom and its own image contribute nothing).
    """
    check_positive(epsilon, "epsilon")
    check_positive(sigma, "sigma")
    check_positive(cutoff, "cutoff")
    x = check_positions(positions).astype(np.float64)
    n = x.shape[0]
    i, j, shifts, box = _lj_pairs(x, cell, cutoff, pbc)
    vectors = x[j] - x[i]
    if box is not None:
        vectors = vectors + shifts @ box
    r2 = np.einsum("pk,pk->p", vectors, vectors)
    r = np.sqrt(r2)
    s6 = (sigma**2 / r2) ** 3
    first = 4.0 * epsilon * (-12.0 * s6 * s6 + 6.0 * s6) / r  # phi'(r)
    second = 4.0 * epsilon * (156.0 * s6 * s6 - 42.0 * s6) / r2  # phi''(r)
    outer = vectors[:, :, None] * vectors[:, None, :] / r2[:, None, None]
    blocks = second[:, None, None] * outer + (first / r)[:, None, None] * (np.eye(3) - outer)
    hessian = np.zeros((n, n, 3, 3))
    np.add.at(hessian, (i, i), blocks)
    np.add.at(hessian, (j, j), blocks)
    np.add.at(hessian, (i, j), -blocks)
    np.add.at(hessian, (j, i), -blocks)
    return hessian.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)


__all__ = [
    "asymmetry",
    "force_constants",
    "hessian_autograd",
    "hessian_finite_differences",
    "lennard_jones_energy",
    "lennard_jones_hessian",
    "model_energy_function",
    "model_hessian",
]
