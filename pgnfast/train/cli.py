"""`pgnfast train config.yaml [--resume]`: train a NequIP model (see pgnfast.train.fit)."""

from __future__ import annotations

import json


def add_arguments(parser) -> None:
    parser.add_argument("config", help="training YAML (see examples/train.yaml)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from run_dir/checkpoint.pt to the same result",
    )
    parser.add_argument("--run-dir", default=None, help="override run_dir from the config")
    parser.add_argument("--max-epochs", type=int, default=None, help="override max_epochs")
    parser.add_argument("--dtype", choices=["float32", "float64"], default=None)
    parser.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:K or auto (override device from the config)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    from .config import TrainConfig
    from .fit import fit

    config = TrainConfig.from_yaml(args.config)
    if args.run_dir:
        config.run_dir = args.run_dir
    if args.max_epochs is not None:
        config.max_epochs = args.max_epochs
    if args.dtype:
        config.dtype = args.dtype
    if args.device:
        config.device = args.device
    if args.no_progress:
        config.progress = False
    metrics = fit(config, resume=args.resume)
    if metrics.get("test"):
        print(json.dumps({"run_dir": config.run_dir, "test": metrics["test"]}, indent=2))
    return 0
