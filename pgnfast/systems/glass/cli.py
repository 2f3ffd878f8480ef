"""`pgnfast glass`: the metallic-glass barrier workflow.

pgnfast glass convert DATA_FOLDER OUT_FOLDER       pickles -> extxyz with labels
pgnfast glass train CONFIG.yaml [--data FOLDER]    a per-atom barrier model
pgnfast glass predict MODEL GLASS.extxyz [--out OUT.extxyz]
"""

from __future__ import annotations

import json


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="glass_command", metavar="SUBCOMMAND", required=True)
    convert = sub.add_parser(
        "convert",
        help="convert the glass pickles to extxyz with per-atom label columns",
        description="convert the glass pickles to extxyz with per-atom label columns",
    )
    from . import convert_cli

    convert_cli.add_arguments(convert)

    train = sub.add_parser(
        "train",
        help="train a per-atom barrier model (see examples/glass.yaml)",
        description="train a per-atom barrier model on glasses written by `glass convert`",
    )
    train.add_argument("config", help="glass training YAML (see examples/glass.yaml)")
    train.add_argument(
        "--data",
        default=None,
        help="folder written by `pgnfast glass convert` (default: `data` in the config, "
        "relative to the config's folder)",
    )
    train.add_argument("--run-dir", default=None, help="override run_dir from the config")
    train.add_argument("--max-epochs", type=int, default=None, help="override max_epochs")
    train.add_argument(
        "--max-wall-time", type=float, default=None, help="seconds (override max_wall_time)"
    )
    train.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")

    predict = sub.add_parser(
        "predict",
        help="write a copy of a glass with the predicted per-atom barrier (eV)",
        description="predict the per-atom barrier (eV) of a periodic Cu/Zr extxyz file",
    )
    predict.add_argument("model", help="model file (run_dir/best_model.pt of `glass train`)")
    predict.add_argument("glass", help="periodic extxyz of Cu and Zr atoms")
    predict.add_argument(
        "--out",
        default=None,
        help="output extxyz (default: GLASS.predicted.extxyz beside the input)",
    )
    predict.add_argument(
        "--backend", default="cpu", help="tp_conv backend (default: cpu, the fused kernels)"
    )


def run(args) -> int:
    if args.glass_command == "convert":
        from . import convert_cli

        return convert_cli.run(args)
    if args.glass_command == "train":
        return _train(args)
    return _predict(args)


def _train(args) -> int:
    from .train import glass_training_config, train_glass_model

    config = glass_training_config(args.config, data=args.data, run_dir=args.run_dir)
    if args.max_epochs is not None:
        config.max_epochs = args.max_epochs
    if args.max_wall_time is not None:
        config.max_wall_time = args.max_wall_time
    if args.no_progress:
        config.progress = False
    config.check()
    print(f"training on {config.data} -> {config.run_dir}")
    metrics = train_glass_model(config, resume=args.resume)
    if metrics.get("interrupted"):
        print(f"stopped after step {metrics['step']}; continue with --resume")
        return 0
    summary = {
        split: metrics[split]["per_atom"]["barrier"]["pooled"]
        for split in ("train", "validation", "test")
        if split in metrics
    }
    print(json.dumps({"run_dir": config.run_dir, "barrier": summary}, indent=2))
    return 0


def _predict(args) -> int:
    from .predict import predict_file

    result = predict_file(args.model, args.glass, args.out, backend=args.backend)
    print(
        f"predicted the barriers of {result['atoms']} atoms ({result['frames']} frame(s)) in "
        f"{result['seconds']:.3f} s, CPU time {result['cpu_seconds']:.3f} s (neighbour lists "
        f"and model, {args.backend} backend, "
        f"{result['threads']} threads; loading {result['load_seconds']:.2f} s) -> "
        f"{result['out']}"
    )
    return 0
