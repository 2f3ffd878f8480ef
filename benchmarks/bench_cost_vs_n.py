"""DFT against model cost per configuration as N grows (issue 17, part 4). Units nm, kT.

    python benchmarks/bench_cost_vs_n.py [--sizes 64 216 512 1000 2197 4096 8000]
    python -m pytest benchmarks/bench_cost_vs_n.py --benchmark-enable      # pytest-benchmark

One thread for both (NUMBA_NUM_THREADS=1, torch 1 thread), on the same random melt
configurations of the default design (examples/design.yaml) at its melt density:

- DFT: `pgnfast.dft.solve` (energy and forces, tolerance 1e-10, default grid spacing), the
  solver the package picks by default (its name and iteration count are recorded); the first
  solve of a run compiles (Numba cache) and is not timed.
- Model: the accurate architecture (r_max 48 nm, 2 layers, l_max 2; the study's base-point
  model file, benchmarks/results/pgn_study/runs/base_seed0/best_model.pt; trained weights cost
  the same as any), energy and forces of all N through `pgnfast.nn.Potential` (fused CPU
  backend, neighbor list included), alone and in batches of about `--batch-particles`
  particles (one model call on several configurations).

Each cost gets a power-law fit t = a N^b over the sizes, and the ratio DFT/model its own,
which says where (if anywhere) the study's 1e4 is reached. Writes
benchmarks/results/pgn_cost/cost_vs_n.json and cost_vs_n.png.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provenance import git_commit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "pgn_cost"
MODEL = ROOT / "benchmarks" / "results" / "pgn_study" / "runs" / "base_seed0" / "best_model.pt"
STUDY_RATIO = 1e4


def design():
    from pgnfast.dft import PGNDesign

    return PGNDesign.from_yaml(ROOT / "examples" / "design.yaml")


def configurations(n: int, count: int, seed: int = 0) -> list:
    """`count` random melt configurations of `n` cores (ase.Atoms, nm)."""
    from pgnfast.systems.pgn import random_configurations

    return random_configurations(design(), n, count, seed=seed, kind="random")


def potential():
    import torch

    from pgnfast import Potential

    torch.set_num_threads(1)
    return Potential(str(MODEL), units="pgn")


def dft_seconds(frames) -> tuple[list[float], dict]:
    """Wall seconds of one DFT solve per frame, and the last solve's settings."""
    from pgnfast.dft import solve

    times, info = [], {}
    for atoms in frames:
        start = time.perf_counter()
        result = solve(atoms.positions, atoms.cell[:], design())
        times.append(time.perf_counter() - start)
        info = {
            "method": result.info.get("method"),
            "iterations": result.iterations,
            "voxels": result.info.get("n_voxels"),
        }
    return times, info


def model_seconds(model, frames, repeats: int) -> list[float]:
    """Median wall seconds of energy and forces of all N, per frame (after a warm-up)."""
    out = []
    for atoms in frames:
        model.energy_forces(atoms.positions, atoms.cell[:])
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.energy_forces(atoms.positions, atoms.cell[:])
            runs.append(time.perf_counter() - start)
        out.append(statistics.median(runs))
    return out


def batched_seconds(model, frames, batch: int, repeats: int) -> float:
    """Median wall seconds per configuration of one model call on `batch` configurations."""
    from pgnfast.nn.graph import build_graph

    network = model.model
    chosen = [frames[i % len(frames)] for i in range(batch)]
    systems = [(a.positions, a.cell[:], None, True, None) for a in chosen]

    def call():
        graph = build_graph(systems, network.r_max, dtype=network.dtype)
        network(graph, compute_forces=True, create_graph=False)["forces"].sum().item()

    call()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs) / batch


def power_law(sizes, times) -> dict:
    """Least-squares fit of log t = log a + b log N: {'prefactor': a, 'exponent': b}."""
    slope, intercept = np.polyfit(np.log(sizes), np.log(times), 1)
    return {"prefactor": float(np.exp(intercept)), "exponent": float(slope)}


