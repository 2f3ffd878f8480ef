"""`pgnfast label`: generate configurations of a design and label them with the PGN DFT."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--design", required=True, help="design YAML (nm, chains/nm^2)")
    parser.add_argument("--n-particles", type=int, required=True)
    parser.add_argument("--n-configs", type=int, required=True)
    parser.add_argument("--out", required=True, help="dataset directory")
    parser.add_argument("--kind", default="mixed", help="configuration kind (default mixed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spacing", type=float, default=None, help="grid spacing, nm")
    parser.add_argument("--tol", type=float, default=1e-10)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, help="local worker processes")
    where.add_argument("--scheduler", default=None, help="dask scheduler tcp://HOST:PORT")


def run(args) -> int:
    from pgnfast.data.farm import label
    from pgnfast.dft.design import PGNDesign

    from .configurations import random_configurations

    design = PGNDesign.from_yaml(args.design)
    configs = random_configurations(
        design, args.n_particles, args.n_configs, seed=args.seed, kind=args.kind
    )
    client = executor = None
    if args.scheduler:
        from dask.distributed import Client

        client = Client(args.scheduler)
        executor = client.get_executor()
    try:
        out = label(
            configs,
            design,
            args.out,
            executor=executor,
            workers=args.workers,
            spacing=args.spacing,
            tol=args.tol,
        )
    finally:
        if client is not None:
            client.close()
    print(f"dataset written to {out}")
    return 0
