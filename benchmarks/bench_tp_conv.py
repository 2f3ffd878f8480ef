"""Fused tp_conv on the CPU: backend "cpu" against "reference" (e3nn) and the `nequip` package.

Same process, same configuration, same threads, back to back:
  * op: one tp_conv (nequip-like irreps, 32 features) forward, forward+backward, and
    forward+backward+double backward;
  * model: energy+forces (eval) of pgnfast NequIP with backend "cpu" and "reference", and of
    nequip's NequIPGNNModel with the same hyperparameters; a training step (train mode, loss
    on energy and forces, backward through the forces: the double backward);
  * memory: peak resident memory of energy+forces in a fresh subprocess per backend.

    pytest benchmarks/bench_tp_conv.py --benchmark-enable         # N = 1000, l_max = 1
    python benchmarks/bench_tp_conv.py --sizes 1000 10000 --lmax 1 2 --threads 2

The script writes benchmarks/results/tp_conv_cpu.json and .png (ratios against the reference).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import torch
from bench_model import HYPER as MODEL_HYPER
from bench_model import NEIGHBORS_TARGET, configuration, nequip_runner
from provenance import git_commit

RESULTS = Path(__file__).resolve().parent / "results"
# the model benchmark's sizes, peer and configurations; l_max varies here
HYPER = {k: v for k, v in MODEL_HYPER.items() if k != "l_max"}


def pgnfast_runner(positions, cell, l_max: int, backend: str, train: bool = False):
    """run() -> one energy+forces evaluation (or training step) of pgnfast NequIP."""
    from pgnfast.nn import NequIP, build_graph

    torch.manual_seed(0)
    graph = build_graph([(positions, cell, None, True)], HYPER["r_max"], dtype=torch.float32)
    avg = graph.senders.numel() / graph.num_nodes
    model = NequIP(**HYPER, l_max=l_max, avg_num_neighbors=avg, backend=backend)
    model = model.to(torch.float32)
    model.train(train)

    def run():
        out = model(graph, compute_forces=True, create_graph=train)
        if train:
            loss = out["energy"].square().mean() + out["forces"].square().mean()
            loss.backward()
            model.zero_grad(set_to_none=True)
        return out["forces"]

    return run, {"edges": int(graph.senders.numel()), "avg_num_neighbors": avg}


def op_runner(num_nodes: int, l_max: int, backend: str, order: int):
    """run() -> one tp_conv of nequip-like irreps (32 features, parity), differentiated
    ``order`` times (0: forward, 1: + backward, 2: + double backward)."""
    from e3nn import o3

    from pgnfast.nn.model import hidden_irreps
    from pgnfast.ops import TPConvSpec, tp_conv

    irreps = hidden_irreps(HYPER["num_features"], l_max, True)
    spec = TPConvSpec.build(irreps, o3.Irreps.spherical_harmonics(l_max), irreps)
    edges = int(num_nodes * NEIGHBORS_TARGET)
    g = torch.Generator().manual_seed(0)
    receivers = torch.sort(torch.randint(0, num_nodes, (edges,), generator=g)).values
    senders = torch.randint(0, num_nodes, (edges,), generator=g)
    inputs = [
        torch.randn(n, d, generator=g, requires_grad=True)
        for n, d in ((num_nodes, spec.dim_in), (edges, spec.dim_sh), (edges, spec.weight_numel))
    ]

    def run():
        out = tp_conv(spec, *inputs, senders, receivers, num_nodes, backend=backend)
        if order >= 1:
            grads = torch.autograd.grad(out.square().sum(), inputs, create_graph=order >= 2)
            if order >= 2:
                torch.autograd.grad(sum(q.square().sum() for q in grads), inputs)
        return out

    return run, {
        "edges": edges,
        "dim_in": spec.dim_in,
        "paths": len(spec.instructions),
        "weight_numel": spec.weight_numel,
    }


def timed(run, repeats: int) -> dict:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "repeats": repeats,
    }


# ---- pytest-benchmark ------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_model_energy_forces(benchmark, backend):
    torch.set_num_threads(int(os.environ.get("PGNFAST_BENCH_THREADS", "2")))
    run, info = pgnfast_runner(*configuration(1000), l_max=1, backend=backend)
    benchmark.extra_info.update(info, num_particles=1000, threads=torch.get_num_threads())
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("order", [0, 1, 2])
@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_tp_conv_op(benchmark, backend, order):
    torch.set_num_threads(int(os.environ.get("PGNFAST_BENCH_THREADS", "2")))
    run, info = op_runner(1000, 1, backend, order)
    benchmark.extra_info.update(info, num_nodes=1000, order=order)
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)


# ---- script ----------------------------------------------------------------------------
def peak_memory(num_particles: int, l_max: int, backend: str, threads: int) -> float:
    """Peak resident memory (MiB) of building the model and one energy+forces evaluation, in
    a fresh interpreter."""
    code = (
        "import sys, torch; sys.path.insert(0, sys.argv[1]);"
        "import bench_tp_conv as b; torch.set_num_threads(int(sys.argv[5]));"
        "run, _ = b.pgnfast_runner(*b.configuration(int(sys.argv[2])), l_max=int(sys.argv[3]),"
        " backend=sys.argv[4]); run();"
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(Path(__file__).parent),
            str(num_particles),
            str(l_max),
            backend,
            str(threads),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout.strip().splitlines()[-1]) / 1024


def measure(sizes, lmaxes, threads, repeats, memory_sizes, with_nequip) -> dict:
    torch.set_num_threads(threads)
    results = []

    def record(kind, **fields):
        results.append({"kind": kind, **fields})
        print(json.dumps(results[-1]), flush=True)

    for l_max in lmaxes:
        for order in (0, 1, 2):
            for backend in ("cpu", "reference"):
                run, info = op_runner(1000, l_max, backend, order)
                record(
                    "op",
                    l_max=l_max,
                    order=order,
                    backend=backend,
                    num_nodes=1000,
                    **info,
                    **timed(run, repeats),
                )
        for n in sizes:
            positions, cell = configuration(n)
            for backend in ("cpu", "reference"):
                run, info = pgnfast_runner(positions, cell, l_max, backend)
                record(
                    "energy_forces",
                    l_max=l_max,
                    backend=backend,
                    num_particles=n,
                    **info,
                    **timed(run, repeats),
                )
            if with_nequip:
                run, info = nequip_runner(positions, cell, l_max)
                record(
                    "energy_forces",
                    l_max=l_max,
                    backend="nequip-0.19",
                    num_particles=n,
                    **info,
                    **timed(run, repeats),
                )
            if n == min(sizes):
                for backend in ("cpu", "reference"):
                    run, info = pgnfast_runner(positions, cell, l_max, backend, train=True)
                    record(
                        "training_step",
                        l_max=l_max,
                        backend=backend,
                        num_particles=n,
                        **info,
                        **timed(run, repeats),
                    )
    for n in memory_sizes:
        for backend in ("cpu", "reference"):
            record(
                "peak_memory",
                l_max=1,
                backend=backend,
                num_particles=n,
                peak_rss_mib=peak_memory(n, 1, backend, threads),
            )
    return {"results": results}


def ratios(results) -> list[dict]:
    """Time (or memory) of each peer over the fused cpu backend, per measured case."""
    keyed = {}
    for r in results:
        case = (r["kind"], r["l_max"], r.get("order"), r.get("num_particles", r.get("num_nodes")))
        keyed.setdefault(case, {})[r["backend"]] = r.get("median_s", r.get("peak_rss_mib"))
    rows = []
    for (kind, l_max, order, n), values in keyed.items():
        for peer in ("reference", "nequip-0.19"):
            if peer in values and "cpu" in values:
                rows.append(
                    {
                        "kind": kind,
                        "l_max": l_max,
                        "order": order,
                        "n": n,
                        "peer": peer,
                        "peer_over_cpu": values[peer] / values["cpu"],
                    }
                )
    return rows


def plot(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [
        f"{r['kind']} l{r['l_max']}"
        + (f" o{r['order']}" if r["order"] is not None else "")
        + f" n{r['n']} vs {r['peer']}"
        for r in rows
    ]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(rows) + 1.5))
    ax.barh(range(len(rows)), [r["peer_over_cpu"] for r in rows])
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel('peer time (or memory) / backend="cpu"  (>1: fused kernel better)')
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--lmax", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-sizes", type=int, nargs="*", default=[30000])
    parser.add_argument("--no-nequip", action="store_true")
    parser.add_argument("--output", default=str(RESULTS / "tp_conv_cpu.json"))
    args = parser.parse_args()
    try:
        import nequip  # noqa: F401

        with_nequip = not args.no_nequip
    except ImportError:
        with_nequip = False
    measured = measure(
        args.sizes, args.lmax, args.threads, args.repeats, args.memory_sizes, with_nequip
    )
    commit = git_commit()
    report = {
        "benchmark": "fused tp_conv (backend cpu) vs reference and nequip, float32, CPU",
        "hyperparameters": HYPER,
        "threads": args.threads,
        "device": "cpu",
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "date": datetime.now().isoformat(timespec="seconds"),
        "commit": commit,
        "command": "python benchmarks/bench_tp_conv.py " + " ".join(sys.argv[1:]),
        **measured,
        "ratios": ratios(measured["results"]),
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2))
    plot(report["ratios"], output.with_suffix(".png"))
    for row in report["ratios"]:
        print(row)


if __name__ == "__main__":
    main()
