"""Measurements of the labeler reported in docs/dft.md (units nm, kT).

    NUMBA_NUM_THREADS=2 python -m pgnfast.dft.diagnostics [--n 64] [--configs 40]

prints the continuous-translation error, E(h) with the observed convergence order, and the
many-body measure (relative residual of the best pair and pair-plus-triplet fits).
"""

from __future__ import annotations

import argparse

import numpy as np

from .design import default_design
from .solver import solve


def translation_error(positions, cell, design, spacing=None, shifts=8, seed=0):
    """Spread (max - min) of E over random sub-voxel translations, kT per particle."""
    rng = np.random.default_rng(seed)
    h = design.radii.min() / 3 if spacing is None else spacing
    energies = [
        solve(positions + rng.random(3) * h, cell, design, spacing=spacing).energy
        for _ in range(shifts)
    ]
    return float(np.ptp(energies) / len(positions))


def grid_convergence(positions, cell, design, fractions=(3, 4, 6, 8)):
    """{h: E(h)} for h = a_min / fraction, and the order from the three finest grids."""
    a = design.radii.min()
    energies = {a / f: solve(positions, cell, design, spacing=a / f).energy for f in fractions}
    h = sorted(energies)[:3]
    e = [energies[x] for x in h]
    order = np.log(abs(e[2] - e[1]) / abs(e[1] - e[0])) / np.log(h[2] / h[1])
    return energies, float(order)


def _pair_features(pos, cell, edges):
    inv = np.linalg.inv(cell)
    d = pos[:, None] - pos[None]
    d = ((d @ inv) - np.round(d @ inv)) @ cell
    r = np.linalg.norm(d, axis=-1)
    n = len(pos)
    iu = np.triu_indices(n, 1)
    pair = np.histogram(r[iu], bins=edges)[0].astype(float)
    # triplets (j, i, k) centred on i: radial bins of both legs x Legendre P0..P2 of the angle
    nb = len(edges) - 1
    trip = np.zeros((nb, nb, 3))
    bins = np.digitize(r, edges) - 1
    for i in range(n):
        near = np.flatnonzero((bins[i] >= 0) & (bins[i] < nb) & (np.arange(n) != i))
        for a_ in range(len(near)):
            for b_ in range(a_ + 1, len(near)):
                j, k = near[a_], near[b_]
                c = d[i, j] @ d[i, k] / (r[i, j] * r[i, k])
                p, q = sorted((bins[i, j], bins[i, k]))
                trip[p, q] += (1.0, c, 1.5 * c * c - 0.5)
    return pair, trip[np.triu_indices(nb)].ravel()


def many_body_measure(design, n=64, configs=80, spacing=None, seed=0):
    """Relative RMS residual (over the spread of E) of the best pair and pair+triplet fits,
    fitted on 3/4 of the configurations and measured on the held-out quarter."""
    from pgnfast.data import random_configurations

    frames = random_configurations(design, n, configs, seed=seed, kind="mixed")
    a = design.radii.max()
    edges = np.linspace(2 * a, 2 * a + 3 * design.chain_size + 8, 5)
    energies, pairs, triplets = [], [], []
    for atoms in frames:
        energies.append(solve(atoms.positions, atoms.cell[:], design, spacing=spacing).energy)
        p, t = _pair_features(atoms.positions, atoms.cell[:], edges)
        pairs.append(p)
        triplets.append(t)
    e = np.array(energies)
    ones = np.ones((len(e), 1))
    out = {}
    train = np.arange(len(e)) % 4 != 0
    for name, x in {
        "pair": np.hstack([ones, pairs]),
        "pair+triplet": np.hstack([ones, pairs, triplets]),
    }.items():
        coef = np.linalg.lstsq(x[train], e[train], rcond=None)[0]
        for part, sel in (("fit", train), ("held-out", ~train)):
            residual = x[sel] @ coef - e[sel]
            out[f"{name} {part}"] = float(np.sqrt(np.mean(residual**2)) / np.std(e))
        out[f"{name} parameters"] = x.shape[1]
    out["configurations"] = len(e)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--configs", type=int, default=80)
    args = parser.parse_args()
    from pgnfast.data import random_configurations

    design = default_design()
    atoms = random_configurations(design, args.n, 1, seed=0, kind="random")[0]
    pos, cell = atoms.positions, atoms.cell[:]
    print("translation error at h = a/3:", translation_error(pos, cell, design), "kT per particle")
    print(
        "translation error at h = a/6:",
        translation_error(pos, cell, design, spacing=design.radii.min() / 6),
        "kT/particle",
    )
    energies, order = grid_convergence(pos, cell, design)
    print("E(h) kT:", energies, "observed order", order)
    print("many-body measure:", many_body_measure(design, args.n, args.configs))


if __name__ == "__main__":
    main()
