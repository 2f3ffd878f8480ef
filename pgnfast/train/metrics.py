"""Losses and error metrics (energies and forces in the data's units, named in the metric keys:
kT and kT/nm for PGN, eV and eV/Angstrom for atomistic systems; per-atom targets in their
label units)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..units import PGN, resolve
from ..validation import check_finite, check_indices


def unit_suffixes(units=PGN) -> tuple[str, str]:
    """(energy, force) suffixes of the metric keys: ("kT", "kT_per_nm") for PGN,
    ("eV", "eV_per_Angstrom") for atomistic units."""
    units = resolve(units)
    return units["energy"], f"{units['energy']}_per_{units['length']}"


def stress_suffix(units=PGN) -> str:
    """The stress metric keys' suffix: "kT_per_nm3" for PGN, "eV_per_Angstrom3" atomistic."""
    units = resolve(units)
    return f"{units['energy']}_per_{units['length']}3"


def loss_terms(
    prediction: dict,
    labels: dict,
    energy_weight: float,
    force_weight: float,
    stress_weight: float = 0.0,
):
    """Weighted MSE on per-particle energy (E/N, kT^2), on force components ((kT/nm)^2) and,
    when stress_weight > 0 and the batch has stress labels, on stress components
    ((kT/nm^3)^2). Returns (total, {"energy": ..., "forces": ..., "stress": ...}) as
    tensors."""
    per_particle = (prediction["energy"] - labels["energy"]) / labels["num_particles"]
    terms = {"energy": per_particle.pow(2).mean()}
    total = energy_weight * terms["energy"]
    if force_weight > 0 and labels.get("forces") is not None:
        terms["forces"] = (prediction["forces"] - labels["forces"]).pow(2).mean()
        total = total + force_weight * terms["forces"]
    if stress_weight > 0 and labels.get("stress") is not None:
        terms["stress"] = (prediction["stress"] - labels["stress"]).pow(2).mean()
        total = total + stress_weight * terms["stress"]
    return total, terms


def error_metrics(
    energy_pred,
    energy_true,
    num_particles,
    forces_pred=None,
    forces_true=None,
    *,
    stress_pred=None,
    stress_true=None,
    units=PGN,
) -> dict:
    """MAE / RMSE of total energy, energy per particle, force components and (when both are
    given, (S, 3, 3)) stress components, plus R^2 of total energies and the force and stress
    RMS of the labels; keys name `units` (e.g. "forces_rmse_kT_per_nm" for PGN,
    "forces_rmse_eV_per_Angstrom" and "stress_rmse_eV_per_Angstrom3" for atomistic)."""
    e, f = unit_suffixes(units)
    energy_pred, energy_true = np.asarray(energy_pred), np.asarray(energy_true)
    n = np.asarray(num_particles, float)
    diff = energy_pred - energy_true
    out = {
        f"energy_mae_{e}": float(np.mean(np.abs(diff))),
        f"energy_rmse_{e}": float(np.sqrt(np.mean(diff**2))),
        f"energy_per_particle_mae_{e}": float(np.mean(np.abs(diff / n))),
        f"energy_per_particle_rmse_{e}": float(np.sqrt(np.mean((diff / n) ** 2))),
        "num_configurations": int(len(diff)),
    }
    variance = np.sum((energy_true - energy_true.mean()) ** 2)
    out["energy_r2"] = float(1 - np.sum(diff**2) / variance) if variance > 0 else float("nan")
    if forces_pred is not None and forces_true is not None and len(forces_true):
        fdiff = np.asarray(forces_pred) - np.asarray(forces_true)
        out[f"forces_mae_{f}"] = float(np.mean(np.abs(fdiff)))
        out[f"forces_rmse_{f}"] = float(np.sqrt(np.mean(fdiff**2)))
        out[f"forces_rms_label_{f}"] = float(np.sqrt(np.mean(np.asarray(forces_true) ** 2)))
    if stress_pred is not None and stress_true is not None and len(stress_true):
        s = stress_suffix(units)
        sdiff = np.asarray(stress_pred) - np.asarray(stress_true)
        out[f"stress_mae_{s}"] = float(np.mean(np.abs(sdiff)))
        out[f"stress_rmse_{s}"] = float(np.sqrt(np.mean(sdiff**2)))
        out[f"stress_rms_label_{s}"] = float(np.sqrt(np.mean(np.asarray(stress_true) ** 2)))
    return out


# -- per-atom (node-level) targets ---------------------------------------------------------


