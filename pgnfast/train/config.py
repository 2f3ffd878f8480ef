"""Training configuration: a dataclass read from / written to YAML, checked on load (unknown
keys and bad values raise InputError naming the key, and the file when read from one)."""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import asdict, dataclass, field

import yaml

from .._config import check_keys, field_names, from_yaml
from ..errors import InputError, UnitsError
from ..units import resolve

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
# model keys a config may give (type names, the number of types, descriptors and the
# per-type statistics come from the data)
MODEL_KEYS = (*MODEL_DEFAULTS, "r_max", "avg_num_neighbors", "backend")
DTYPES = ("float32", "float64")


VALIDATION_CRITERIA = ("loss", "pearson_r")


@dataclass
class TrainConfig:
    """Everything a training run needs (units: those of the data, `units`; PGN: nm, kT).

    data: an extxyz path, a labeled dataset folder (`pgnfast label --out`, with
    manifest.json), a glob, or a list of them. run_dir: output folder. model: NequIP
    hyperparameters (r_max in the data's length unit, ...; type names, avg_num_neighbors
    and per-type scale/shift come from the data). split: fractions (or counts) for
    train/validation/test. energy_weight / force_weight: loss weights on per-particle
    energy (kT^2) and force components ((kT/nm)^2); force_weight 0 trains on energies only.
    stress_weight: loss weight on the stress components ((kT/nm^3)^2; eV/Angstrom^3 for
    atomistic units, ASE's sign and a frame's info or calculator `stress`), 0 (default) for
    none; > 0 needs a stress label on every frame and fully periodic cells.
    ema_decay: 0 disables EMA. lr_patience / lr_factor / lr_threshold: the plateau schedule
    multiplies the learning rate by lr_factor after lr_patience epochs whose validation loss
    improved by less than the relative lr_threshold (read from the config also on --resume).
    checkpoint_every: steps between atomic checkpoints. max_wall_time: seconds; training
    stops (and is evaluated as finished) at the first epoch end past it, None for no limit;
    --resume with a larger max_wall_time (or max_epochs) continues a run stopped by it; any
    other change of the configuration or of the data refuses to resume
    (ResumeMismatchError). device: "cpu", "cuda", "cuda:K" or "auto" (under torchrun each
    process takes the GPU of its LOCAL_RANK). stop_after_steps: end the process abruptly
    after this many optimizer steps in this run (simulates a kill, for tests). init_from: a
    model file (save_model) whose weights start a new run, to fine-tune it (with other loss
    weights or schedule); its hyperparameters must match `model` and the data's.
    metadata: a JSON-able dict copied into the saved model file's metadata. units: the unit
    system of the data ("pgn", "atomistic" or a dict with at least length and energy),
    recorded in the model file and checked against a dataset that records its units.

    Per-atom (node-level) targets (`pgnfast.train.per_atom`): per_atom_targets maps the
    name of a per-atom label column of the data (e.g. `barrier`) to its loss weight
    (`{barrier: 1.0}`); each gets an output head, its labels are standardised with the mean
    and std of the train split, and the loss adds weight * mean(((prediction - label) /
    std)^2) over the atoms. With per-atom targets the energy and force terms are optional:
    energy_weight: 0 and force_weight: 0 train the targets alone (the data then needs no
    energies). subgraph_centres: None trains on whole structures (batch_size per step);
    an integer K trains on mini-batches of K random centre atoms of one structure with the
    subgraph of their receptive field (every atom within num_layers hops of the r_max
    graph, periodic images included), the loss on the centres only (batch_size such
    subgraphs per step); it needs energy_weight = force_weight = 0. split_key: the name of
    a frame info field holding each frame's split ("train", "validation", "test"; other
    values leave the frame out), used instead of the random `split` (the glass data's
    `split`, written by `pgnfast glass convert`). validation_criterion: "loss" (default: the
    training loss on the validation split) or, with per-atom targets, "pearson_r": 1 - the
    loss-weighted mean over targets of the mean over validation structures of the Pearson r,
    so the best model, the learning-rate plateaus and early stopping follow the ranking of
    atoms inside each structure and ignore offsets between structures (history and metrics
    still call it the validation loss).

    Charges (`pgnfast.train.models`): model.kind "nequip" (default) or "nequip_lr"
    (NequIP-LR, atomistic units; keys charge_layers, energy_layers, solver, periodic_method,
    accuracy, hardness, widths, learn_widths, charge_embedding_size, ...; hardness, widths
    and electronegativity_reference a number, a list or a {type name: value} mapping).
    A NequIP-LR run reads each frame's total charge (e) from info["total_charge"] (0 when
    absent) and its per-atom reference charges (e) from the column `charges_key` where a
    frame has it; charge_weight (> 0 only for nequip_lr) weighs the MSE of the charges (e^2)
    in the loss, and metrics.json reports charge RMSE, MAE (e) and Pearson r per split.
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
    stress_weight: float = 0.0
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
    metadata: dict = field(default_factory=dict)
    units: str | dict = "pgn"
    per_atom_targets: dict = field(default_factory=dict)
    subgraph_centres: int | None = None
    split_key: str | None = None
    validation_criterion: str = "loss"
    charge_weight: float = 0.0
    charges_key: str = "charges"

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """A checked config from a dict; InputError names the first bad key."""
        values = check_keys(values, field_names(cls), "training config")
        config = cls(**values)
        if isinstance(config.data, os.PathLike):
            config.data = os.fspath(config.data)
        elif isinstance(config.data, (list, tuple)):
            config.data = [os.fspath(item) for item in config.data]
        from .models import check_model_section

        config.model = check_model_section(config.model, MODEL_DEFAULTS, MODEL_KEYS)
        if "r_max" not in config.model:
            try:
                length = resolve(config.units)["length"]
            except Exception:
                length = "length units of the data"
            raise InputError(
                f"model.r_max ({length}) is required: the interaction range has no default "
                "that fits every system (about 28 nm for the default PGN design, see "
                "examples/train.yaml)"
            )
        config.check()
        return config

    @classmethod
    def from_yaml(cls, path) -> TrainConfig:
        """A checked config from a YAML file; errors name the file and the key."""
        return from_yaml(cls, path)

    def check(self) -> None:
        """Raise InputError naming the first key whose value is out of range or of the wrong
        kind."""
        _number(self.model.get("r_max"), "model.r_max", positive=True)
        if not isinstance(self.data, (str, list, tuple)) or not self.data:
            raise InputError(f"data must be a path, a glob or a list of them, got {self.data!r}")
        if self.dtype not in DTYPES:
            raise InputError(f"dtype must be one of {list(DTYPES)}, got {self.dtype!r}")
        _integer(self.seed, "seed", low=0)
        _integer(self.batch_size, "batch_size", low=1)
        _integer(self.max_epochs, "max_epochs", low=0)
        _integer(self.lr_patience, "lr_patience", low=0)
        _integer(self.early_stopping_patience, "early_stopping_patience", low=1)
        _integer(self.checkpoint_every, "checkpoint_every", low=0)
        for name in ("learning_rate", "lr_factor"):
            _number(getattr(self, name), name, positive=True)
        for name in (
            "weight_decay",
            "energy_weight",
            "force_weight",
            "stress_weight",
            "lr_threshold",
            "min_lr",
            "charge_weight",
        ):
            _number(getattr(self, name), name)
        if not 0.0 <= _number(self.ema_decay, "ema_decay") < 1.0:
            raise InputError(f"ema_decay must lie in [0, 1), got {self.ema_decay!r}")
        for name in ("grad_clip_norm", "max_wall_time"):
            if getattr(self, name) is not None:
                _number(getattr(self, name), name)
        for name in ("num_threads", "stop_after_steps"):
            if getattr(self, name) is not None:
                _integer(getattr(self, name), name, low=1)
        self._check_split()
        self._check_per_atom()
        from .models import check_nequip_lr_config

        check_nequip_lr_config(self)
        if self.type_names is not None and (
            not isinstance(self.type_names, (list, tuple))
            or not all(isinstance(t, str) for t in self.type_names)
        ):
            raise InputError(f"type_names must be a list of strings, got {self.type_names!r}")
        if not isinstance(self.descriptor_keys, (list, tuple)):
            raise InputError(f"descriptor_keys must be a list, got {self.descriptor_keys!r}")
        if not isinstance(self.metadata, dict):
            raise InputError(f"metadata must be a mapping, got {type(self.metadata).__name__}")
        from ..nn.io import json_metadata

        json_metadata(self.metadata, "metadata")
        try:
            resolve(self.units)
        except UnitsError as error:
            raise InputError(f"units: {error}") from error

    def _check_split(self) -> None:
        split = check_keys(self.split, ("train", "validation", "test"), "split")
        for name, value in split.items():
            _number(value, f"split.{name}")

    def _check_per_atom(self) -> None:
        from ..nn.heads import check_target_names

        targets = self.per_atom_targets
        if not isinstance(targets, dict):
            raise InputError(
                f"per_atom_targets must be a mapping of per-atom label names to loss weights "
                f"(e.g. {{barrier: 1.0}}), got {targets!r}"
            )
        check_target_names(list(targets))
        if targets and self.stress_weight > 0:
            raise InputError(
                f"stress_weight {self.stress_weight} trains whole-structure stress; per-atom "
                "training (per_atom_targets) does not: set stress_weight: 0"
            )
        for name, weight in targets.items():
            _number(weight, f"per_atom_targets.{name}")
        if self.subgraph_centres is not None:
            _integer(self.subgraph_centres, "subgraph_centres", low=1)
            if not targets:
                raise InputError("subgraph_centres needs per_atom_targets (node-level training)")
            if self.energy_weight > 0 or self.force_weight > 0:
                raise InputError(
                    "subgraph_centres trains per-atom targets on subgraphs, whose energies and "
                    "forces are not those of the structure: set energy_weight: 0 and "
                    f"force_weight: 0 (got {self.energy_weight}, {self.force_weight})"
                )
        if targets and not any(targets.values()) and not (self.energy_weight or self.force_weight):
            raise InputError(
                "every loss weight is 0 (per_atom_targets, energy_weight, force_weight): "
                "nothing to train"
            )
        if self.validation_criterion not in VALIDATION_CRITERIA:
            raise InputError(
                f"validation_criterion must be one of {list(VALIDATION_CRITERIA)}, got "
                f"{self.validation_criterion!r}"
            )
        if self.validation_criterion == "pearson_r" and not any(
            float(w) > 0 for w in targets.values()
        ):
            raise InputError(
                "validation_criterion: pearson_r needs a per-atom target of positive weight "
                "(it scores per-atom predictions)"
            )
        if self.split_key is not None and (
            not isinstance(self.split_key, str) or not self.split_key
        ):
            raise InputError(f"split_key must be a frame info name or null, got {self.split_key!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    def to_yaml(self, path) -> None:
        with open(path, "w") as handle:
            yaml.safe_dump(self.to_dict(), handle, sort_keys=False)


def _number(value, name: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise InputError(
            f"{name} must be a finite number {'>' if positive else '>='} 0, got {value!r}"
        )
    return value


def _integer(value, name: str, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)
