"""`pgnfast demo`: the whole PGN study in miniature on the embedded bidisperse design.

DFT labels (local worker processes) -> a small NequIP -> parallel tempering with it at a
larger N than the DFT's, and with the best pair potential fitted to the same labels ->
g(r), S(q), icosahedral order of both -> `pgnfast-demo/report.md`,
`summary.json` and PNGs. No services, no GPU, no network. Rerunning with the same seed
gives the same numbers; an interrupted run resumes (labels and checkpoints are reused).
See docs/demo.md.
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument(
        "--out", default="pgnfast-demo", help="output folder (default: pgnfast-demo)"
    )
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes (about a third of the time)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="labeling processes (default: one per core)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress output")


def run(args) -> int:
    import json

    from .config import demo_config
    from .run import run_pipeline

    config = demo_config(seed=args.seed, quick=args.quick)
    config.labels.workers = args.workers
    config.progress = not args.no_progress
    summary = run_pipeline(config, args.out)
    test = summary["train"]["test"]
    print(
        json.dumps(
            {
                "report": f"{args.out}/report.md",
                "test_energy_per_particle_rmse_kT": test.get("energy_per_particle_rmse_kT"),
                "test_forces_rmse_kT_per_nm": test.get("forces_rmse_kT_per_nm"),
                "dft_over_model_cost": summary["cost"]["speedup_batched"],
                "gr_difference_model_vs_dft": summary["compare"]["gr_difference_model_vs_dft"],
                "icosahedral_fraction_lowest_T": summary["analysis"][
                    "icosahedral_fraction_lowest_T"
                ],
                "icosahedral_fraction_random": summary["analysis"]["icosahedral_fraction_random"],
                "wall_s": summary["timings"]["this_run_wall_s"],
                "cpu_s": summary["timings"]["this_run_cpu_s"],
            },
            indent=2,
        )
    )
    return 0