def _vectors(prediction, label) -> tuple[np.ndarray, np.ndarray]:
    prediction = np.asarray(
        prediction.detach().cpu() if hasattr(prediction, "detach") else prediction, float
    ).reshape(-1)
    label = np.asarray(label.detach().cpu() if hasattr(label, "detach") else label, float)
    label = label.reshape(-1)
    if prediction.shape != label.shape:
        raise InputError(f"per-atom prediction has {prediction.size} values and label {label.size}")
    check_finite(prediction, "per-atom prediction")
    check_finite(label, "per-atom label")
    return prediction, label


def pearson_r(prediction, label) -> float:
    """Pearson correlation of two (N,) vectors. NaN when it is undefined: fewer than two
    values, or either vector constant (zero variance); so is scipy.stats.pearsonr's, and a
    NaN per-structure r shows a degenerate structure rather than a made-up 0 or 1."""
    prediction, label = _vectors(prediction, label)
    if prediction.size < 2:
        return float("nan")
    dp, dl = prediction - prediction.mean(), label - label.mean()
    norm = np.sqrt(np.sum(dp * dp) * np.sum(dl * dl))
    if not norm > 0 or np.ptp(prediction) == 0 or np.ptp(label) == 0:
        return float("nan")
    return float(np.clip(np.sum(dp * dl) / norm, -1.0, 1.0))


def per_atom_errors(prediction, label) -> dict:
    """Pearson r, RMSE and MAE (label units) of one set of per-atom values (N,), and N."""
    prediction, label = _vectors(prediction, label)
    diff = prediction - label
    empty = diff.size == 0
    return {
        "pearson_r": pearson_r(prediction, label),
        "rmse": float("nan") if empty else float(np.sqrt(np.mean(diff**2))),
        "mae": float("nan") if empty else float(np.mean(np.abs(diff))),
        "num_atoms": int(diff.size),
    }


def per_atom_metrics(prediction, label, batch=None) -> dict:
    """Per-atom metrics, pooled over all atoms and per structure.

    prediction, label: (N,) per-atom values; batch: (N,) structure index of every atom
    (None: one structure). Returns {"pooled": per_atom_errors of all atoms, "per_structure":
    {"structure": (S,) ids present in batch, "pearson_r", "rmse", "mae", "num_atoms": (S,)
    arrays}, "mean_over_structures": {"pearson_r", "rmse", "mae"} (plain means; a NaN r of a
    constant structure makes the mean r NaN)}. Pooled r also rewards getting offsets between
    structures right; per-structure r measures the ranking inside each structure only.
    """
    prediction, label = _vectors(prediction, label)
    if batch is None:
        batch = np.zeros(prediction.size, dtype=np.int64)
    batch = np.asarray(batch.detach().cpu() if hasattr(batch, "detach") else batch)
    size = int(batch.max()) + 1 if batch.size and batch.dtype.kind in "iu" else 1
    check_indices(batch, size, "batch", prediction.size)
    structures = np.unique(batch)
    rows = [per_atom_errors(prediction[batch == s], label[batch == s]) for s in structures]
    per_structure = {"structure": structures}
    for key in ("pearson_r", "rmse", "mae", "num_atoms"):
        per_structure[key] = np.array([row[key] for row in rows])
    return {
        "pooled": per_atom_errors(prediction, label),
        "per_structure": per_structure,
        "mean_over_structures": {
            key: float(np.mean(per_structure[key])) for key in ("pearson_r", "rmse", "mae")
        },
    }


def per_atom_loss(prediction: dict, labels: dict, statistics: dict, weights=None):
    """Standardised MSE of per-atom targets: for each target name in `labels`,
    mean(((prediction - label) / std)^2) with std from statistics {name: (mean, std)} (the
    model's `per_atom_statistics()`), so targets in different units weigh alike. weights:
    {name: float} (default 1). Returns (total, {name: term}) as tensors."""
    total, terms = None, {}
    for name, label in labels.items():
        if name not in prediction:
            raise InputError(
                f"per-atom label {name!r} has no prediction; predicted {sorted(prediction)}"
            )
        if name not in statistics:
            raise InputError(
                f"per-atom label {name!r} has no (mean, std) in statistics {sorted(statistics)}"
            )
        std = float(statistics[name][1])
        if not std > 0:
            raise InputError(f"statistics[{name!r}] std must be > 0, got {std}")
        predicted = prediction[name]
        if predicted.shape != label.shape:
            raise InputError(
                f"per-atom {name!r}: prediction shape {tuple(predicted.shape)} and label shape "
                f"{tuple(label.shape)} differ"
            )
        terms[name] = ((predicted - label) / std).pow(2).mean()
        weight = 1.0 if weights is None else float(weights.get(name, 1.0))
        total = weight * terms[name] if total is None else total + weight * terms[name]
    if total is None:
        raise InputError("per_atom_loss: no per-atom labels given")
    return total, terms
