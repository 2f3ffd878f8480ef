"""Monte Carlo trial moves per second against N: the local engine vs the naive full recompute.

    python benchmarks/bench_mc.py                       # NequIP, N = 256 4096 32768, DFT N = 64
    python benchmarks/bench_mc.py --potential core --sizes 256 1024 4096 --dft-n 0

The NequIP potential is a small untrained ``pgnfast.nn.NequIP`` (2 layers, l_max 1, 16
features, r_max so that about 13 neighbours sit inside it at the benchmark density) wrapped
in ``pgnfast.Potential``; untrained weights cost the same as trained ones. For every N the
engine with one replica, the engine with ``--replicas`` replicas batched into each model call
and ``NaiveMonteCarlo`` (one full ``potential.energy`` per trial move) are timed in
interleaved rounds, so a shared machine's load hits all three alike. Writes
benchmarks/results/mc_moves_per_s_<potential>.json and .png. Threads: torch and OpenMP
pinned to 1 so the numbers measure the algorithm, not the machine's core count.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from provenance import git_commit

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def make_potential(kind: str, r_max: float):
    if kind == "core":
        from pgnfast.potentials import CoreRepulsion

        return CoreRepulsion(epsilon=1.0, diameter=0.8, cutoff=1.2)
    import torch

    from pgnfast.nn.model import NequIP
    from pgnfast.nn.potential import Potential

    torch.set_num_threads(1)
    torch.manual_seed(0)
    return Potential(NequIP(r_max=r_max, num_layers=2, l_max=1, num_features=16))


def configuration(n: int, density: float, seed: int = 0):
    """Jittered simple-cubic start: positions (n, 3) nm and a cubic cell (3, 3) nm."""
    side = int(np.ceil(n ** (1 / 3)))
    box = (n / density) ** (1 / 3)
    grid = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)[:n]
    rng = np.random.default_rng(seed)
    return (grid + 0.5) * box / side + rng.normal(0, 0.02, (n, 3)), np.eye(3) * box


class Timed:
    """A engine and its accumulated (trial moves, seconds)."""

    def __init__(self, step):
        self.step, self.moves, self.seconds = step, 0, 0.0

    def round(self) -> None:
        start = time.perf_counter()
        moves = self.step()
        self.seconds += time.perf_counter() - start
        self.moves += moves

    @property
    def rate(self) -> float:
        return self.moves / self.seconds if self.seconds > 0 else float("nan")


def engine_timer(potential, positions, cell, moves: int, replicas: int = 1, step=0.05):
    """Timer of one sweep of `moves` trial moves per replica (T in kT units)."""
    from pgnfast.mc import ParallelTempering

    temperatures = np.geomspace(1.0, 2.0, replicas) if replicas > 1 else [1.0]
    pt = ParallelTempering(
        potential,
        positions,
        cell,
        temperatures,
        step_size=step,
        moves_per_sweep=moves,
        equilibration_sweeps=0,
    )
    pt.run(1, quench_lowest=False)  # warm up (first model call, caches)

    def sweep() -> int:
        before = pt.timings["moves"]
        pt.run(1, quench_lowest=False)
        return pt.timings["moves"] - before

    return Timed(sweep), pt


def naive_timer(potential, positions, cell, moves: int, step=0.05):
    from pgnfast.mc import NaiveMonteCarlo

    naive = NaiveMonteCarlo(potential, positions, cell, 1.0, step_size=step)

    def chunk() -> int:
        naive.run(moves)
        return moves

    return Timed(chunk)


def measure(
    potential, positions, cell, args, naive_moves: int, moves: int, label: str, step: float
) -> dict:
    single, pt = engine_timer(potential, positions, cell, moves, step=step)
    batched, _ = engine_timer(potential, positions, cell, moves, args.replicas, step=step)
    naive = naive_timer(potential, positions, cell, naive_moves, step=step)
    for _ in range(args.rounds):  # interleaved, so the load is shared alike
        single.round()
        naive.round()
        batched.round()
    row = {
        "N": len(positions),
        "potential": label,
        "mode": pt.mode,
        "engine_moves_per_s": single.rate,
        f"engine_{args.replicas}_replicas_moves_per_s": batched.rate,
        "naive_moves_per_s": naive.rate,
        "speedup": single.rate / naive.rate,
        "speedup_batched": batched.rate / naive.rate,
        "engine_ms_per_move": 1e3 / single.rate,
        "naive_ms_per_move": 1e3 / naive.rate,
        "mean_cluster_particles": pt.timings["cluster_particles"] / max(pt.timings["moves"], 1),
        "engine_moves_timed": single.moves,
        "batched_moves_timed": batched.moves,
        "naive_moves_timed": naive.moves,
    }
    print(json.dumps(row), flush=True)
    return row


def dft_row(args) -> dict:
    """Moves/s with the classical-DFT functional (infinite receptive field: full recompute)."""
    from pgnfast.dft.design import default_design
    from pgnfast.dft.functional import Functional

    design = default_design()
    n = args.dft_n
    box = design.box_volume(n) ** (1 / 3)
    side = int(np.ceil(n ** (1 / 3)))
    grid = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)[:n]
    positions = (grid + 0.5) * box / side + np.random.default_rng(0).normal(0, 0.2, (n, 3))
    return measure(
        Functional(design),
        positions,
        np.eye(3) * box,
        args,
        naive_moves=args.dft_moves,
        moves=args.dft_moves,
        label="dft",
        step=0.5,
    )


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--potential", choices=["core", "nequip"], default="nequip")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 4096, 32768])
    parser.add_argument("--density", type=float, default=0.9, help="particles per nm^3")
    parser.add_argument("--r-max", type=float, default=1.5, help="NequIP cutoff, nm")
    parser.add_argument(
        "--moves", type=int, default=128, help="engine trial moves per replica per round"
    )
    parser.add_argument(
        "--naive-seconds",
        type=float,
        default=8.0,
        help="rough time per naive round (sets its moves, at least 1)",
    )
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--dft-n", type=int, default=64, help="0: skip the DFT row")
    parser.add_argument("--dft-moves", type=int, default=4)
    args = parser.parse_args()
    load_before = _load()
    potential = make_potential(args.potential, args.r_max)
    rows = []
    for n in args.sizes:
        positions, cell = configuration(n, args.density)
        start = time.perf_counter()
        potential.energy(positions, cell)
        one = time.perf_counter() - start
        naive_moves = int(max(1, min(200, args.naive_seconds / max(one, 1e-6))))
        rows.append(
            measure(
                potential, positions, cell, args, naive_moves, args.moves, args.potential, step=0.05
            )
        )
    if args.dft_n:
        rows.append(dft_row(args))
    load_after = _load()

    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    here = Path(__file__).parent
    try:
        commit = git_commit()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--", "../pgnfast/mc"],
                capture_output=True,
                text=True,
                cwd=here,
            ).stdout.strip()
        )
    except OSError:
        commit, dirty = "unknown", None
    cpus = os.cpu_count()
    record = {
        "benchmark": "mc_moves_per_s",
        "potential": args.potential,
        "rows": rows,
        "density_per_nm3": args.density,
        "threads": 1,
        "model": None
        if args.potential != "nequip"
        else {
            "r_max_nm": args.r_max,
            "num_layers": 2,
            "l_max": 1,
            "num_features": 16,
            "receptive_field_nm": potential.receptive_field,
            "neighbours_within_r_max": args.density * 4 / 3 * np.pi * args.r_max**3,
            "dtype": str(potential.model.dtype),
            "weights": "untrained (timing only)",
        },
        "device": "cpu",
        "machine": platform.processor() or platform.machine(),
        "cpu_count": cpus,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "shared_machine": bool(max(load_before + load_after) > 0.5 * (cpus or 1)),
        "commit": commit,
        "pgnfast_mc_uncommitted_changes": dirty,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/bench_mc.py"] + sys.argv[1:]),
    }
    stem = out / f"mc_moves_per_s_{args.potential}"
    stem.with_suffix(".json").write_text(json.dumps(record, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scaled = [r for r in rows if r["potential"] != "dft"]
    sizes = [r["N"] for r in scaled]
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.4), constrained_layout=True)
    ax = axes[0]
    ax.loglog(sizes, [r["engine_moves_per_s"] for r in scaled], "o-", label="local engine")
    ax.loglog(
        sizes,
        [r[f"engine_{args.replicas}_replicas_moves_per_s"] for r in scaled],
        "s-",
        label=f"local, {args.replicas} replicas batched",
    )
    ax.loglog(sizes, [r["naive_moves_per_s"] for r in scaled], "^-", label="naive full recompute")
    for r in rows:
        if r["potential"] == "dft":
            ax.loglog([r["N"]], [r["engine_moves_per_s"]], "kx", label=f"DFT, N={r['N']}")
    ax.set(
        xlabel="N particles",
        ylabel="trial moves / s",
        title=f"MC, {args.potential}, 1 thread, load {max(load_before + load_after):.1f}"
        f"/{cpus} cores",
    )
    ax.legend(fontsize=7)
    ax = axes[1]
    ax.loglog(sizes, [r["engine_ms_per_move"] for r in scaled], "o-", label="local engine")
    ax.loglog(sizes, [r["naive_ms_per_move"] for r in scaled], "^-", label="naive")
    for r in scaled:
        ax.annotate(
            f"{r['speedup']:.0f}x",
            (r["N"], r["engine_ms_per_move"]),
            fontsize=7,
            textcoords="offset points",
            xytext=(3, -10),
        )
    ax.set(xlabel="N particles", ylabel="ms per trial move", title="cost per move")
    ax.legend(fontsize=7)
    fig.savefig(stem.with_suffix(".png"), dpi=120)


if __name__ == "__main__":
    main()
