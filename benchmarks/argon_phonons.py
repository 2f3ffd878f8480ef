"""Argon phonons at 0 K (issue 14): the Hessian's cost by autograd against finite
differences of forces, for pgnfast's exact Lennard-Jones and a small untrained NequIP, and
the exact potential's dispersion, DOS and frequencies at X and L (phonopy).

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 nice python benchmarks/argon_phonons.py \
        [--sizes 256 864] [--out DIR] [--spectra quick|full]

Sizes are atom counts of n x n x n conventional fcc cells (4 n^3: 256, 864). Writes
argon_phonons.json, hessian_times.png and dispersion_dos.png to OUT (default
benchmarks/results/argon_phonons); with --spectra (and --sizes given or not), also the exact
potential's finite-temperature spectra (pgnfast.systems.argon.spectra) in OUT/spectra.
One thread; on a shared machine the JSON says so.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from provenance import git_commit  # noqa: E402

from pgnfast._atomic import write_json  # noqa: E402
from pgnfast.analysis.hessian import (  # noqa: E402
    asymmetry,
    hessian_autograd,
    hessian_finite_differences,
    lennard_jones_energy,
    lennard_jones_hessian,
    model_hessian,
)
from pgnfast.nn.potential import Potential  # noqa: E402
from pgnfast.systems.argon.phonons import (  # noqa: E402
    POINTS,
    compute_phonons,
    fcc_supercell,
    lj_direct_frequencies,
    lj_fcc_lattice_constant,
    phonon_model,
    plot_phonons,
    relax_lattice_constant,
)
from pgnfast.systems.argon.reference import CUTOFF, EPSILON, SIGMA, argon_lj  # noqa: E402
from pgnfast.testing import small_model  # noqa: E402

DEFAULT_OUT = Path(__file__).parent / "results" / "argon_phonons"
STEP = 1e-3  # Angstrom, finite-difference displacement


CPU_TIMES = {}  # wall seconds -> the process CPU seconds of the same call


def timed(function):
    """(value, wall seconds); the call's CPU seconds go to CPU_TIMES (on a shared machine the
    CPU time is the measure, the wall time an upper bound)."""
    start, cpu = time.perf_counter(), time.process_time()
    value = function()
    wall = time.perf_counter() - start
    CPU_TIMES[wall] = time.process_time() - cpu
    return value, wall


def with_cpu(row: dict) -> dict:
    """row with a "<name>_cpu_s" beside each "<name>_s" wall time."""
    extra = {k[:-2] + "_cpu_s": CPU_TIMES[v] for k, v in row.items() if k.endswith("_s")}
    return {**row, **extra}


def nequip():
    """A small untrained NequIP for argon (one type, r_max 6 A: two neighbour shells)."""
    return small_model(
        torch.float64, seed=0, num_types=1, r_max=6.0, avg_num_neighbors=18.0, backend="auto"
    ).eval()


def exact_rows(positions, cell):
    lj = (EPSILON, SIGMA, CUTOFF)
    analytic, t_analytic = timed(lambda: lennard_jones_hessian(positions, cell, *lj))
    automatic, t_auto = timed(
        lambda: hessian_autograd(lambda x: lennard_jones_energy(x, cell, *lj), positions).numpy()
    )
    potential = argon_lj()
    finite, t_fd = timed(
        lambda: hessian_finite_differences(
            lambda x: potential.energy_forces(x, cell, None, True)[1], positions, STEP
        )
    )
    scale = np.abs(analytic).max()
    return with_cpu(
        {
            "analytic_s": t_analytic,
            "autograd_s": t_auto,
            "finite_differences_s": t_fd,
            "autograd_max_error": float(np.abs(automatic - analytic).max() / scale),
            "finite_differences_max_error": float(np.abs(finite - analytic).max() / scale),
            "finite_differences_asymmetry": asymmetry(finite),
        }
    )


def nequip_rows(positions, cell, finite_differences=True, chunk_size=32):
    model = nequip()
    potential = Potential(model)
    automatic, t_auto = timed(
        lambda: model_hessian(model, positions, cell, None, True, chunk_size=chunk_size).numpy()
    )
    row = {
        "autograd_s": t_auto,
        "autograd_asymmetry": asymmetry(automatic),
        "chunk_size": chunk_size,
    }
    if finite_differences:
        finite, t_fd = timed(
            lambda: hessian_finite_differences(
                lambda x: potential.energy_forces(x, cell, None, True)[1], positions, STEP
            )
        )
        scale = np.abs(automatic).max()
        row.update(
            finite_differences_s=t_fd,
            finite_differences_max_error=float(np.abs(finite - automatic).max() / scale),
            finite_differences_asymmetry=asymmetry(finite),
        )
    return with_cpu(row)


def exact_phonons(out):
    model = phonon_model()
    relaxation = relax_lattice_constant(model, n_cells=3)
    result = compute_phonons(model, relaxation, n_cells=4, band_points=51, mesh=20)
    a = relaxation.lattice_constant
    direct = {
        name: lj_direct_frequencies(
            np.array(POINTS[name]) * 2 * np.pi / a, a, EPSILON, SIGMA, CUTOFF
        )
        for name in ("X", "L")
    }
    plot_phonons([result], out / "dispersion_dos.png")
    return {
        **result.summary(),
        "analytic_lattice_constant": lj_fcc_lattice_constant(EPSILON, SIGMA, CUTOFF),
        "direct_frequencies_thz": {name: values.tolist() for name, values in direct.items()},
        "phonopy_minus_direct_max_thz": max(
            float(np.abs(np.subtract(result.at_points[name], direct[name])).max())
            for name in direct
        ),
    }


def exact_spectra(out, quick):
    """The exact potential's finite-temperature spectra (X and L peaks per temperature)."""
    from pgnfast.md.calculator import PotentialCalculator
    from pgnfast.systems.argon.spectra import SpectraConfig, run_spectra

    model = phonon_model()
    relaxation = relax_lattice_constant(model, n_cells=3)
    zero = compute_phonons(model, relaxation, n_cells=4, band_points=3, mesh=4).at_points
    config = SpectraConfig.quick() if quick else SpectraConfig()
    models = {"exact LJ": (PotentialCalculator(argon_lj()), relaxation.lattice_constant)}
    summary, _ = run_spectra(models, config, out, {"exact LJ": zero}, progress=False)
    shutil.rmtree(out / "md")  # the MD checkpoints (10 MB a temperature) are not results
    for temperature, entry in summary["models"]["exact LJ"]["temperatures"].items():
        peaks = {
            f"{point} {branch[0].upper()}": (
                round(fit.get("frequency", np.nan), 4),
                round(fit.get("width", np.nan), 4),
            )
            for point, branches in entry["peaks"].items()
            for branch, fit in branches.items()
        }
        print(f"{temperature} K", round(entry["mean_temperature"], 1), peaks, flush=True)


