"""Slow, dense, obviously-correct reference of the PGN space-filling functional.

The oracle for tests of pgnfast.dft (see pgn-functional.md beside this file): it builds
every particle-voxel pair, so use it only for small systems (N <= 32, a few 1e4 voxels).
Units: nm and kT. Forces are checked against central finite differences by running this
file as a script.
"""

from __future__ import annotations

import numpy as np


def grid_points(cell: np.ndarray, spacing: float) -> tuple[np.ndarray, float]:
    """Voxel centres of a periodic grid following the cell rows; returns (points, voxel_volume)."""
    lengths = np.linalg.norm(cell, axis=1)
    m = np.maximum(1, np.round(lengths / spacing)).astype(int)
    fr = [(np.arange(k) + 0.5) / k for k in m]
    frac = np.stack(np.meshgrid(*fr, indexing="ij"), -1).reshape(-1, 3)
    return frac @ cell, abs(np.linalg.det(cell)) / m.prod()


def minimum_image(d: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Minimum-image displacement vectors (exact for the cells the tests use: near-cubic)."""
    inv = np.linalg.inv(cell)
    frac = d @ inv
    return (frac - np.round(frac)) @ cell


def solve(
    positions,
    cell,
    core_radius,
    grafting_density,
    chain_length,
    kuhn_length,
    segment_volume,
    spacing=None,
    width=None,
    tol=1e-12,
    max_sweeps=20000,
):
    """Energy, per-particle energies and forces of one configuration.

    core_radius and grafting_density are scalars or one value per particle.
    Returns a dict with energy, energies, forces, psi, sweeps.
    """
    pos = np.asarray(positions, float)
    cell = np.asarray(cell, float)
    n = len(pos)
    a = np.broadcast_to(np.asarray(core_radius, float), (n,)).copy()
    sigma = np.broadcast_to(np.asarray(grafting_density, float), (n,)).copy()
    h = a.min() / 3 if spacing is None else spacing
    x, dv = grid_points(cell, h)
    h_eff = dv ** (1 / 3)
    w = h_eff if width is None else width

    v_ch = chain_length * segment_volume
    r2 = chain_length * kuhn_length**2
    omega0 = 4 * np.pi * a**2 * sigma * v_ch
    share = omega0 / omega0.sum()

    d = minimum_image(x[None, :, :] - pos[:, None, :], cell)  # (n, G, 3): x - r_i
    r = np.linalg.norm(d, axis=-1)
    chi = 0.5 * (1 - np.tanh((r - a[:, None]) / w))
    one_minus = 1 - chi
    avail = np.prod(one_minus, axis=0)  # A(x)
    stretch = np.maximum(r - a[:, None], 0.0)
    cost = 1.5 * stretch**2 / r2  # c_i(x)
    omega = share * avail.sum() * dv

    psi = np.zeros(n)
    for sweep in range(max_sweeps):  # noqa: B007 (sweep is returned)
        z = psi[:, None] - cost
        zmax = z.max(axis=0)
        lnz = zmax + np.log(np.exp(z - zmax).sum(axis=0))
        phi = avail * np.exp(z - lnz)
        filled = phi.sum(axis=1) * dv
        if np.abs(omega - filled).max() < tol * omega.min():
            break
        psi += np.log(omega / filled)
        psi -= psi.mean()

    free_energy = ((psi * omega).sum() - (avail * lnz).sum() * dv) / v_ch
    energies = (phi * (psi[:, None] - lnz)).sum(axis=1) * dv / v_ch

    # gradient of F (envelope theorem), then core contact
    unit = d / np.maximum(r, 1e-300)[..., None]  # d|x - r_i| / dx = unit
    dcost = (3 * stretch / r2)[..., None] * (-unit)  # dc_i/dr_i
    dchi_dr = -(0.5 / w) / np.cosh((r - a[:, None]) / w) ** 2  # dchi/d|x - r_i|
    dchi = dchi_dr[..., None] * (-unit)  # dchi_i/dr_i
    others = np.empty_like(one_minus)
    for i in range(n):
        others[i] = np.prod(np.delete(one_minus, i, axis=0), axis=0)
    davail = -others[..., None] * dchi  # dA/dr_i
    grad = (
        (
            (phi[..., None] * dcost).sum(axis=1)
            + (davail * ((share * psi).sum() - lnz)[None, :, None]).sum(axis=1)
        )
        * dv
        / v_ch
    )

    kc = 1000.0 / a.mean() ** 2
    contact = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            dij = minimum_image(pos[j] - pos[i], cell)
            rij = np.linalg.norm(dij)
            overlap = a[i] + a[j] - rij
            if overlap > 0:
                u = 0.5 * kc * overlap**2
                contact += u
                energies[i] += u / 2
                energies[j] += u / 2
                g = kc * overlap * dij / rij  # dU/dr_i
                grad[i] += g
                grad[j] -= g
    return {
        "energy": free_energy + contact,
        "energies": energies,
        "forces": -grad,
        "psi": psi,
        "sweeps": sweep,
    }


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    n, L = 6, 34.0
    pos = rng.uniform(0, L, (n, 3))
    cell = np.diag([L, L * 1.05, L * 0.95])
    args = dict(
        core_radius=5.0,
        grafting_density=0.5,
        chain_length=60,
        kuhn_length=1.5,
        segment_volume=0.2,
        spacing=2.0,
    )
    out = solve(pos, cell, **args)
    print(
        "energy",
        out["energy"],
        "sweeps",
        out["sweeps"],
        "sum of energies - energy",
        out["energies"].sum() - out["energy"],
    )
    eps = 1e-4
    for k, c in [(0, 0), (2, 1), (5, 2)]:
        p1, p2 = pos.copy(), pos.copy()
        p1[k, c] += eps
        p2[k, c] -= eps
        fd = -(solve(p1, cell, **args)["energy"] - solve(p2, cell, **args)["energy"]) / (2 * eps)
        print(f"force[{k},{c}] analytic {out['forces'][k, c]:.10f}  finite difference {fd:.10f}")
