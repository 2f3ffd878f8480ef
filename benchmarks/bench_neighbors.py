"""Neighbor-list benchmark: pgnfast's CPU cell list side by side with vesin, matscipy and ASE.

Same process, same inputs, the libraries timed in turn within every repeat: random points
at unit density (nm^-3) with a cutoff giving about 40 neighbors per particle, cubic and
triclinic boxes, full lists with i, j, shifts, vectors and distances from every library.

    pytest benchmarks/bench_neighbors.py --benchmark-enable        # pytest-benchmark table
    python benchmarks/bench_neighbors.py --sizes 1e3 1e4 1e5 1e6   # table, JSON and PNG

The script writes benchmarks/results/neighbors_cpu.json and .png. ASE is run up to
N = 1e4 by default (about 6 s a call there, minutes beyond). Each call's result is dropped
before the next, as in a simulation loop; pgnfast then reuses its freed output blocks
(`pgnfast.neighbors.memory_cache_info`), which is most of its lead at N = 1e6 on one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from provenance import git_commit

import pgnfast

NEIGHBORS = 40.0
DENSITY = 1.0  # particles per nm^3
CUTOFF = (NEIGHBORS / (4.0 / 3.0 * np.pi * DENSITY)) ** (1.0 / 3.0)
RESULTS = Path(__file__).resolve().parent / "results"


def system(n: int, shape: str, seed: int = 0):
    """Random positions (n, 3) nm and a cell (3, 3) of volume n / DENSITY."""
    rng = np.random.default_rng(seed)
    if shape == "cubic":
        cell = np.eye(3)
    else:  # triclinic: sheared, with all angles away from 90 degrees
        cell = np.array([[1.0, 0.0, 0.0], [0.35, 0.94, 0.0], [0.2, 0.3, 0.93]])
    cell = cell * (n / DENSITY / abs(np.linalg.det(cell))) ** (1.0 / 3.0)
    return rng.uniform(0, 1, (n, 3)) @ cell, cell


def run_pgnfast(positions, cell, threads):
    pgnfast.neighbors.set_num_threads(threads)
    nl = pgnfast.neighbor_list(positions, cell, CUTOFF, backend="cpu")
    return len(nl)


def run_vesin(positions, cell, threads):
    import vesin

    nl = vesin.NeighborList(cutoff=CUTOFF, full_list=True, n_threads=threads)
    return len(nl.compute(positions, cell, True, quantities="ijSDd")[0])


def run_matscipy(positions, cell, threads):
    from matscipy.neighbours import neighbour_list

    i = neighbour_list("ijSDd", positions=positions, cell=cell, pbc=[True] * 3, cutoff=CUTOFF)[0]
    return len(i)


def run_ase(positions, cell, threads):
    from ase.neighborlist import primitive_neighbor_list

    i = primitive_neighbor_list("ijSDd", [True] * 3, cell, positions, CUTOFF)[0]
    return len(i)


LIBRARIES = {"pgnfast": run_pgnfast, "vesin": run_vesin, "matscipy": run_matscipy, "ase": run_ase}
THREADED = {"pgnfast", "vesin"}  # matscipy and ASE are single-threaded


# ---------------------------------------------------------------- pytest-benchmark suite
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", ["cubic", "triclinic"])
@pytest.mark.parametrize("n", [1_000, 10_000, 100_000])
@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_neighbor_list(benchmark, library, n, shape, threads):
    if library not in THREADED and threads != 1:
        pytest.skip(f"{library} is single-threaded")
    if library == "ase" and n > 10_000:
        pytest.skip("ASE takes minutes beyond 1e4 in this suite")
    pytest.importorskip(library)
    positions, cell = system(n, shape)
    benchmark.group = f"neighbors N={n} {shape} threads={threads}"
    benchmark.extra_info["pairs"] = benchmark.pedantic(
        LIBRARIES[library], args=(positions, cell, threads), rounds=5, warmup_rounds=1
    )


# ---------------------------------------------------------------- script: table, JSON, PNG
def measure_round_robin(libraries, positions, cell, threads, repeats):
    """Median, min and max seconds and pairs per library, the libraries timed in turn within
    every repeat, in a fresh random order each time, so that load from other processes and
    the state one library leaves behind (ASE's call slows whatever runs next by up to 10x at
    N = 1e3) hit all of them alike."""
    times = {name: [] for name in libraries}
    pairs = {}
    for name in libraries:  # warm-up
        pairs[name] = LIBRARIES[name](positions, cell, threads)
    rng = np.random.default_rng(0)
    for _ in range(repeats):
        for name in rng.permutation(libraries):
            start = time.perf_counter()
            LIBRARIES[name](positions, cell, threads)
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(t), min(t), max(t), pairs[name]) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e3, 1e4, 1e5, 1e6])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--shapes", nargs="+", default=["cubic", "triclinic"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ase-max", type=float, default=1e4)
    parser.add_argument("--out", type=Path, default=RESULTS / "neighbors_cpu.json")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="replace only the rows of the measured sizes in an existing --out file",
    )
    args = parser.parse_args()

    rows = []
    header = (
        f"{'N':>9} {'box':>9} {'thr':>3} {'library':>9} {'median ms':>10} "
        f"{'min-max ms':>17} {'pairs':>10} {'pairs/s':>9}"
    )
    print(header)
    for n in (int(s) for s in args.sizes):
        for shape in args.shapes:
            positions, cell = system(n, shape)
            for threads in args.threads:
                libraries = [
                    name
                    for name in LIBRARIES
                    if (name in THREADED or threads == args.threads[0])
                    and not (name == "ase" and n > args.ase_max)
                ]
                repeats = args.repeats if n < 1e6 else max(1, args.repeats // 2)
                measured = measure_round_robin(libraries, positions, cell, threads, repeats)
                for library, (median, low, high, pairs) in measured.items():
                    rows.append(
                        dict(
                            n=n,
                            shape=shape,
                            threads=threads,
                            library=library,
                            median_s=median,
                            min_s=low,
                            max_s=high,
                            pairs=pairs,
                            pairs_per_s=pairs / median,
                            load_average_1min=os.getloadavg()[0],
                        )
                    )
                    print(
                        f"{n:>9} {shape:>9} {threads:>3} {library:>9} {median * 1e3:>10.2f} "
                        f"{low * 1e3:>8.2f}-{high * 1e3:<8.2f} {pairs:>10} "
                        f"{pairs / median:>9.2e}",
                        flush=True,
                    )
    commit = git_commit()
    command = "python benchmarks/bench_neighbors.py " + " ".join(
        f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in vars(args).items()
        if k not in ("out", "merge")
    )
    for row in rows:
        row.update(commit=commit, command=command)
    if args.merge and args.out.exists():
        measured = {row["n"] for row in rows}
        earlier = json.loads(args.out.read_text())
        kept = [r for r in earlier["rows"] if r["n"] not in measured]
        for row in kept:
            row.setdefault("commit", earlier["commit"])
            row.setdefault("command", earlier["command"])
        rows = sorted(kept + rows, key=lambda r: (r["n"], r["shape"], r["threads"]))
    report = dict(
        benchmark="neighbor list, CPU",
        date=str(date.today()),
        commit=commit,
        machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        command=command
        + (" (rows of other sizes from earlier runs, see each row)" if args.merge else ""),
        cutoff_nm=CUTOFF,
        density_per_nm3=DENSITY,
        rows=rows,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    plot(rows, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shapes = sorted({r["shape"] for r in rows})
    fig, axes = plt.subplots(1, len(shapes), figsize=(5.5 * len(shapes), 4.2), squeeze=False)
    for ax, shape in zip(axes[0], shapes):
        for library in LIBRARIES:
            for threads in sorted({r["threads"] for r in rows}):
                sel = [
                    r
                    for r in rows
                    if r["shape"] == shape and r["library"] == library and r["threads"] == threads
                ]
                if sel:
                    ax.loglog(
                        [r["n"] for r in sel],
                        [r["pairs_per_s"] for r in sel],
                        marker="o",
                        linestyle="-" if threads == 1 else "--",
                        label=f"{library}, {threads} thread{'s' if threads > 1 else ''}",
                    )
        ax.set_xlabel("particles N")
        ax.set_ylabel("pairs per second")
        ax.set_title(f"{shape} box, ~{NEIGHBORS:.0f} neighbors per particle")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
