"""`pgnfast study-pgn config.yaml`: the PGN study over several designs (grafting density,
chain length, ...), each through the same pipeline as `pgnfast demo`, at the sizes the YAML
gives. See examples/study-pgn/ and docs/demo.md.

Writes `<output>/<design name>/` (the pipeline's folders, report.md, summary.json, PNGs)
and `<output>/study.md`, `study.json` and `icosahedral_fraction_by_design.png` comparing the
designs. Labels run on a Dask cluster with `--scheduler tcp://HOST:8786` (or `scheduler:`
in the YAML; `local` starts a LocalCluster on this machine). Training on several GPUs or
processes: launch the same command with `torchrun --nproc_per_node=K -m pgnfast.cli
study-pgn config.yaml --stages labels train` after the labels exist.
"""

from __future__ import annotations

import json
from pathlib import Path

from .stages import STAGES


def add_arguments(parser) -> None:
    parser.add_argument("config", help="study YAML (see examples/study-pgn/)")
    parser.add_argument(
        "--scheduler", default=None, help="dask.distributed address for labeling, or 'local'"
    )
    parser.add_argument(
        "--designs",
        nargs="+",
        default=None,
        metavar="NAME",
        help="run only these designs (default: all)",
    )
    parser.add_argument(
        "--stages",
        nargs="+",
        default=None,
        choices=STAGES,
        help="run only these stages (the others must be done already)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress output")


def compare_designs(summaries: dict, out_dir) -> None:
    """study.md, study.json and a plot of icosahedral fraction against T per design."""
    from .plots import plot_designs
    from .stages.helpers import plain

    out = Path(out_dir)
    rows = []
    header = (
        "| design | core radii (nm) | sigma (1/nm^2) | chain N | test E/N RMSE (kT) | "
        "test F RMSE (kT/nm) | DFT/model cost | g(r) diff vs DFT | ico. fraction "
        "lowest T / random |"
    )
    lines = [header, "|" + "---|" * 9]
    for name, s in summaries.items():
        test = s["train"]["test"] or s["train"]["validation"]
        row = {
            "design": name,
            **s["design"],
            "test_energy_per_particle_rmse_kT": test["energy_per_particle_rmse_kT"],
            "test_forces_rmse_kT_per_nm": test.get("forces_rmse_kT_per_nm"),
            "speedup_batched": s["cost"]["speedup_batched"],
            "gr_difference_model_vs_dft": s["compare"]["gr_difference_model_vs_dft"],
            "icosahedral_fraction_lowest_T": s["analysis"]["icosahedral_fraction_lowest_T"],
            "icosahedral_fraction_random": s["analysis"]["icosahedral_fraction_random"],
        }
        rows.append(row)
        lines.append(
            f"| {name} | {s['design']['core_radius']} | {s['design']['grafting_density']} | "
            f"{s['design']['chain_length']} | {row['test_energy_per_particle_rmse_kT']:.3g} | "
            f"{(row['test_forces_rmse_kT_per_nm'] or float('nan')):.3g} | "
            f"{row['speedup_batched']:.3g} | {row['gr_difference_model_vs_dft']:.3g} | "
            f"{row['icosahedral_fraction_lowest_T']:.3g} / "
            f"{row['icosahedral_fraction_random']:.3g} |"
        )
    (out / "study.md").write_text("# PGN study: designs compared\n\n" + "\n".join(lines) + "\n")
    (out / "study.json").write_text(json.dumps(plain(rows), indent=2))
    plot_designs(out / "icosahedral_fraction_by_design.png", summaries)


def run(args) -> int:
    from .config import StudyConfig
    from .run import Pipeline

    study = StudyConfig.from_yaml(args.config)
    if args.scheduler:
        study.scheduler = args.scheduler
    out = Path(study.output)
    summaries = {}
    for config in study.pipelines():
        if args.designs and config.name not in args.designs:
            continue
        if args.no_progress:
            config.progress = False
        print(f"== design {config.name}: {config.design}", flush=True)
        summary = Pipeline(config, out / config.name).run(stages=args.stages)
        if summary is not None:
            summaries[config.name] = summary
    if summaries and not args.stages:
        compare_designs(summaries, out)
        print(f"study table: {out / 'study.md'}")
    return 0
