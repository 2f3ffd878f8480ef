"""Decorrelation per CPU second: hybrid Monte Carlo against single-particle moves.

    python benchmarks/bench_hmc.py                                  # N = 216 and 1000
    nice python benchmarks/bench_hmc.py --sizes 216 --sweeps 300    # short chains

Two parts, one thread (torch and OpenMP pinned to 1), CPU time of this process
(``time.process_time``, so a shared machine's load does not count):

1. Pair potential (Lennard-Jones, epsilon 1 kT, sigma 1 nm, cutoff 2.5 nm shifted, density
   0.8 nm^-3, T = 1.5): both move kinds of ``pgnfast.mc.ParallelTempering`` from the same
   start, ``--equilibration`` tuning sweeps each, then ``--sweeps`` production sweeps (a
   single-particle sweep is N trial moves, a hybrid sweep one trajectory). Measured: the
   integrated autocorrelation time of the energy (Sokal's window, in sweeps), CPU seconds
   per sweep, the mean squared displacement per particle per sweep (unwrapped positions),
   and from them independent energy samples per CPU second and nm^2 per CPU second.
2. NequIP of the accurate architecture (r_max 48 nm, 2 layers, l_max 2, 32 features, 8
   Bessel, radial MLP 1 x 64, float32, fused cpu backend) in the PGN melt box of the default
   design: CPU seconds of a single-particle sweep (from ``--nequip-moves`` trial moves) and
   of one hybrid trajectory of the pair part's tuned length (energies and forces of all N
   per step, measured through the engine). Untrained weights cost the same as trained ones
   (``--model`` takes a model file) but give no physical sampling, so the NequIP ratio is an
   estimate: the pair part's autocorrelation times and displacements per sweep combined with
   the NequIP costs per sweep.

Writes benchmarks/results/hmc_vs_local/hmc_vs_local.json and .png.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provenance import git_commit  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "hmc_vs_local"


def integrated_autocorrelation_time(series, window_factor: float = 5.0) -> float:
    """tau = 1 + 2 sum_t rho(t) (in samples), summed up to Sokal's window M >= c tau."""
    x = np.asarray(series, dtype=np.float64) - np.mean(series)
    n = len(x)
    if n < 4 or np.var(x) == 0:
        return float("nan")
    spectrum = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    rho = acf / acf[0]
    tau = 1.0
    for m in range(1, n):
        tau = 1.0 + 2.0 * np.sum(rho[1 : m + 1])
        if m >= window_factor * tau:
            break
    return float(max(tau, 1.0))


def lattice(n: int, density: float, seed: int = 0, jitter: float = 0.05):
    """Jittered simple-cubic positions (n, 3) nm in a cubic cell of density n/V."""
    side = int(np.ceil(n ** (1 / 3)))
    box = (n / density) ** (1 / 3)
    grid = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)[:n]
    noise = np.random.default_rng(seed).normal(0.0, jitter * box / side, (n, 3))
    return (grid + 0.5) * box / side + noise, np.eye(3) * box


class Recorder:
    """Writer keeping the energy (kT) and unwrapped positions (nm) after every sweep."""

    def __init__(self):
        self.energies, self.positions = [], []

    def open(self, engine):
        pass

    def write(self, engine):
        self.energies.append(float(engine.energy_by_temperature()[0]))
        self.positions.append(engine.replicas[0].positions.copy())

    def close(self):
        pass


def pair_chain(moves: str, n: int, args) -> dict:
    """Equilibrate and run one chain of `moves` with the Lennard-Jones fluid."""
    from pgnfast.mc import ParallelTempering
    from pgnfast.potentials import LennardJones

    positions, cell = lattice(n, args.density)
    potential = LennardJones(epsilon=1.0, sigma=1.0, cutoff=2.5, shift=True)
    engine = ParallelTempering(
        potential,
        positions,
        cell,
        [args.temperature],
        seed=args.seed,
        moves=moves,
        equilibration_sweeps=args.equilibration,
        hybrid={"target_acceptance": 0.7} if moves == "hybrid" else None,
    )
    start = time.process_time()
    engine.run(args.equilibration, quench_lowest=False, progress=False)
    equilibration_cpu = time.process_time() - start
    recorder = Recorder()
    start = time.process_time()
    summary = engine.run(args.sweeps, writers=[recorder], quench_lowest=False, progress=False)
    cpu = time.process_time() - start
    energies = np.array(recorder.energies)
    displacement = recorder.positions[-1] - recorder.positions[0]
    msd_total = float(np.mean(np.sum(displacement**2, axis=1)))
    tau = integrated_autocorrelation_time(energies)
    cpu_per_sweep = cpu / args.sweeps
    result = {
        "moves": moves,
        "n": n,
        "sweeps": args.sweeps,
        "equilibration_sweeps": args.equilibration,
        "equilibration_cpu_s": equilibration_cpu,
        "production_cpu_s": cpu,
        "cpu_s_per_sweep": cpu_per_sweep,
        "acceptance": float(summary.acceptance[0]),
        "mean_energy_per_particle": float(np.mean(energies) / n),
        "energy_iat_sweeps": tau,
        "msd_nm2_per_sweep": msd_total / args.sweeps,
        "independent_samples_per_cpu_s": 1.0 / (tau * cpu_per_sweep),
        "msd_nm2_per_cpu_s": msd_total / cpu,
        "mode": engine.mode,
        "density": args.density,
        "temperature": args.temperature,
        "seed": args.seed,
        "energy_series": energies.tolist(),
    }
    if moves == "hybrid":
        result["time_step"] = float(engine.hybrid_time_steps[0])
        result["steps"] = int(engine.hybrid_steps[0])
    else:
        result["step_size_nm"] = float(engine.step_sizes[0])
    return result


