"""Random structures for the electrostatics tests (float64 torch, Angstrom, e)."""

from __future__ import annotations

import math

import numpy as np
import torch


def tensor(values) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.float64))


def triclinic_cell(rng, length=5.0, skew=0.3) -> np.ndarray:
    """A random non-degenerate triclinic cell (3, 3) of about `length` Angstrom."""
    while True:
        cell = length * (np.eye(3) + skew * rng.uniform(-1.0, 1.0, (3, 3)))
        lengths = np.linalg.norm(cell, axis=1)
        if abs(np.linalg.det(cell)) > 0.5 * np.prod(lengths):
            return cell


def random_structure(rng, n=6, length=5.0, charged=False, widths=(0.8, 1.2)):
    """(charges (n,), positions (n, 3), cell (3, 3), widths (n,) or None) as float64 tensors;
    the charges sum to zero unless `charged`."""
    cell = triclinic_cell(rng, length)
    positions = rng.uniform(0.0, 1.0, (n, 3)) @ cell
    charges = rng.normal(size=n)
    if not charged:
        charges -= charges.mean()
    sigma = None if widths is None else tensor(rng.uniform(*widths, n))
    return tensor(charges), tensor(positions), tensor(cell), sigma


def reciprocal_reference(charges, positions, cell, widths, k_constant, tail=1e-17) -> float:
    """Energy of Gaussian charges in a periodic cell with a uniform neutralising background,
    as the plain Fourier sum (2 pi k / V) sum_{k != 0} |rho(k)|^2 / k^2, rho(k) = sum_i q_i
    exp(-k^2 sigma_i^2 / 2) exp(i k.r_i) (numpy; absolutely convergent for wide Gaussians),
    Gaussian self energies included."""
    q, r, h, s = (
        np.asarray(x.detach(), dtype=np.float64) for x in (charges, positions, cell, widths)
    )
    k_cut = np.sqrt(-np.log(tail)) / s.min()
    bounds = np.ceil(k_cut * np.linalg.norm(h, axis=1) / (2 * np.pi)).astype(int)
    grid = np.stack(
        np.meshgrid(*[np.arange(-b, b + 1) for b in bounds], indexing="ij"), -1
    ).reshape(-1, 3)
    k = 2 * np.pi * grid @ np.linalg.inv(h).T
    k2 = (k**2).sum(1)
    k, k2 = k[k2 > 0], k2[k2 > 0]
    rho = (q[None, :] * np.exp(-0.5 * k2[:, None] * s[None, :] ** 2) * np.exp(1j * k @ r.T)).sum(1)
    volume = abs(np.linalg.det(h))
    return float(k_constant * 2 * np.pi / volume * (np.abs(rho) ** 2 / k2).sum())


def central_difference(function, tensor_in, step=1e-5) -> torch.Tensor:
    """d function / d tensor_in by central differences (float64)."""
    gradient = torch.zeros_like(tensor_in)
    flat = tensor_in.detach().clone().reshape(-1)
    for index in range(flat.numel()):
        up, down = flat.clone(), flat.clone()
        up[index] += step
        down[index] -= step
        high = function(up.reshape(tensor_in.shape))
        low = function(down.reshape(tensor_in.shape))
        gradient.reshape(-1)[index] = (float(high) - float(low)) / (2 * step)
    return gradient


def screened_lattice_sum(charges, positions, cell, width, cutoff) -> float:
    """1/2 sum_{i,j,n}' q_i q_j erfc(r / (2 width)) / r over every image n with r < cutoff
    (numpy brute force over a block of images; absolutely convergent)."""
    erfc = np.vectorize(math.erfc)
    q, r, h = (np.asarray(x.detach(), dtype=np.float64) for x in (charges, positions, cell))
    volume = abs(np.linalg.det(h))
    widths = volume / np.linalg.norm(np.cross(h[[1, 2, 0]], h[[2, 0, 1]]), axis=1)
    reach = np.ceil(cutoff / widths).astype(int) + 1
    grid = np.stack(np.meshgrid(*[np.arange(-b, b + 1) for b in reach], indexing="ij"), -1).reshape(
        -1, 3
    )
    shifts = grid @ h
    total = 0.0
    for i in range(len(q)):
        for j in range(len(q)):
            distances = np.linalg.norm(r[j] - r[i] + shifts, axis=1)
            keep = (distances < cutoff) & (distances > 0)
            d = distances[keep]
            total += 0.5 * q[i] * q[j] * (erfc(d / (2 * width)) / d).sum()
    return float(total)


def spherical_lattice_sum(charges, positions, cell, radius_in_cells=40) -> float:
    """Tin-foil energy of neutral point charges from the plain Coulomb sum over whole cell
    images inside a sphere (de Leeuw, Perram and Smith): 1/2 sum_{|n| <= R} sum_ij' q_i q_j
    / |r_j - r_i + n| - 2 pi |M|^2 / (3 V), M = sum_i q_i r_i (numpy; converges slowly, about
    1e-3 relative at the default radius)."""
    from pgnfast.geometry import face_widths

    q, r, h = (np.asarray(x.detach(), dtype=np.float64) for x in (charges, positions, cell))
    radius = radius_in_cells * face_widths(h).min()
    reach = np.ceil(radius / face_widths(h)).astype(int)
    grid = np.stack(np.meshgrid(*[np.arange(-b, b + 1) for b in reach], indexing="ij"), -1).reshape(
        -1, 3
    )
    shifts = grid @ h
    shifts = shifts[np.linalg.norm(shifts, axis=1) <= radius]
    total = 0.0
    for i in range(len(q)):
        for j in range(len(q)):
            distances = np.linalg.norm(r[j] - r[i] + shifts, axis=1)
            total += 0.5 * q[i] * q[j] * (1.0 / distances[distances > 0]).sum()
    dipole = q @ r
    return float(total - 2 * np.pi * dipole @ dipole / (3 * abs(np.linalg.det(h))))
