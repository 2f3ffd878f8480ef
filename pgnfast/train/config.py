"""Training configuration: a dataclass read from / written to YAML."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import yaml

MODEL_DEFAULTS = dict(
    num_layers=4,
    l_max=1,
    parity=True,
    num_features=32,
    num_bessel=8,
    polynomial_cutoff_p=6,
    radial_mlp_depth=1,
    radial_mlp_width=128,
)


@dataclass
class TrainConfig:
    """Everything a training run needs (units: nm, kT).

    data: extxyz path, glob or list of them. run_dir: output folder. model: NequIP
    hyperparameters (r_max in nm, ...; type names, avg_num_neighbors and per-type scale/shift
    come from the data). split: fractions (or counts) for train/validation/test.
    energy_weight / force_weight: loss weights on per-particle energy (kT^2) and force
    components ((kT/nm)^2); force_weight 0 trains on energies only. ema_decay: 0 disables EMA.
    lr_patience / lr_factor / lr_threshold: the plateau schedule multiplies the learning rate
    by lr_factor after lr_patience epochs whose validation loss improved by less than the
    relative lr_threshold (read from the config also on --resume).
    checkpoint_every: steps between atomic checkpoints. max_wall_time: seconds; training
    stops (and is evaluated as finished) at the first epoch end past it, None for no limit;
    --resume with a larger max_wall_time (or max_epochs) continues a run stopped by it.
    device: "cpu", "cuda", "cuda:K" or "auto" (under torchrun each process takes the GPU of
    its LOCAL_RANK). stop_after_steps: end the process abruptly after this many optimizer
    steps in this run (simulates a kill, for tests). init_from: a model file (save_model)
    whose weights start a new run, to fine-tune it (with other loss weights or schedule);
    its hyperparameters must match `model` and the data's.
    """

    data: str | list = ""
    run_dir: str = "run"
    seed: int = 0
    dtype: str = "float32"
    model: dict = field(default_factory=dict)
    type_names: list | None = None
    descriptor_keys: list = field(default_factory=list)
    split: dict = field(default_factory=lambda: {"train": 0.8, "validation": 0.1, "test": 0.1})
    batch_size: int = 4
    max_epochs: int = 100
    learning_rate: float = 5e-3
    amsgrad: bool = True
    weight_decay: float = 0.0
    ema_decay: float = 0.99
    energy_weight: float = 1.0
    force_weight: float = 1.0
    lr_patience: int = 5
    lr_threshold: float = 1e-4
    lr_factor: float = 0.5
    min_lr: float = 1e-6
    early_stopping_patience: int = 20
    grad_clip_norm: float | None = 10.0
    checkpoint_every: int = 50
    max_wall_time: float | None = None
    neighbor_backend: str = "auto"
    device: str = "cpu"
    num_threads: int | None = None
    progress: bool = True
    plots: bool = True
    stop_after_steps: int | None = None
    init_from: str | None = None

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown training config keys: {sorted(unknown)}")
        config = cls(**values)
        config.model = {**MODEL_DEFAULTS, **(config.model or {})}
        if "r_max" not in config.model:
            raise ValueError(
                "model.r_max (nm) is required: the interaction range has no default that fits "
                "every design (about 28 nm for the default PGN design, see examples/train.yaml)"
            )
        return config

    @classmethod
    def from_yaml(cls, path) -> TrainConfig:
        with open(path) as handle:
            return cls.from_dict(yaml.safe_load(handle) or {})

    def to_dict(self) -> dict:
        return asdict(self)

    def to_yaml(self, path) -> None:
        with open(path, "w") as handle:
            yaml.safe_dump(self.to_dict(), handle, sort_keys=False)
