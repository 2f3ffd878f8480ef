"""DFT label cost vs N at the default design and spacing (nm, kT).

pytest-benchmark:  NUMBA_NUM_THREADS=2 python -m pytest benchmarks/bench_dft.py --benchmark-enable
Table, JSON and plot: NUMBA_NUM_THREADS=2 python benchmarks/bench_dft.py [--sizes 64 256 1024]
writes benchmarks/results/dft_labels.json and dft_labels.png.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time
from pathlib import Path

import pytest
from provenance import git_commit

from pgnfast.dft import default_design, solve
from pgnfast.systems.pgn import random_configurations

RESULTS = Path(__file__).parent / "results"


def _config(n, seed=0):
    return random_configurations(default_design(), n, 1, seed=seed, kind="random")[0]


@pytest.mark.parametrize("n", [64, 256, 1024])
@pytest.mark.parametrize("method", ["newton", "anderson"])
def test_label(benchmark, n, method):
    atoms = _config(n)
    solve(atoms.positions, atoms.cell[:], default_design(), method=method)  # compile, warm
    result = benchmark.pedantic(
        solve,
        args=(atoms.positions, atoms.cell[:], default_design()),
        kwargs={"method": method},
        rounds=3,
        warmup_rounds=0,
    )
    benchmark.extra_info.update(
        n=n,
        iterations=result.iterations,
        sweeps=result.info["sweeps"],
        voxels=result.info["n_voxels"],
    )


def measure(sizes, repeats, methods=("newton", "anderson")):
    rows = []
    for n in sizes:
        for method in methods:
            times, result = [], None
            for seed in range(repeats + 1):
                atoms = _config(n, seed)
                start = time.perf_counter()
                result = solve(atoms.positions, atoms.cell[:], default_design(), method=method)
                if seed:  # the first solve compiles / loads the Numba cache
                    times.append(time.perf_counter() - start)
            row = {
                "n": n,
                "method": method,
                "median_s": statistics.median(times),
                "min_s": min(times),
                "max_s": max(times),
                "iterations": result.iterations,
                "sweeps": result.info["sweeps"],
                "voxels": result.info["n_voxels"],
                "entries_per_voxel": result.info["entries_per_voxel"],
                "labels_per_s": 1 / statistics.median(times),
                **{k: result.info[k] for k in result.info if k.startswith("time_")},
            }
            print(
                f"N={n:5d} {method:8s} {row['median_s']:.3f} s (min {row['min_s']:.3f}, "
                f"max {row['max_s']:.3f}) iterations={row['iterations']} "
                f"sweeps={row['sweeps']} voxels={row['voxels']}",
                flush=True,
            )
            rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import numba

    rows = measure(args.sizes, args.repeats)
    commit = git_commit()
    RESULTS.mkdir(exist_ok=True)
    meta = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "commit": commit,
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "command": "NUMBA_NUM_THREADS=2 python benchmarks/bench_dft.py",
        "rows": rows,
    }
    (RESULTS / "dft_labels.json").write_text(json.dumps(meta, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for method in ("newton", "anderson"):
        sel = [r for r in rows if r["method"] == method]
        ax.loglog([r["n"] for r in sel], [r["median_s"] for r in sel], "o-", label=method)
    ax.axhline(0.5, ls=":", c="gray")
    ax.axhline(10, ls=":", c="gray")
    ax.set_xlabel("particles N")
    ax.set_ylabel("time per label (s)")
    ax.set_title(f"PGN DFT label, default design, {numba.get_num_threads()} threads")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "dft_labels.png", dpi=120)


if __name__ == "__main__":
    main()
