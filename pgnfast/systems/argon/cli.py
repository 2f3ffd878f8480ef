"""`pgnfast argon`: Lennard-Jones argon from training data to phonons, the vacancy and hop
rates, with the exact potential, NequIP and the direct-force baseline side by side.

Writes `report.md`, `summary.json` and the plots into `--out` (default `argon-out`).
Staged and resumable: a rerun reuses every finished stage. `--quick` (about 5 minutes on 2
cores) or the default sizes (about 15), or `--config FILE` (a YAML of ArgonRunConfig
sections; `examples/argon.yaml` has the study's sizes). See docs/argon.md.
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("--out", default="argon-out", help="output folder (default: argon-out)")
    parser.add_argument(
        "--quick", action="store_true", help="CI sizes (about 5 minutes on a 2-core laptop)"
    )
    parser.add_argument(
        "--config",
        default=None,
        help="YAML file of ArgonRunConfig sections (data, models, phonons, spectra, vacancy, "
        "drift, hops); over the --quick sizes when both are given",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--no-progress", action="store_true", help="no progress output")


def load_config(path=None, quick: bool = False, threads=None, progress: bool = True):
    """The ArgonRunConfig of the command line."""
    import dataclasses

    from .config import ArgonRunConfig

    base = ArgonRunConfig.quick() if quick else ArgonRunConfig.default()
    if path is not None:
        from ..._config import read_yaml
        from ...errors import InputError

        try:
            base = ArgonRunConfig.from_dict(read_yaml(path), base)
        except InputError as error:
            raise InputError(f"{path}: {error}") from error
    changes = {"progress": bool(progress)}
    if threads is not None:
        changes["threads"] = threads
    return dataclasses.replace(base, **changes)


def run(args) -> int:
    import json

    from .run import run_argon

    config = load_config(args.config, args.quick, args.threads, not args.no_progress)
    summary = run_argon(config, args.out)
    models = summary["models"]
    print(
        json.dumps(
            {
                "report": f"{args.out}/report.md",
                "frequency_error_percent_X_L": {
                    name: entry["frequency_error_percent"] for name, entry in models.items()
                },
                "migration_energy_neb_eV": {
                    name: entry["vacancy"].get("migration_energy_neb")
                    for name, entry in models.items()
                },
                "wall_s": summary["timings"]["this_run_wall_s"],
            },
            indent=2,
        )
    )
    return 0
