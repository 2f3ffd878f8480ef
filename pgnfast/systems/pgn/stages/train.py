"""Stage 2, train: a NequIP model on the labels (`pgnfast.train.fit`), resumed from its
checkpoint after an interruption; metrics, learning curve and parity plots. The model file
records the design it was trained for (metadata "pgn_design") and PGN units (nm, kT)."""

from __future__ import annotations

from pathlib import Path

from .helpers import plain, thread_count
from .runner import process_rank

NAME = "train"
TITLE = "training NequIP"
INPUTS = ("labels",)
READS = ("seed", "design", "train")
SETTINGS = ("threads", "progress")
OUTPUTS = ("best_model.pt", "metrics.json")
PLOTS = ("parity_energy.png", "parity_forces.png", "learning_curve.png")


def run(config, folder: Path, inputs: dict) -> dict:
    """Train into `folder`; the test, validation and training metrics and the model size.
    Under torchrun every rank trains; only rank 0 returns results."""
    from pgnfast.nn.io import load_model
    from pgnfast.train import TrainConfig, fit

    values = config.train
    values.update(
        data=str(inputs["labels"].folder / "dataset"),
        run_dir=str(folder),
        seed=config.seed,
        progress=config.progress,
        plots=True,
        num_threads=thread_count(config),
        metadata={"pgn_design": config.pgn_design().to_dict()},
        units="pgn",
    )
    train_config = TrainConfig.from_dict(values)
    metrics = fit(train_config, resume=(folder / "checkpoint.pt").exists())
    if process_rank() > 0:  # torchrun: rank 0 evaluates and writes
        return {}
    model = load_model(folder / "best_model.pt", units="pgn")
    return plain(
        {
            "test": metrics.get("test", {}),
            "validation": metrics.get("validation", {}),
            "train": metrics.get("train", {}),
            "best_epoch": metrics["best_epoch"],
            "epochs": metrics["epochs"],
            "steps": metrics["steps"],
            "n_parameters": int(sum(p.numel() for p in model.parameters())),
            "receptive_field_nm": float(model.receptive_field),
            "hyperparameters": dict(train_config.model),
        }
    )
