"""Model energy+forces: pgnfast NequIP (tp_conv backend "reference") against the `nequip`
package (0.19, NequIPGNNModel) with the same hyperparameters, configuration and threads.

    pytest benchmarks/bench_model.py --benchmark-enable            # N = 1000
    PGNFAST_BENCH_SIZES=1000,10000 pytest benchmarks/bench_model.py --benchmark-enable
    python benchmarks/bench_model.py --sizes 1000 10000 --threads 2   # JSON in results/

Neighbor lists are built once outside the timed region for both models; the timed call is
one forward with forces by autograd, float32, eval mode. Particles are PGN cores on a
jittered lattice at a density giving about 24 neighbors within r_max.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import time

import numpy as np
import pytest
import torch
from provenance import git_commit

HYPER = dict(
    r_max=1.0,
    num_layers=4,
    l_max=1,
    parity=True,
    num_features=32,
    num_bessel=8,
    polynomial_cutoff_p=6,
    radial_mlp_depth=1,
    radial_mlp_width=128,
)
NEIGHBORS_TARGET = 24.0
SIZES = [int(s) for s in os.environ.get("PGNFAST_BENCH_SIZES", "1000").split(",")]


def configuration(num_particles: int, seed: int = 0):
    """Positions (N, 3) nm and a cubic cell at the benchmark density."""
    from pgnfast.testing import random_positions

    density = NEIGHBORS_TARGET / (4 / 3 * np.pi * HYPER["r_max"] ** 3)
    box = (num_particles / density) ** (1 / 3)
    rng = np.random.default_rng(seed)
    spacing = box / np.ceil(num_particles ** (1 / 3))
    return random_positions(num_particles, box, rng, min_distance=0.6 * spacing), np.eye(3) * box


def pgnfast_runner(positions, cell):
    from pgnfast.nn import NequIP, build_graph

    torch.manual_seed(0)
    graph = build_graph([(positions, cell, None, True)], HYPER["r_max"], dtype=torch.float32)
    avg = graph.senders.numel() / graph.num_nodes
    model = NequIP(**HYPER, avg_num_neighbors=avg, backend="reference").to(torch.float32).eval()

    def run():
        out = model(graph, compute_forces=True, create_graph=False)
        return float(out["energy"][0].detach()), out["forces"]

    return run, {"edges": int(graph.senders.numel()), "avg_num_neighbors": avg}


def nequip_runner(positions, cell, l_max: int = HYPER["l_max"]):
    """run() -> one energy+forces evaluation of nequip's NequIPGNNModel, same hyperparameters."""
    import ase
    from nequip.data import compute_neighborlist_, from_ase
    from nequip.model import NequIPGNNModel
    from nequip.utils.global_state import set_global_state

    previous = torch.get_default_dtype()
    set_global_state()
    torch.set_default_dtype(previous)
    atoms = ase.Atoms(symbols=["H"] * len(positions), positions=positions, cell=cell, pbc=True)
    data = compute_neighborlist_(from_ase(atoms), HYPER["r_max"])
    data["atom_types"] = torch.zeros(len(positions), dtype=torch.int64)  # one type
    avg = data["edge_index"].shape[1] / len(positions)
    model = NequIPGNNModel(
        seed=0,
        model_dtype="float32",
        r_max=HYPER["r_max"],
        type_names=["H"],
        num_layers=HYPER["num_layers"],
        l_max=l_max,
        parity=HYPER["parity"],
        num_features=HYPER["num_features"],
        num_bessels=HYPER["num_bessel"],
        polynomial_cutoff_p=HYPER["polynomial_cutoff_p"],
        radial_mlp_depth=HYPER["radial_mlp_depth"],
        radial_mlp_width=HYPER["radial_mlp_width"],
        avg_num_neighbors=avg,
        per_type_energy_scales=1.0,
        per_type_energy_shifts=0.0,
    ).eval()

    def run():
        out = model({k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in data.items()})
        return float(out["total_energy"].sum().detach()), out["forces"]

    return run, {"edges": int(data["edge_index"].shape[1]), "avg_num_neighbors": avg}


RUNNERS = {"pgnfast-reference": pgnfast_runner, "nequip-0.19": nequip_runner}


@pytest.mark.parametrize("num_particles", SIZES)
@pytest.mark.parametrize("implementation", list(RUNNERS))
def test_energy_forces(benchmark, implementation, num_particles):
    if implementation.startswith("nequip"):
        pytest.importorskip("nequip")
    torch.set_num_threads(int(os.environ.get("PGNFAST_BENCH_THREADS", "2")))
    run, info = RUNNERS[implementation](*configuration(num_particles))
    benchmark.extra_info.update(info, num_particles=num_particles, threads=torch.get_num_threads())
    run()  # warm-up
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)


def measure(sizes, threads, repeats) -> dict:
    """Both implementations built on the same configuration, then timed in turn within every
    repeat (round robin), so load from other processes hits both alike."""
    torch.set_num_threads(threads)
    results = []
    for n in sizes:
        positions, cell = configuration(n)
        runs, infos, times = {}, {}, {}
        for name, make in RUNNERS.items():
            try:
                runs[name], infos[name] = make(positions, cell)
            except ImportError as error:
                results.append(
                    {"implementation": name, "num_particles": n, "error": f"not installed: {error}"}
                )
                continue
            runs[name]()  # warm-up
            times[name] = []
        for _ in range(repeats):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
        for name in runs:
            results.append(
                {
                    "implementation": name,
                    "num_particles": n,
                    **infos[name],
                    "median_s": statistics.median(times[name]),
                    "min_s": min(times[name]),
                    "max_s": max(times[name]),
                    "repeats": repeats,
                    "load_average_1min": os.getloadavg()[0],
                }
            )
            print(results[-1], flush=True)
    commit = git_commit()
    return {
        "benchmark": "model energy+forces, float32, CPU",
        "hyperparameters": HYPER,
        "threads": threads,
        "device": "cpu",
        "torch": torch.__version__,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "commit": commit,
        "command": f"python benchmarks/bench_model.py --sizes "
        f"{' '.join(map(str, sizes))} --threads {threads}",
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--out",
        default=os.path.join(os.path.dirname(__file__), "results", "model_vs_nequip_cpu.json"),
    )
    args = parser.parse_args()
    report = measure(args.sizes, args.threads, args.repeats)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(report, handle, indent=2)
    plot(report, os.path.splitext(args.out)[0] + ".png")
    print(f"wrote {args.out} and its PNG")


def plot(report: dict, path: str) -> None:
    """Median seconds (bars) with min-max ranges per implementation and N."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in report["results"] if "median_s" in r]
    sizes = sorted({r["num_particles"] for r in rows})
    names = list(dict.fromkeys(r["implementation"] for r in rows))
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.6), squeeze=False)
    for ax, n in zip(axes[0], sizes):
        sel = {r["implementation"]: r for r in rows if r["num_particles"] == n}
        medians = [sel[name]["median_s"] for name in names if name in sel]
        errors = [
            [sel[name]["median_s"] - sel[name]["min_s"] for name in names if name in sel],
            [sel[name]["max_s"] - sel[name]["median_s"] for name in names if name in sel],
        ]
        ax.bar([name for name in names if name in sel], medians, yerr=errors, capsize=4)
        ax.set_title(f"N = {n}, {report['threads']} threads")
        ax.set_ylabel("energy + forces, s")
    fig.suptitle(f"{report['benchmark']} (commit {report['commit']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