def _same_chain(entry: dict, moves: str, n: int, args) -> bool:
    """Whether a recorded chain was run with these settings."""
    wanted = {
        "moves": moves,
        "n": n,
        "sweeps": args.sweeps,
        "equilibration_sweeps": args.equilibration,
        "density": args.density,
        "temperature": args.temperature,
        "seed": args.seed,
    }
    return all(entry.get(key, value) == value for key, value in wanted.items())


def nequip_costs(n: int, steps: int, args) -> dict:
    """CPU s of a single-particle sweep and of one hybrid trajectory with `steps` steps."""
    import torch

    from pgnfast.dft.design import default_design
    from pgnfast.mc import ParallelTempering
    from pgnfast.nn.model import NequIP
    from pgnfast.nn.potential import Potential

    torch.set_num_threads(1)
    torch.manual_seed(0)
    if args.model:
        potential = Potential(args.model)
    else:
        model = NequIP(
            r_max=48.0, num_layers=2, l_max=2, num_features=32, num_bessel=8,
            radial_mlp_depth=1, radial_mlp_width=64, avg_num_neighbors=45.0, backend="cpu",
        )  # fmt: skip
        potential = Potential(model.float())
    design = default_design()
    density = n / design.box_volume([n] + [0] * (design.n_types - 1))
    positions, cell = lattice(n, density)
    single = ParallelTempering(
        potential, positions, cell, [1.0], seed=0, moves_per_sweep=args.nequip_moves,
        equilibration_sweeps=0, step_size=1.0,
    )  # fmt: skip
    start = time.process_time()
    single.run(1, quench_lowest=False, progress=False)
    per_move = (time.process_time() - start) / args.nequip_moves
    hybrid = ParallelTempering(
        potential, positions, cell, [1.0], seed=0, moves="hybrid", equilibration_sweeps=0,
        hybrid={"time_step": 1e-4, "steps": steps},
    )  # fmt: skip
    start = time.process_time()
    hybrid.run(args.nequip_trajectories, quench_lowest=False, progress=False)
    per_trajectory = (time.process_time() - start) / args.nequip_trajectories
    return {
        "n": n,
        "box_nm": float(cell[0, 0]),
        "receptive_field_nm": float(potential.receptive_field),
        "single_mode": single.mode,
        "cpu_s_per_move": per_move,
        "cpu_s_per_single_sweep": per_move * n,
        "hybrid_steps": steps,
        "cpu_s_per_trajectory": per_trajectory,
        "cpu_s_per_force_call": per_trajectory / (steps + 1),
        "model": args.model or "untrained (accurate architecture)",
    }


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for entry in results["pair"]:
        label = f"N={entry['n']} {entry['moves']}"
        series = np.asarray(entry["energy_series"])
        x = series - series.mean()
        acf = np.correlate(x, x, "full")[len(x) - 1 :]
        acf = acf / acf[0]
        lags = np.arange(len(acf)) * entry["cpu_s_per_sweep"]
        axes[0].plot(lags[: len(acf) // 2], acf[: len(acf) // 2], label=label)
    axes[0].axhline(0, color="gray", lw=0.5)
    axes[0].set_xlabel("lag (CPU s)")
    axes[0].set_ylabel("energy autocorrelation")
    axes[0].set_title("Lennard-Jones fluid")
    axes[0].set_xscale("symlog", linthresh=1.0)
    axes[0].set_xlim(left=0.0)
    axes[0].legend()
    names, values = [], []
    for ratio in results["ratios"]:
        names.append(f"{ratio['potential']}\nN={ratio['n']}")
        values.append(ratio["independent_samples_ratio"])
    axes[1].bar(range(len(values)), values)
    axes[1].set_xticks(range(len(values)), names)
    axes[1].set_yscale("log")
    axes[1].axhline(1, color="gray", lw=0.5)
    axes[1].set_ylabel("hybrid / single: independent samples per CPU s")
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[216, 1000])
    parser.add_argument("--sweeps", type=int, default=2000, help="production sweeps per chain")
    parser.add_argument("--equilibration", type=int, default=200)
    parser.add_argument("--density", type=float, default=0.8, help="LJ density, nm^-3")
    parser.add_argument("--temperature", type=float, default=1.5, help="LJ temperature, kT")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nequip-moves", type=int, default=100)
    parser.add_argument("--nequip-trajectories", type=int, default=2)
    parser.add_argument("--no-nequip", action="store_true")
    parser.add_argument("--model", default=None, help="NequIP model file (default untrained)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--reuse-single",
        action="store_true",
        help="take the single-particle chains from the JSON in --out (same N, sweeps, "
        "equilibration, density, temperature, seed) instead of rerunning them",
    )
    args = parser.parse_args(argv)
    previous = []
    if args.reuse_single:
        previous = json.loads((args.out / "hmc_vs_local.json").read_text())["pair"]
    import torch

    torch.set_num_threads(1)
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": platform.platform(),
        "threads": 1,
        "command": " ".join(["python", "benchmarks/bench_hmc.py", *(argv or sys.argv[1:])]),
        "pair": [],
        "nequip": [],
        "ratios": [],
    }
    for n in args.sizes:
        chains = {}
        for moves in ("single", "hybrid"):
            reused = [
                entry
                for entry in previous
                if moves == "single" and _same_chain(entry, moves, n, args)
            ]
            chains[moves] = dict(reused[-1], reused=True) if reused else pair_chain(moves, n, args)
            results["pair"].append(chains[moves])
            entry = chains[moves]
            print(
                f"LJ N={n} {moves}: {entry['cpu_s_per_sweep']:.4g} CPU s/sweep, "
                f"tau_E {entry['energy_iat_sweeps']:.3g} sweeps, acceptance "
                f"{entry['acceptance']:.2f}, MSD {entry['msd_nm2_per_sweep']:.3g} nm^2/sweep"
            )
        single, hybrid = chains["single"], chains["hybrid"]
        results["ratios"].append(
            {
                "potential": "lennard_jones",
                "n": n,
                "independent_samples_ratio": hybrid["independent_samples_per_cpu_s"]
                / single["independent_samples_per_cpu_s"],
                "msd_ratio": hybrid["msd_nm2_per_cpu_s"] / single["msd_nm2_per_cpu_s"],
                "measured": True,
            }
        )
        if not args.no_nequip:
            costs = nequip_costs(n, hybrid["steps"], args)
            results["nequip"].append(costs)
            sweeps_ratio = single["energy_iat_sweeps"] / hybrid["energy_iat_sweeps"]
            cost_ratio = costs["cpu_s_per_single_sweep"] / costs["cpu_s_per_trajectory"]
            msd_ratio = hybrid["msd_nm2_per_sweep"] / single["msd_nm2_per_sweep"]
            results["ratios"].append(
                {
                    "potential": "nequip_accurate",
                    "n": n,
                    "independent_samples_ratio": sweeps_ratio * cost_ratio,
                    "msd_ratio": msd_ratio * cost_ratio,
                    "measured": False,
                    "note": "NequIP costs per sweep x the LJ part's autocorrelation times and "
                    "displacements per sweep (untrained weights sample nothing physical)",
                }
            )
            print(
                f"NequIP N={n}: single sweep {costs['cpu_s_per_single_sweep']:.4g} CPU s "
                f"({costs['single_mode']}), trajectory of {costs['hybrid_steps']} steps "
                f"{costs['cpu_s_per_trajectory']:.4g} CPU s"
            )
    for ratio in results["ratios"]:
        print(
            f"{ratio['potential']} N={ratio['n']}: hybrid/single independent samples per CPU "
            f"s {ratio['independent_samples_ratio']:.3g}, MSD per CPU s {ratio['msd_ratio']:.3g}"
            + ("" if ratio["measured"] else " (estimate)")
        )
    from pgnfast._atomic import atomic_path

    with atomic_path(args.out / "hmc_vs_local.json") as temporary:
        temporary.write_text(json.dumps(results, indent=1))
    with atomic_path(args.out / "hmc_vs_local.png") as temporary:
        plot(results, temporary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
