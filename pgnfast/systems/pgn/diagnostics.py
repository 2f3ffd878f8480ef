"""Measurements of the labeler reported in docs/dft.md (units nm, kT).

    NUMBA_NUM_THREADS=2 python -m pgnfast.systems.pgn.diagnostics [--n 64] [--configs 40]

prints the continuous-translation error, E(h) with the observed convergence order, and the
many-body measure (relative residual of the best pair and pair-plus-triplet fits).

    NUMBA_NUM_THREADS=2 python -m pgnfast.systems.pgn.diagnostics --range DATA [--out DIR]

measures how far the interactions of a labeled dataset reach (`pair_force_residual` over
cutoffs, `force_range` over radii on a few of its configurations) and writes
range.json and range.png to DIR (default: the current directory).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from pgnfast.dft.design import default_design
from pgnfast.dft.solver import solve
from pgnfast.geometry import minimum_image


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
    d = minimum_image(d, cell, inv)
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
    from .configurations import random_configurations

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


def force_range(
    positions, cell, design, radii, *, amplitude=2.0, particles=8, seed=0, **solve_options
):
    """How far the force on a particle reaches: the relative RMS change of F_k when every
    particle farther than R from k (minimum image) is displaced by Gaussian noise.

    positions: (N, 3) nm; cell: (3, 3) rows, nm; radii: the R values, nm; amplitude: the
    standard deviation of each displacement component, nm; particles: how many k (spread
    over the configuration); solve_options go to `solve` (spacing, check_reach).
    Returns {R: rms over k of |F_k(moved) - F_k|, over the force RMS per particle}: the
    error floor of any model that sees only the particles within R of k. A displacement
    that would overlap cores is drawn again.
    """
    from pgnfast.dft.solver import CoreOverlapError

    rng = np.random.default_rng(seed)
    positions = np.asarray(positions, dtype=np.float64)
    cell = np.asarray(cell, dtype=np.float64)
    base = solve(positions, cell, design, **solve_options)
    force_rms = float(np.sqrt(np.mean(np.sum(base.forces**2, axis=1))))
    inv = np.linalg.inv(cell)
    chosen = np.linspace(0, len(positions) - 1, particles).round().astype(int)
    out = {}
    for radius in radii:
        changes = []
        for k in chosen:
            distance = np.linalg.norm(minimum_image(positions - positions[k], cell, inv), axis=1)
            far = distance > radius
            for _attempt in range(20):
                moved = positions.copy()
                moved[far] += rng.normal(scale=amplitude, size=(int(far.sum()), 3))
                try:
                    result = solve(moved, cell, design, warm_start=base.psi, **solve_options)
                except CoreOverlapError:
                    continue
                changes.append(np.linalg.norm(result.forces[k] - base.forces[k]))
                break
        out[float(radius)] = float(np.sqrt(np.mean(np.square(changes))) / force_rms)
    return out


def pair_force_residual(frames, cutoffs, *, inner=None, knots=40, test_fraction=0.2):
    """Relative RMS force residual of the best radial pair force fitted up to each cutoff.

    frames: labeled ase.Atoms (forces in kT/nm); cutoffs: nm. The pair force is a linear
    spline on `knots` points from `inner` (default: the smallest distance seen) to the cutoff,
    fitted by least squares on the first (1 - test_fraction) of the frames. Returns
    {cutoff: {"fit": ..., "held-out": ...}}, residual RMS over force RMS. A residual that
    keeps falling as the cutoff grows says the effective interactions reach that far.
    """
    from ase.neighborlist import neighbor_list

    frames = list(frames)
    n_fit = int(round(len(frames) * (1 - test_fraction)))
    if not 0 < n_fit < len(frames):
        raise ValueError("pair_force_residual needs frames on both sides of the split")
    if inner is None:
        inner = min(neighbor_list("d", a, max(cutoffs)).min() for a in frames) - 1e-6
    out = {}
    for cutoff in cutoffs:
        grid = np.linspace(inner, cutoff, knots)
        width = grid[1] - grid[0]
        rows, targets = [], []
        for atoms in frames:
            i, d, vec = neighbor_list("idD", atoms, cutoff)
            unit = -vec / d[:, None]
            t = (d - grid[0]) / width
            left = np.floor(t).astype(int)
            frac = t - left
            x = np.zeros((len(atoms) * 3, knots))
            for axis in range(3):
                for node, weight in ((left, 1 - frac), (left + 1, frac)):
                    ok = (node >= 0) & (node < knots)
                    np.add.at(x, (i[ok] * 3 + axis, node[ok]), weight[ok] * unit[ok, axis])
            rows.append(x)
            targets.append(np.asarray(atoms.get_forces()).ravel())
        x_fit, y_fit = np.vstack(rows[:n_fit]), np.concatenate(targets[:n_fit])
        x_out, y_out = np.vstack(rows[n_fit:]), np.concatenate(targets[n_fit:])
        coef = np.linalg.lstsq(x_fit, y_fit, rcond=None)[0]
        out[float(cutoff)] = {
            "fit": float(np.sqrt(np.mean((x_fit @ coef - y_fit) ** 2) / np.mean(y_fit**2))),
            "held-out": float(np.sqrt(np.mean((x_out @ coef - y_out) ** 2) / np.mean(y_out**2))),
        }
    return out


def _design_of(atoms):
    """The PGNDesign a labeled frame was made with (its design_* info keys)."""
    from pgnfast.dft.design import PGNDesign

    values = {}
    for key, value in atoms.info.items():
        if key.startswith("design_"):
            value = json.loads(value) if isinstance(value, str) else value
            values[key[len("design_") :]] = np.asarray(value).tolist()
    return PGNDesign.from_dict(values)


def range_report(
    data,
    out_dir=".",
    *,
    cutoffs=(24, 30, 36, 42, 48, 54, 60),
    radii=(25, 30, 35, 40, 45, 50),
    amplitudes=(1.0, 2.0),
    configurations=4,
    seed=0,
    **solve_options,
):
    """Both range measurements on a labeled dataset (labeler output directory or extxyz
    paths); writes out_dir/range.json and out_dir/range.png and returns the dict.
    solve_options go to `solve` (spacing, check_reach)."""
    import os

    from pgnfast.train.data import read_frames

    frames = read_frames(data)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frames))
    report = {
        "data": os.path.basename(os.path.normpath(data))
        if isinstance(data, (str, os.PathLike))
        else None,
        "frames": len(frames),
        "pair_force_residual": {
            str(cutoff): value
            for cutoff, value in pair_force_residual([frames[i] for i in order], cutoffs).items()
        },
        "force_range": {},
    }
    picked = [frames[i] for i in order[:configurations]]
    for amplitude in amplitudes:
        per_config = []
        for atoms in picked:
            per_config.append(
                force_range(
                    atoms.positions,
                    atoms.cell[:],
                    _design_of(atoms),
                    radii,
                    amplitude=amplitude,
                    seed=int(rng.integers(1 << 30)),
                    types=atoms.arrays.get("type"),
                    **solve_options,
                )
            )
        report["force_range"][str(amplitude)] = {
            str(r): float(np.sqrt(np.mean([c[float(r)] ** 2 for c in per_config]))) for r in radii
        }
    report["kinds"] = [atoms.info.get("kind") for atoms in picked]
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "range.json"), "w") as handle:
        json.dump(report, handle, indent=2)
    _plot_range(report, os.path.join(out_dir, "range.png"))
    return report


def _plot_range(report, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    pair = report["pair_force_residual"]
    cut = sorted(pair, key=float)
    axes[0].plot([float(c) for c in cut], [100 * pair[c]["held-out"] for c in cut], "o-")
    axes[0].set_xlabel("pair cutoff (nm)")
    axes[0].set_ylabel("force residual, % of force RMS")
    axes[0].set_title("best radial pair force, held-out frames")
    for amplitude, values in report["force_range"].items():
        r = sorted(values, key=float)
        axes[1].plot(
            [float(x) for x in r],
            [100 * values[x] for x in r],
            "o-",
            label=f"far particles moved by {amplitude} nm",
        )
    axes[1].set_xlabel("R (nm)")
    axes[1].set_ylabel("change of F_k, % of force RMS")
    axes[1].set_title("error floor of a model seeing only r < R")
    axes[1].legend()
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--configs", type=int, default=80)
    parser.add_argument("--range", metavar="DATA", help="labeled dataset: measure its range")
    parser.add_argument("--out", default=".", help="directory of range.json and range.png")
    args = parser.parse_args()
    if args.range:
        report = range_report(args.range, args.out)
        print(json.dumps(report, indent=2))
        return
    from .configurations import random_configurations

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
