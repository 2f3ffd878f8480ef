"""Monte Carlo moves per second against N: the local engine vs the naive full recompute.

    python benchmarks/bench_mc.py [--sizes 256 1024 4096] [--potential core|nequip]

Writes benchmarks/results/mc_moves_per_s_<potential>.json and .png. Threads: torch and
OpenMP pinned to 1 so the numbers measure the algorithm, not the shared machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def make_potential(kind: str):
    if kind == "core":
        from pgnfast.potentials import CoreRepulsion

        return CoreRepulsion(epsilon=1.0, diameter=0.8, cutoff=1.2)
    import torch

    from pgnfast.nn.model import NequIP
    from pgnfast.nn.potential import Potential

    torch.set_num_threads(1)
    torch.manual_seed(0)
    return Potential(NequIP(r_max=1.2, num_layers=2, l_max=1, num_features=16))


def configuration(n: int, density: float, seed: int = 0):
    side = int(np.ceil(n ** (1 / 3)))
    box = (n / density) ** (1 / 3)
    grid = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)[:n]
    rng = np.random.default_rng(seed)
    return (grid + 0.5) * box / side + rng.normal(0, 0.02, (n, 3)), np.eye(3) * box


def engine_rate(potential, positions, cell, sweeps: int, replicas: int = 1) -> tuple[float, str]:
    from pgnfast.mc import ParallelTempering

    temperatures = np.geomspace(1.0, 2.0, replicas) if replicas > 1 else [1.0]
    pt = ParallelTempering(potential, positions, cell, temperatures, step_size=0.1,
                           moves_per_sweep=max(64, len(positions) // 8))
    pt.run(1, quench_lowest=False)  # warm up
    start = time.perf_counter()
    summary = pt.run(sweeps, quench_lowest=False)
    elapsed = time.perf_counter() - start
    moves = summary.timings["moves"]  # trial moves of all replicas, warm-up sweep included
    per_sweep = moves / (sweeps + 1)
    return per_sweep * sweeps / elapsed, pt.mode


def naive_rate(potential, positions, cell, moves: int) -> float:
    from pgnfast.mc import NaiveMonteCarlo

    naive = NaiveMonteCarlo(potential, positions, cell, 1.0, step_size=0.1)
    naive.run(2)
    start = time.perf_counter()
    naive.run(moves)
    return moves / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--potential", choices=["core", "nequip"], default="core")
    parser.add_argument("--density", type=float, default=0.9)
    parser.add_argument("--sweeps", type=int, default=3)
    parser.add_argument("--naive-moves", type=int, default=30)
    parser.add_argument("--replicas", type=int, default=4)
    args = parser.parse_args()
    potential = make_potential(args.potential)
    rows = []
    for n in args.sizes:
        positions, cell = configuration(n, args.density)
        local, mode = engine_rate(potential, positions, cell, args.sweeps)
        batched, _ = engine_rate(potential, positions, cell, args.sweeps, args.replicas)
        naive = naive_rate(potential, positions, cell, args.naive_moves)
        rows.append({"N": n, "mode": mode, "engine_moves_per_s": local,
                     f"engine_{args.replicas}_replicas_moves_per_s": batched,
                     "naive_moves_per_s": naive, "speedup": local / naive})
        print(json.dumps(rows[-1]))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        commit = "unknown"
    record = {"benchmark": "mc_moves_per_s", "potential": args.potential, "rows": rows,
              "density_per_nm3": args.density, "threads": 1, "machine": platform.processor()
              or platform.machine(), "device": "cpu", "commit": commit,
              "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "command": "python benchmarks/bench_mc.py " + " ".join(
                  f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                  for k, v in vars(args).items())}
    stem = out / f"mc_moves_per_s_{args.potential}"
    stem.with_suffix(".json").write_text(json.dumps(record, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.4), constrained_layout=True)
    sizes = [r["N"] for r in rows]
    ax.loglog(sizes, [r["engine_moves_per_s"] for r in rows], "o-", label="local engine")
    ax.loglog(sizes, [r[f"engine_{args.replicas}_replicas_moves_per_s"] for r in rows], "s-",
              label=f"local, {args.replicas} replicas batched")
    ax.loglog(sizes, [r["naive_moves_per_s"] for r in rows], "^-", label="naive full recompute")
    ax.set(xlabel="N particles", ylabel="trial moves / s", title=f"MC ({args.potential}, 1 thread)")
    ax.legend(fontsize=7)
    fig.savefig(stem.with_suffix(".png"), dpi=120)


if __name__ == "__main__":
    main()