def plot_times(rows, path):
    figure, axis = plt.subplots(figsize=(6, 4))
    for model, marker in (("exact LJ", "o"), ("NequIP", "s")):
        for method, colour in (
            ("autograd_cpu_s", "C0"),
            ("finite_differences_cpu_s", "C1"),
            ("analytic_cpu_s", "C2"),
        ):
            points = [(r["atoms"], r[model][method]) for r in rows if method in r[model]]
            if points:
                x, y = zip(*points)
                axis.loglog(x, y, marker=marker, color=colour, label=f"{model}, {method[:-6]}")
    axis.set(xlabel="atoms", ylabel="Hessian CPU time (s), one thread", title="argon Hessian")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[256, 864])
    parser.add_argument("--spectra", choices=("quick", "full"), default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--nequip-fd-max", type=int, default=864, help="largest N for NequIP finite differences"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    a = lj_fcc_lattice_constant(EPSILON, SIGMA, CUTOFF)
    rows = []
    for atoms in args.sizes:
        n_cells = round((atoms / 4) ** (1 / 3))
        if 4 * n_cells**3 != atoms:
            parser.error(f"size {atoms} is not 4 n^3")
        positions, cell = fcc_supercell(a, n_cells)
        positions = positions + np.random.default_rng(0).normal(0, 0.02, positions.shape)
        row = {"atoms": atoms, "exact LJ": exact_rows(positions, cell)}
        row["NequIP"] = nequip_rows(positions, cell, atoms <= args.nequip_fd_max)
        print(atoms, row, flush=True)
        rows.append(row)
    if args.spectra:
        exact_spectra(args.out / "spectra", args.spectra == "quick")
    if not rows:
        return
    plot_times(rows, args.out / "hessian_times.png")
    result = {
        "benchmark": "argon_phonons",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "device": f"cpu ({platform.processor() or platform.machine()}), 1 thread",
        "load_average": os.getloadavg(),
        "note": "load average at the end above (this benchmark counts 1); on a shared, "
        "loaded machine the timings are upper bounds",
        "finite_difference_step_angstrom": STEP,
        "positions": "perfect fcc at the exact a0 with 0.02 A Gaussian jitter (seed 0)",
        "hessian": rows,
        "exact_phonons": exact_phonons(args.out),
    }
    write_json(args.out / "argon_phonons.json", result)
    print(result["exact_phonons"])


if __name__ == "__main__":
    main()
