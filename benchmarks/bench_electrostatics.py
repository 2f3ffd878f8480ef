"""Electrostatics at scale: the exact dense path (Ewald sum, dense Qeq solve) against the
fast path (PME through torch-pme, Qeq by preconditioned CG with PME products and implicit
differentiation), energy plus forces, N = 100 .. 1e5.

    pytest benchmarks/bench_electrostatics.py --benchmark-enable        # N = 300
    python benchmarks/bench_electrostatics.py --sizes 100 300 1000 3000 10000 100000 \\
        --max-dense 3000 --threads 1                       # JSON + PNG in results/

Each (case, N) runs in a fresh subprocess, so its peak memory is the rise of the process's
maximum resident set over its state after building the input. Systems: random positions
in a triclinic cell at 0.05 atoms / Angstrom^3 (an ionic solid's density), Gaussian widths
0.8-1.2 Angstrom, neutral random charges (energy cases) or random chi and J 5-10 eV/e^2
(Qeq cases, total charge 0). Errors of the fast path are measured against the exact one
at every N where both ran: relative energy error, max force error over max |F|, max
charge difference (e).

Cases: "ewald" (exact Ewald sum, accuracy 1e-10, energy + autograd forces), "pme" (PME,
accuracy 1e-5), "qeq_dense" (dense Qeq with the exact Ewald matrix + forces of the
electrostatic energy through the solve), "qeq_cg_pme" (CG Qeq on PME, implicit
differentiation).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

DENSITY = 0.05
RESULTS = Path(__file__).parent / "results"
CASES = ("ewald", "pme", "qeq_dense", "qeq_cg_pme")


def system(n: int, seed: int = 0):
    """charges, positions, cell, widths, chi, hardness (float64 tensors)."""
    rng = np.random.default_rng(seed)
    length = (n / DENSITY) ** (1.0 / 3.0)
    cell = length * (np.eye(3) + 0.05 * rng.uniform(-1.0, 1.0, (3, 3)))
    positions = rng.uniform(0.0, 1.0, (n, 3)) @ cell
    charges = rng.normal(size=n)
    charges -= charges.mean()

    def tensor(values):
        return torch.as_tensor(np.asarray(values, dtype=np.float64))

    return (
        tensor(charges),
        tensor(positions),
        tensor(cell),
        tensor(rng.uniform(0.8, 1.2, n)),
        tensor(rng.normal(0.0, 2.0, n)),
        tensor(rng.uniform(5.0, 10.0, n)),
    )


PME_ACCURACY = 1e-5


def run_case(case: str, n: int, accuracy: float = PME_ACCURACY):
    """(energy, forces (N, 3), charges or None) of one case."""
    from pgnfast.nn.electrostatics import ewald_energy
    from pgnfast.nn.pme import pme_energy
    from pgnfast.nn.qeq import qeq, qeq_iterative

    charges, positions, cell, widths, chi, hardness = system(n)
    x = positions.clone().requires_grad_(True)
    solved = None
    if case == "ewald":
        energy = ewald_energy(charges, x, cell, widths)
    elif case == "pme":
        energy = pme_energy(charges, x, cell, widths, accuracy=accuracy)
    elif case == "qeq_dense":
        result = qeq(chi, hardness, x, widths, cell=cell, pbc=True)
        energy, solved = result.electrostatic_energy.sum(), result.charges
    elif case == "qeq_cg_pme":
        result = qeq_iterative(
            chi, hardness, x, widths, cell=cell, pbc=True, method="pme", accuracy=accuracy
        )
        energy, solved = result.electrostatic_energy.sum(), result.charges
    else:
        raise ValueError(case)
    (gradient,) = torch.autograd.grad(energy, x)
    return float(energy.detach()), -gradient, None if solved is None else solved.detach()


def _count_cg_iterations() -> list:
    """The iteration count of every conjugate-gradient solve of this process (forward and
    adjoint), appended to the returned list."""
    import importlib

    solver = importlib.import_module("pgnfast.nn.qeq")
    counts, solve = [], solver._conjugate_gradients

    def counting(*args, **kwargs):
        solution, iterations = solve(*args, **kwargs)
        counts.append(int(iterations))
        return solution, iterations

    solver._conjugate_gradients = counting
    return counts


def measure_one(case: str, n: int, out: Path) -> None:
    """Time and peak memory of one case in this (fresh) process; arrays saved for errors."""
    run_case(case, 20)  # imports and first-call set-up are not counted
    system(n)  # nor is the input itself
    counts = _count_cg_iterations()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    energy, forces, charges = run_case(case, n)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    np.savez(
        out,
        energy=energy,
        forces=forces.numpy(),
        charges=np.zeros(0) if charges is None else charges.numpy(),
        seconds=seconds,
        peak_mib=max(peak - before, 0) / 1024.0,
        cg_iterations=np.asarray(counts, dtype=np.int64),
    )


def measure(sizes, max_dense: int, threads: int, scratch: Path) -> dict:
    rows = []
    scratch.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    for n in sizes:
        arrays = {}
        for case in CASES:
            if case in ("ewald", "qeq_dense") and n > max_dense:
                continue
            out = scratch / f"{case}_{n}.npz"
            command = [sys.executable, __file__, "--one", case, str(n), str(out)]
            subprocess.run(command, check=True, env=environment)
            data = np.load(out)
            arrays[case] = data
            rows.append(
                dict(
                    case=case,
                    n=n,
                    seconds=float(data["seconds"]),
                    peak_mib=float(data["peak_mib"]),
                )
            )
            if data["cg_iterations"].size:
                rows[-1]["cg_iterations"] = data["cg_iterations"].tolist()
            print(rows[-1], flush=True)
        for fast, exact in (("pme", "ewald"), ("qeq_cg_pme", "qeq_dense")):
            if fast in arrays and exact in arrays:
                a, b = arrays[fast], arrays[exact]
                error = dict(
                    case=f"error {fast} vs {exact}",
                    n=n,
                    energy_relative=abs(float(a["energy"] - b["energy"])) / abs(float(b["energy"])),
                    force_relative=float(
                        np.abs(a["forces"] - b["forces"]).max() / np.abs(b["forces"]).max()
                    ),
                )
                if a["charges"].size:
                    error["charge_max_abs"] = float(np.abs(a["charges"] - b["charges"]).max())
                rows.append(error)
                print(rows[-1], flush=True)
    return {"rows": rows}


def crossover(rows, fast: str, exact: str):
    """Smallest measured N where the fast case took less time than the exact one."""
    times = {(r["case"], r["n"]): r["seconds"] for r in rows if "seconds" in r}
    for n in sorted({r["n"] for r in rows}):
        if (fast, n) in times and (exact, n) in times and times[fast, n] < times[exact, n]:
            return n
    return None


def growth_exponents(rows, smallest: int = 3000) -> dict:
    """Per case, the slope of log(seconds) against log(N) over the sizes >= `smallest`
    (1: linear), where at least two were measured."""
    slopes = {}
    for case in CASES:
        points = [(r["n"], r["seconds"]) for r in rows if r["case"] == case and "seconds" in r]
        points = [(n, t) for n, t in points if n >= smallest]
        if len(points) >= 2:
            sizes, times = np.log([p[0] for p in points]), np.log([p[1] for p in points])
            slopes[case] = float(np.polyfit(sizes, times, 1)[0])
    return slopes


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for case in CASES:
        rows = [r for r in report["rows"] if r["case"] == case]
        if rows:
            sizes = [r["n"] for r in rows]
            left.loglog(sizes, [r["seconds"] for r in rows], "o-", label=case)
            right.loglog(sizes, [max(r["peak_mib"], 1e-2) for r in rows], "o-", label=case)
    left.set(xlabel="N", ylabel="energy + forces (s)", title="time, 1 thread")
    right.set(xlabel="N", ylabel="peak memory rise (MiB)", title="memory")
    for axis in (left, right):
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000, 3000])
    parser.add_argument("--max-dense", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", default=str(RESULTS / "electrostatics_scaling.json"))
    parser.add_argument(
        "--machine-note", default="", help="what else ran on the machine (recorded as is)"
    )
    parser.add_argument("--one", nargs=3, metavar=("CASE", "N", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        measure_one(args.one[0], int(args.one[1]), Path(args.one[2]))
        return
    from pgnfast._atomic import atomic_path

    output = Path(args.output)
    with tempfile.TemporaryDirectory() as scratch:
        report = measure(args.sizes, args.max_dense, args.threads, Path(scratch))
    report["growth_exponent_n_ge_3000"] = growth_exponents(report["rows"])
    report["crossover_n"] = {
        "energy_forces": crossover(report["rows"], "pme", "ewald"),
        "qeq": crossover(report["rows"], "qeq_cg_pme", "qeq_dense"),
    }
    sys.path.insert(0, str(Path(__file__).parent))
    from provenance import git_commit

    report.update(
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        commit=git_commit(),
        command="python benchmarks/bench_electrostatics.py " + " ".join(argv or sys.argv[1:]),
        threads=args.threads,
        machine_note=args.machine_note,
        torch=torch.__version__,
    )
    with atomic_path(output) as temporary, open(temporary, "w") as handle:
        json.dump(report, handle, indent=2)
    plot(report, output.with_suffix(".png"))
    print(json.dumps(report["crossover_n"]))


@pytest.mark.parametrize("case", CASES)
def test_energy_forces(benchmark, case):
    benchmark(run_case, case, 300)


if __name__ == "__main__":
    main()
