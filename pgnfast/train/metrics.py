"""Losses and error metrics (energies in kT, forces in kT/nm)."""

from __future__ import annotations

import numpy as np


def loss_terms(prediction: dict, labels: dict, energy_weight: float, force_weight: float):
    """Weighted MSE on per-particle energy (E/N, kT^2) and on force components ((kT/nm)^2).
    Returns (total, {"energy": ..., "forces": ...}) as tensors."""
    per_particle = (prediction["energy"] - labels["energy"]) / labels["num_particles"]
    terms = {"energy": per_particle.pow(2).mean()}
    total = energy_weight * terms["energy"]
    if force_weight > 0 and labels.get("forces") is not None:
        terms["forces"] = (prediction["forces"] - labels["forces"]).pow(2).mean()
        total = total + force_weight * terms["forces"]
    return total, terms


def error_metrics(
    energy_pred, energy_true, num_particles, forces_pred=None, forces_true=None
) -> dict:
    """MAE / RMSE of total energy (kT), energy per particle (kT) and force components (kT/nm),
    plus R^2 of total energies and the force RMS of the labels."""
    energy_pred, energy_true = np.asarray(energy_pred), np.asarray(energy_true)
    n = np.asarray(num_particles, float)
    diff = energy_pred - energy_true
    out = {
        "energy_mae_kT": float(np.mean(np.abs(diff))),
        "energy_rmse_kT": float(np.sqrt(np.mean(diff**2))),
        "energy_per_particle_mae_kT": float(np.mean(np.abs(diff / n))),
        "energy_per_particle_rmse_kT": float(np.sqrt(np.mean((diff / n) ** 2))),
        "num_configurations": int(len(diff)),
    }
    variance = np.sum((energy_true - energy_true.mean()) ** 2)
    out["energy_r2"] = float(1 - np.sum(diff**2) / variance) if variance > 0 else float("nan")
    if forces_pred is not None and forces_true is not None and len(forces_true):
        fdiff = np.asarray(forces_pred) - np.asarray(forces_true)
        out["forces_mae_kT_per_nm"] = float(np.mean(np.abs(fdiff)))
        out["forces_rmse_kT_per_nm"] = float(np.sqrt(np.mean(fdiff**2)))
        out["forces_rms_label_kT_per_nm"] = float(np.sqrt(np.mean(np.asarray(forces_true) ** 2)))
    return out
