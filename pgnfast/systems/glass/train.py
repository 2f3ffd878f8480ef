"""Training a per-atom barrier model on converted glasses (`pgnfast glass train CONFIG.yaml`).

A glass training config is a `pgnfast.train.TrainConfig` YAML (see examples/glass.yaml)
whose glass settings default to the barrier task and are checked:

| key | default | checked |
| --- | --- | --- |
| `units` | `atomistic` | Angstrom and eV |
| `type_names` | `[Cu, Zr]` | exactly these (the model's type order) |
| `per_atom_targets` | `{barrier: 1.0}` | names `barrier` |
| `energy_weight`, `force_weight` | 0 | (the glasses carry no energies) |
| `split_key` | `split` | the paper's split written by `pgnfast glass convert` |

`data` is the folder written by `pgnfast glass convert` (or extxyz files / globs of such
glasses): given on the command line (relative to the working folder), or in the config,
where a relative path is taken relative to the config file's folder. The model file's
metadata records the system and the barrier's unit (eV).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..._config import read_yaml
from ...errors import InputError
from ...units import ATOMISTIC, resolve
from .data import TYPE_NAMES

__all__ = ["GLASS_DEFAULTS", "glass_training_config", "train_glass_model"]

GLASS_DEFAULTS = {
    "units": "atomistic",
    "type_names": list(TYPE_NAMES),
    "per_atom_targets": {"barrier": 1.0},
    "energy_weight": 0.0,
    "force_weight": 0.0,
    "split_key": "split",
}
"""The glass barrier task's settings, used where a glass config does not give them."""


def glass_training_config(config, *, data=None, run_dir=None):
    """A checked TrainConfig for barrier training.

    config: a YAML path or a dict of TrainConfig keys (glass keys default to GLASS_DEFAULTS).
    data: overrides the config's data (a path relative to the working folder); without it a
    relative data path of a YAML config is taken relative to the config's folder. run_dir:
    overrides the config's run_dir. InputError (naming the file) for a config that is not
    in Angstrom/eV, does not train `barrier`, has other type names, or names no data."""
    from ...train import TrainConfig

    source = None
    if isinstance(config, (str, os.PathLike)):
        source = Path(config)
        values = read_yaml(source)
    elif isinstance(config, dict):
        values = dict(config)
    else:
        raise InputError(f"a glass config is a YAML path or a dict, got {type(config).__name__}")
    values = {**GLASS_DEFAULTS, **values}
    if data is not None:
        values["data"] = os.fspath(data)
    elif source is not None and isinstance(values.get("data"), str):
        if not os.path.isabs(values["data"]):
            values["data"] = os.path.normpath(os.path.join(source.parent, values["data"]))
    if run_dir is not None:
        values["run_dir"] = os.fspath(run_dir)
    where = f"{source}: " if source is not None else ""
    if not values.get("data"):
        raise InputError(
            f"{where}no data: give the folder written by `pgnfast glass convert` with --data "
            f"or as `data` in the config"
        )
    metadata = dict(values.get("metadata") or {})
    metadata.setdefault("system", "glass")
    metadata.setdefault("target_units", {"barrier": ATOMISTIC["energy"]})
    values["metadata"] = metadata
    try:
        train_config = TrainConfig.from_dict(values)
        _check_glass(train_config)
    except InputError as error:
        raise InputError(f"{where}{error}") from error
    return train_config


def _check_glass(config) -> None:
    units = resolve(config.units)
    if (units["length"], units["energy"]) != (ATOMISTIC["length"], ATOMISTIC["energy"]):
        raise InputError(
            f"units: glass barriers are in Angstrom and eV (units: atomistic), got "
            f"{units['length']} and {units['energy']}"
        )
    if "barrier" not in config.per_atom_targets:
        raise InputError(
            f"per_atom_targets must train 'barrier', got {sorted(config.per_atom_targets)}"
        )
    if list(config.type_names or []) != list(TYPE_NAMES):
        raise InputError(f"type_names must be {list(TYPE_NAMES)}, got {config.type_names!r}")


def train_glass_model(config, *, resume: bool = False, data=None, run_dir=None) -> dict:
    """Train a barrier model: glass_training_config(config, data=..., run_dir=...) (config: a
    YAML path, a dict or a TrainConfig), then pgnfast.train.fit; returns the metrics dict
    (run_dir/metrics.json) or {"interrupted": True, "step": n}."""
    from ...train import TrainConfig, fit

    if isinstance(config, TrainConfig):
        config = config.to_dict()
    return fit(glass_training_config(config, data=data, run_dir=run_dir), resume=resume)
