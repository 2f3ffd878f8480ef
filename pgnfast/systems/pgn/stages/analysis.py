"""Stage 7, analysis: g(r) and S(q) at the lowest temperature, the Voronoi <0,0,12,0>
fraction and the pentagonal share of Voronoi faces against temperature, all against random
configurations of the same N and box, for the model-driven run and (order only) the
pair-driven one, with block errors of the pentagonal shares; plots. Units: nm, 1/nm;
temperatures in kT."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .helpers import half_box, pentagonal_face_fraction, plain, random_melts, read_trajectory

NAME = "analysis"
TITLE = "structure analysis"
INPUTS = ("mc", "pair_mc")
READS = (
    "seed",
    "design",
    "labels.type_fractions",
    "mc.equilibration_sweeps",
    "analysis.rdf_bins",
    "analysis.q_max",
    "analysis.sq_bins",
    "analysis.random_references",
)
SETTINGS = ("progress",)
OUTPUTS = ("rdf_lowest_T.png", "icosahedral_fraction.png")
PLOTS = (
    "rdf_lowest_T.png",
    "structure_factor_lowest_T.png",
    "icosahedral_fraction.png",
    "exchange_acceptance.png",
)
SEED_OFFSET = 3  # the random references' seed is config.seed + SEED_OFFSET
BLOCKS = 5  # blocks of consecutive frames for the pentagonal shares' standard errors


def _frames_per_temperature(mc_folder: Path, count: int, after_sweep: int) -> list[list]:
    """Frames of each temperature's trajectory after equilibration (the last frame written
    when there is none after it)."""
    paths = [mc_folder / f"trajectory_T{t:02d}.extxyz" for t in range(count)]
    frames = [read_trajectory(path, after_sweep) for path in paths]
    if not frames[0]:
        frames = [read_trajectory(path)[-1:] for path in paths]
    return frames


def _voronoi_order(frames: list, progress: bool, what: str) -> tuple[list, list, list]:
    """Per temperature: mean <0,0,12,0> fraction, mean pentagonal face share and the
    share's block standard error (None with fewer than two frames) of lists of frames."""
    from tqdm.auto import tqdm

    from pgnfast.analysis import voronoi_indices
    from pgnfast.analysis.statistics import block_average

    fractions, pentagons, errors = [], [], []
    for frames_at_t in tqdm(frames, desc=f"voronoi ({what})", unit="T", disable=not progress):
        cells = [voronoi_indices(f.positions, f.cell[:]) for f in frames_at_t]
        shares = block_average([pentagonal_face_fraction(v) for v in cells], BLOCKS)
        fractions.append(float(np.mean([v.icosahedral_fraction for v in cells])))
        pentagons.append(float(shares.mean))
        errors.append(float(shares.stderr) if shares.blocks > 1 else None)
    return fractions, pentagons, errors


def _model_minus_pair(model: tuple, pair: tuple) -> dict:
    """Pentagonal share, model minus pair, per temperature, and its noise: the two block
    errors added in quadrature (None where either is unknown)."""
    (_, shares, errors), (_, pair_shares, pair_errors) = model, pair
    noise = [
        None if a is None or b is None else float(np.hypot(a, b))
        for a, b in zip(errors, pair_errors)
    ]
    return {"difference": [a - b for a, b in zip(shares, pair_shares)], "noise": noise}


def run(config, folder: Path, inputs: dict) -> dict:
    """Structure of the Monte Carlo frames (order also of the pair-driven run's) and of
    random references; the four plots."""
    from pgnfast.analysis import radial_distribution, structure_factor, voronoi_indices

    from .. import plots

    sizes, mc = config.analysis, inputs["mc"].results
    temperatures = np.asarray(mc["temperatures"])
    frames = _frames_per_temperature(
        inputs["mc"].folder, len(temperatures), config.mc.equilibration_sweeps
    )
    cell = np.asarray(frames[0][0].cell[:])
    n = len(frames[0][0])
    reference = random_melts(config, n, sizes.random_references, SEED_OFFSET)
    model_order = _voronoi_order(frames, config.progress, "model")
    fractions, pentagons, pentagon_errors = model_order
    pair_frames = _frames_per_temperature(
        inputs["pair_mc"].folder, len(temperatures), config.mc.equilibration_sweeps
    )
    pair_order = _voronoi_order(pair_frames, config.progress, "pair")
    reference_cells = [voronoi_indices(a.positions, a.cell[:]) for a in reference]
    random_fraction = float(np.mean([v.icosahedral_fraction for v in reference_cells]))
    random_pentagons = float(np.mean([pentagonal_face_fraction(v) for v in reference_cells]))
    lowest = np.stack([f.positions for f in frames[0]])
    reference_positions = np.stack([a.positions for a in reference])
    reference_cell = reference[0].cell[:]
    r_max = half_box(cell)
    r, g = radial_distribution(lowest, cell, r_max, sizes.rdf_bins)
    _, g_random = radial_distribution(reference_positions, reference_cell, r_max, sizes.rdf_bins)
    q, s, _ = structure_factor(lowest, cell, sizes.q_max, sizes.sq_bins)
    q_ref, s_ref, _ = structure_factor(
        reference_positions, reference_cell, sizes.q_max, sizes.sq_bins
    )
    peak = int(np.argmax(g))
    s_peak = int(np.nanargmax(np.where(np.isfinite(s), s, -np.inf)))
    label = f"model MC, T = {temperatures[0]:g}"
    plots.plot_rdf_against_random(folder / "rdf_lowest_T.png", r, g, g_random, label)
    plots.plot_structure_factor_against_random(
        folder / "structure_factor_lowest_T.png", (q, s), (q_ref, s_ref), label
    )
    plots.plot_order_against_temperature(
        folder / "icosahedral_fraction.png",
        temperatures,
        (fractions, random_fraction),
        (pentagons, random_pentagons),
        pentagon_errors=pentagon_errors,
        pair=pair_order,
    )
    plots.plot_acceptance(
        folder / "exchange_acceptance.png", temperatures, mc["swap_acceptance"], mc["acceptance"]
    )
    return plain(
        {
            "frames_per_temperature": len(frames[0]),
            "temperatures": temperatures,
            "icosahedral_fraction": fractions,
            "icosahedral_fraction_lowest_T": float(fractions[0]),
            "icosahedral_fraction_highest_T": float(fractions[-1]),
            "icosahedral_fraction_random": random_fraction,
            "random_reference_configs": len(reference),
            "pentagonal_face_fraction": pentagons,
            "pentagonal_face_fraction_lowest_T": float(pentagons[0]),
            "pentagonal_face_fraction_random": random_pentagons,
            "pentagonal_face_fraction_stderr": pentagon_errors,
            "pentagonal_blocks": BLOCKS,
            "pair_model": {
                "frames_per_temperature": len(pair_frames[0]),
                "icosahedral_fraction": pair_order[0],
                "pentagonal_face_fraction": pair_order[1],
                "pentagonal_face_fraction_stderr": pair_order[2],
            },
            "pentagonal_model_minus_pair": _model_minus_pair(model_order, pair_order),
            "gr_first_peak_nm": float(r[peak]),
            "gr_first_peak_height": float(g[peak]),
            "sq_peak_per_nm": float(q[s_peak]),
            "sq_peak_height": float(s[s_peak]),
            "density_per_nm3": float(n / abs(np.linalg.det(cell))),
        }
    )