def measure(sizes, configs: int, repeats: int, batch_particles: int, progress=print) -> list:
    model = potential()
    dft_seconds(configurations(64, 1, seed=99))  # compile / load the Numba cache
    rows = []
    for n in sizes:
        frames = configurations(n, configs, seed=n)
        dft, info = dft_seconds(frames)
        single = model_seconds(model, frames, repeats)
        batch = max(1, batch_particles // n)
        batched = batched_seconds(model, frames, batch, repeats) if batch > 1 else min(single)
        row = {
            "n": n,
            "configs": len(frames),
            "dft_s": statistics.mean(dft),
            "dft_s_min": min(dft),
            "dft_s_max": max(dft),
            "dft": info,
            "model_s": statistics.mean(single),
            "model_batched_s": batched,
            "model_batch": batch,
        }
        row["ratio"] = row["dft_s"] / row["model_s"]
        row["ratio_batched"] = row["dft_s"] / row["model_batched_s"]
        progress(
            f"N={n:6d} DFT {row['dft_s']:.3f} s ({info['method']}, {info['iterations']} it) "
            f"model {row['model_s']:.4f} s, batched x{batch} {batched:.4f} s/config, "
            f"ratio {row['ratio']:.0f} (batched {row['ratio_batched']:.0f})"
        )
        rows.append(row)
    return rows


def summarize(rows) -> dict:
    sizes = [r["n"] for r in rows]
    fits = {
        key: power_law(sizes, [r[key] for r in rows])
        for key in ("dft_s", "model_s", "model_batched_s", "ratio", "ratio_batched")
    }
    reach = {}
    for key in ("ratio", "ratio_batched"):
        a, b = fits[key]["prefactor"], fits[key]["exponent"]
        reached = [r["n"] for r in rows if r[key] >= STUDY_RATIO]
        if reached:
            reach[key] = {"measured_at_n": min(reached)}
        elif b > 0:
            reach[key] = {"extrapolated_n": float((STUDY_RATIO / a) ** (1 / b))}
        else:
            reach[key] = {"never": "the ratio does not grow with N"}
    return {"fits": fits, "study_ratio": STUDY_RATIO, "where_study_ratio_is_reached": reach}


def plot(rows, summary, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = np.array([r["n"] for r in rows], dtype=float)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    for key, label in (
        ("dft_s", "DFT"),
        ("model_s", "model, one configuration"),
        ("model_batched_s", "model, batched"),
    ):
        fit = summary["fits"][key]
        left.loglog(sizes, [r[key] for r in rows], "o", label=f"{label} (N^{fit['exponent']:.2f})")
        left.loglog(sizes, fit["prefactor"] * sizes ** fit["exponent"], "-", c="gray", lw=0.7)
    left.set_xlabel("particles N")
    left.set_ylabel("seconds per configuration (1 thread)")
    left.legend(fontsize=8)
    for key, label in (("ratio", "one configuration"), ("ratio_batched", "batched")):
        right.loglog(sizes, [r[key] for r in rows], "o-", label=label)
    right.axhline(STUDY_RATIO, ls=":", c="k", label="the study's 1e4")
    right.set_xlabel("particles N")
    right.set_ylabel("DFT / model cost")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@pytest.mark.parametrize("n", [64, 512])
def test_dft(benchmark, n):
    frames = configurations(n, 1)
    dft_seconds(configurations(64, 1, seed=99))
    benchmark.pedantic(dft_seconds, args=(frames,), rounds=2, warmup_rounds=0)


@pytest.mark.parametrize("n", [64, 512])
def test_model(benchmark, n):
    frames, model = configurations(n, 1), potential()
    benchmark.pedantic(model_seconds, args=(model, frames, 1), rounds=3, warmup_rounds=1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 216, 512, 1000, 2197, 4096])
    parser.add_argument("--configs", type=int, default=2, help="configurations per size")
    parser.add_argument("--repeats", type=int, default=3, help="model calls per timing")
    parser.add_argument("--batch-particles", type=int, default=4096)
    parser.add_argument("--machine-note", default="", help="e.g. whether the machine was quiet")
    args = parser.parse_args(argv)
    import torch

    rows = measure(args.sizes, args.configs, args.repeats, args.batch_particles)
    summary = summarize(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "provenance": {"git_commit": git_commit()},
        "machine": platform.platform(),
        "machine_note": args.machine_note,
        "threads": {"torch": torch.get_num_threads(), "numba": os.environ["NUMBA_NUM_THREADS"]},
        "command": "python benchmarks/bench_cost_vs_n.py " + " ".join(sys.argv[1:]),
        "model": str(MODEL.relative_to(ROOT)),
        "rows": rows,
        **summary,
    }
    (RESULTS / "cost_vs_n.json").write_text(json.dumps(record, indent=1))
    plot(rows, summary, RESULTS / "cost_vs_n.png")
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
