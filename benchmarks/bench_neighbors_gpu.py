"""GPU neighbor-list benchmark: pgnfast's CUDA and Triton cell lists, and vesin's torch path.

Needs a CUDA device. fcc-like density with ~40 neighbors per particle, N = 32k and 500k,
median of CUDA-event-timed repeats after warm-up, correctness checked against the CPU
backend first. Writes benchmarks/results/neighbors_gpu.json.

    python benchmarks/bench_neighbors_gpu.py --sizes 32768 524288
"""

from __future__ import annotations

import argparse
import json
import statistics
from datetime import date
from pathlib import Path

import numpy as np
import torch
from bench_neighbors import CUTOFF, system
from provenance import git_commit

import pgnfast

RESULTS = Path(__file__).resolve().parent / "results"


def timed(fn, repeats):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        pairs = fn()
        stop.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(stop) / 1e3)
    return statistics.median(times), min(times), max(times), pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[32768, 524288])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS / "neighbors_gpu.json")
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        positions, cell = system(n, "triclinic")
        pos_t = torch.tensor(positions, device="cuda")
        cell_t = torch.tensor(cell, device="cuda")
        expected = len(pgnfast.neighbor_list(positions, cell, CUTOFF, backend="cpu"))
        runners = {}
        for backend in pgnfast.available_backends("cuda"):
            if backend != "reference":
                runners[f"pgnfast-{backend}"] = lambda b=backend, p=pos_t, c=cell_t: len(
                    pgnfast.neighbor_list(p, c, CUTOFF, backend=b)
                )
        try:
            import vesin.torch

            vesin_nl = vesin.torch.NeighborList(cutoff=CUTOFF, full_list=True)
            runners["vesin-torch"] = lambda v=vesin_nl, p=pos_t, c=cell_t: len(
                v.compute(p, c, True, quantities="ijSDd")[0]
            )
        except Exception as error:  # noqa: BLE001 - report and go on without this peer
            print(f"vesin torch path unavailable: {error}")
        for name, fn in runners.items():
            median, low, high, pairs = timed(fn, args.repeats)
            rows.append(
                dict(
                    n=n,
                    library=name,
                    median_s=median,
                    min_s=low,
                    max_s=high,
                    pairs=pairs,
                    pairs_match_cpu=pairs == expected,
                    pairs_per_s=pairs / median,
                )
            )
            print(
                f"N={n:>8} {name:>16} {median * 1e3:8.3f} ms  {pairs / median:9.3e} pairs/s"
                f"  pairs {'match' if pairs == expected else 'DIFFER'}",
                flush=True,
            )
    commit = git_commit()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            dict(
                benchmark="neighbor list, GPU",
                device=torch.cuda.get_device_name(),
                date=str(date.today()),
                commit=commit,
                cutoff_nm=CUTOFF,
                command="python benchmarks/bench_neighbors_gpu.py --sizes "
                + " ".join(map(str, args.sizes)),
                rows=rows,
            ),
            indent=2,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    np.random.seed(0)
    main()
