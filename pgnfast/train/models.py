"""Model kinds of a training run: `model: {kind: nequip}` (the default, NequIP) and
`model: {kind: nequip_lr}` (NequIP-LR, `pgnfast.nn.nequip_lr.NequIPLR`: charge
equilibration and long-range electrostatics, in Angstrom, e and eV).

This module checks each kind's model keys, builds a NequIP-LR model, passes a NequIP-LR
model its per-structure inputs (total charge, e; periodicity), adds the charge term to the
loss and measures the charge errors (e) against reference charges.
"""

from __future__ import annotations

import numpy as np
import torch

from .._config import check_keys
from ..errors import InputError
from ..units import ATOMISTIC, resolve
from .metrics import per_atom_errors

KINDS = ("nequip", "nequip_lr")
NEQUIP_LR_DEFAULTS = dict(
    charge_layers=2,
    energy_layers=2,
    l_max=1,
    parity=True,
    num_features=32,
    num_bessel=8,
    polynomial_cutoff_p=6,
    radial_mlp_depth=1,
    radial_mlp_width=64,
    solver="dense",
    periodic_method="ewald",
)
# keys a config may give for NequIP-LR (type names, avg_num_neighbors and the per-type
# energy statistics come from the data)
NEQUIP_LR_KEYS = (
    *NEQUIP_LR_DEFAULTS,
    "r_max",
    "avg_num_neighbors",
    "backend",
    "electronegativity_reference",
    "electronegativity_band",
    "hardness",
    "widths",
    "learn_widths",
    "charge_embedding_size",
    "charge_embedding_max",
    "accuracy",
    "charge_constraint",
)


def model_kind(model: dict) -> str:
    """The kind of a config's model section ("nequip" when it names none); InputError for
    another."""
    kind = (model or {}).get("kind", "nequip") if isinstance(model, dict) else "nequip"
    if kind not in KINDS:
        raise InputError(f"model.kind must be one of {list(KINDS)}, got {kind!r}")
    return kind


def check_model_section(model, nequip_defaults: dict, nequip_keys) -> dict:
    """The config's model section with its kind's defaults filled in; InputError naming a
    key that the kind does not take (a NequIP-LR key under kind nequip says so). A section
    without `kind` stays without it (old configs and their checkpoints are unchanged)."""
    kind = model_kind(model)
    if kind == "nequip":
        given = set(model) if isinstance(model, dict) else set()
        lr_only = sorted(given & (set(NEQUIP_LR_KEYS) - set(nequip_keys)))
        if lr_only:
            raise InputError(
                f"model keys {lr_only} belong to NequIP-LR: set model.kind: nequip_lr "
                "(kind nequip is the short-range NequIP)"
            )
        return {**nequip_defaults, **check_keys(model, (*nequip_keys, "kind"), "model")}
    given = check_keys(model, (*NEQUIP_LR_KEYS, "kind", "num_layers"), "nequip_lr model")
    if "num_layers" in given:
        raise InputError(
            "model.num_layers is a NequIP key: a nequip_lr model takes charge_layers and "
            "energy_layers (interaction blocks before and after the charge equilibration)"
        )
    return {**NEQUIP_LR_DEFAULTS, **given}


def check_nequip_lr_config(config) -> None:
    """Checks of a config's charge settings: charge_weight only with kind nequip_lr, NequIP-LR
    only in atomistic units and without per-atom targets; InputError naming the key."""
    kind = model_kind(config.model)
    if not isinstance(config.charges_key, str) or not config.charges_key:
        raise InputError(f"charges_key must be a per-atom column name, got {config.charges_key!r}")
    if kind == "nequip":
        if config.charge_weight > 0:
            raise InputError(
                f"charge_weight {config.charge_weight} needs model.kind: nequip_lr (a NequIP "
                "model predicts no charges)"
            )
        return
    units = resolve(config.units)
    if units["length"] != ATOMISTIC["length"] or units["energy"] != ATOMISTIC["energy"]:
        raise InputError(
            f"model.kind nequip_lr works in atomistic units (Angstrom, eV), got units {units}"
        )
    if config.per_atom_targets:
        raise InputError("per_atom_targets are not supported with model.kind nequip_lr")


def build_nequip_lr(config, type_names, statistics):
    """A freshly initialised (seeded by the caller) NequIP-LR model of config.model."""
    from ..nn.nequip_lr import NequIPLR

    hyper = {k: v for k, v in config.model.items() if k != "kind"}
    hyper.setdefault("avg_num_neighbors", statistics["avg_num_neighbors"])
    for name in ("hardness", "widths", "electronegativity_reference"):
        if isinstance(hyper.get(name), dict):
            hyper[name] = _per_type_mapping(hyper[name], type_names, f"model.{name}")
    if config.descriptor_keys:
        raise InputError("descriptor_keys are not supported with model.kind nequip_lr")
    return NequIPLR(
        num_types=len(type_names), type_names=list(type_names), units=config.units, **hyper
    )


def _per_type_mapping(values: dict, type_names, name: str) -> list[float]:
    missing = [t for t in type_names if t not in values]
    extra = sorted(set(values) - set(type_names))
    if missing or extra:
        raise InputError(
            f"{name} must give one value per type {list(type_names)}: missing {missing}, "
            f"unknown {extra}"
        )
    return [float(values[t]) for t in type_names]


def is_charged(model) -> bool:
    """Whether `model` predicts charges (NequIP-LR)."""
    return getattr(model, "kind", None) == "nequip-lr"


def model_inputs(model, labels: dict) -> dict:
    """The keyword arguments a model needs beyond the graph: for NequIP-LR the structures'
    total charges (B,) e and periodicity, and the fragments (N,) with their charges (F,) e
    when the batch has them; none for NequIP."""
    if not is_charged(model):
        return {}
    inputs = {"total_charge": labels["total_charge"], "pbc": labels["pbc"]}
    if "fragment" in labels:
        inputs.update(fragment=labels["fragment"], fragment_charge=labels["fragment_charge"])
    return inputs


def charge_term(prediction: dict, labels: dict) -> torch.Tensor:
    """MSE (e^2) of the predicted charges over the atoms with reference charges (0 with
    a gradient path when the batch has none)."""
    from ..nn.nequip_lr import charge_loss

    return charge_loss(prediction, labels["charges"], labels["charge_mask"])


def charge_metrics(predicted: np.ndarray, samples) -> dict | None:
    """RMSE, MAE (e) and Pearson r of predicted charges (sum N,) against the samples'
    reference charges, over the atoms that have one; None when none has."""
    if not any(s.charges is not None for s in samples):
        return None
    reference, mask = charge_labels(samples)
    errors = per_atom_errors(predicted[mask], reference[mask])
    return {
        "charges_rmse_e": errors["rmse"],
        "charges_mae_e": errors["mae"],
        "charges_pearson_r": errors["pearson_r"],
        "charges_num_atoms": errors["num_atoms"],
    }


def charge_labels(samples) -> tuple[np.ndarray, np.ndarray]:
    """Reference charges (sum N,) e (0 where a frame has none) and the mask of those given."""
    reference = np.concatenate(
        [s.charges if s.charges is not None else np.zeros(s.num_particles) for s in samples]
    )
    mask = np.concatenate([np.full(s.num_particles, s.charges is not None) for s in samples])
    return reference, mask
