"""Stage 5, pair_mc: the many-body model against the best pair model at the Monte Carlo N
(issue 17). The best pair potential (`fit_pair_potential`: a linear-spline force per type
pair, cutoff the trained model's receptive field) is fitted to the DFT forces of the model's
training split, its residual measured on the held-out split the model is tested on; then the
mc stage's parallel tempering (same N, ladder, sweeps, equilibration, seed, start and
moves, inside the DFT's hard-core rule) runs with it. Units: nm, kT."""

from __future__ import annotations

import json
from pathlib import Path

from . import mc

NAME = "pair_mc"
TITLE = "best pair potential and parallel tempering with it"
INPUTS = ("labels", "train")
READS = mc.READS  # the fit reads only its inputs' files; the Monte Carlo is the mc stage's
SETTINGS = ("progress",)
POTENTIAL_FILE = "pair_potential.json"
OUTPUTS = (POTENTIAL_FILE, "checkpoint.npz", "trajectory_T00.extxyz")
PLOTS = ()
KNOTS = 40  # spline knots per type pair: about 0.6 nm apart over the demo's 28 nm


def split_frames(inputs: dict) -> tuple[list, list, str]:
    """(training frames, held-out frames, held-out split name) of the labels, split as the
    train stage split them (train/split.json); held out: the test split, else validation
    (no frames and None when both are empty)."""
    from pgnfast.train.data import read_frames

    frames = read_frames(str(inputs["labels"].folder / "dataset"), units="pgn")
    split = json.loads((inputs["train"].folder / "split.json").read_text())
    held_out = next((name for name in ("test", "validation") if split.get(name)), None)
    kept = [frames[i] for i in split[held_out]] if held_out else []
    return [frames[i] for i in split["train"]], kept, held_out


def fitted_pair(config, folder: Path, inputs: dict):
    """The best pair potential in folder/pair_potential.json, fitted and saved there first
    when the folder has none (the fit is deterministic: a resumed stage reads it back)."""
    from pgnfast.potentials import TabulatedPair

    from ..pair_fit import fit_pair_potential

    path = folder / POTENTIAL_FILE
    if path.exists():
        return TabulatedPair.load(path)
    training, held_out, held_out_split = split_frames(inputs)
    pair = fit_pair_potential(
        training,
        float(inputs["train"].results["receptive_field_nm"]),
        knots=KNOTS,
        num_types=config.pgn_design().n_types,
        validation_frames=held_out or None,
    )
    pair.fit_report["held_out_split"] = held_out_split
    pair.save(path)
    return pair


def run(config, folder: Path, inputs: dict) -> dict:
    """Fit (or read back) the pair potential, run the mc stage's tempering with it; the fit's
    residuals (relative RMS force residual sqrt(sum |F_pair - F|^2 / sum |F|^2)) and the
    engine's summary under "mc"."""
    from pgnfast.dft.core_exclusion import CoreExclusion

    pair = fitted_pair(config, folder, inputs)
    report = pair.fit_report
    summary = mc.run_tempering(config, folder, CoreExclusion(pair, config.pgn_design()))
    return {
        "cutoff_nm": report["cutoff"],
        "inner_nm": report["inner"],
        "knots": report["knots"],
        "fit_frames": report["frames"],
        "held_out_split": report["held_out_split"],
        "held_out_frames": report["validation_frames"],
        "force_residual_fit": report["fit"],
        "force_residual_held_out": report["held-out"],
        "mc": summary,
    }
