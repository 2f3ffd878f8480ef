"""report.md and summary.json of a pipeline run. Every number in report.md is read from the
summary dict, which is written unchanged to summary.json. Units: nm, kT."""

from __future__ import annotations

from pathlib import Path

from pgnfast._atomic import write_json


def _g(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}g}"


def _list(values, digits: int = 3) -> str:
    return ", ".join(_g(v, digits) for v in values)


def _model_force_residual(test: dict) -> float:
    """The model's relative RMS force residual on a split, sqrt(sum |dF|^2 / sum |F|^2):
    its force RMSE over the labels' force RMS (both per component)."""
    rmse = test.get("forces_rmse_kT_per_nm", float("nan"))
    return rmse / test.get("forces_rms_label_kT_per_nm", float("nan"))


def _pair_comparison(s: dict) -> str:
    """The sentences of study finding 2 on the many-body model against the best pair model
    at the Monte Carlo N ("" for a summary without the pair run)."""
    st, pair = s["analysis"], s.get("pair_mc")
    order = st.get("pair_model")
    if not pair or not order:
        return ""
    shares, pair_shares = st["pentagonal_face_fraction"], order["pentagonal_face_fraction"]
    gap = st["pentagonal_model_minus_pair"]
    difference, noise = gap["difference"][0], gap["noise"][0]
    known = [(d, n) for d, n in zip(gap["difference"], gap["noise"]) if n is not None]
    beyond = sum(abs(d) > 2 * n for d, n in known)
    frames = min(st.get("frames_per_temperature", 0), order.get("frames_per_temperature", 0))
    model_residual = _model_force_residual(s["train"]["test"] or s["train"]["validation"])
    pair_residual = pair["force_residual_held_out"]
    text = (
        f" Against the best pair model fitted to the same DFT forces (held-out force "
        f"residual {_g(pair_residual)}, the model's {_g(model_residual)}) and run at the "
        f"same N with the same ladder, seed and start, the share at T = "
        f"{_g(s['mc']['temperatures'][0])} is {_g(shares[0])} (many-body) against "
        f"{_g(pair_shares[0])} (pair)"
    )
    if noise is None:
        return text + (
            "; with one frame per temperature there is no block error, so this run cannot "
            "tell the two models apart."
        )
    within = f"; the difference, {_g(difference)}, is within twice its block noise ({_g(noise)})"
    if abs(difference) > 2 * noise:
        text += (
            f"; the difference, {_g(difference)}, exceeds twice its block noise "
            f"({_g(noise)}; at {beyond} of {len(known)} temperatures), so the two runs differ "
            f"at this size, the many-body model's with {'more' if difference > 0 else 'less'} "
            "fivefold order."
        )
    elif beyond:
        text += (
            f"{within}, but exceeds it at {beyond} of {len(known)} temperatures: a hint that "
            f"the two structures differ, not a finding, as block errors of {frames} frames "
            "underestimate the noise of correlated frames."
        )
    else:
        text += (
            f"{within} at every temperature: at this size the demo cannot tell the "
            "many-body model from the best pair model."
        )
    if pair_residual is not None and model_residual >= pair_residual:
        text += (
            " The demo's model fits the held-out forces no better than the pair model, so a "
            "difference here may be the model's error rather than its many-body terms."
        )
    return text


def render(summary: dict) -> str:
    """The report text (markdown) from a summary dict."""
    s = summary
    d, derived = s["design"], s["design_derived"]
    lab, tr, cost, mc, pair, cmp_, st = (
        s["labels"],
        s["train"],
        s["cost"],
        s["mc"],
        s["pair_mc"],
        s["compare"],
        s["analysis"],
    )
    test = tr["test"] or tr["validation"]
    hyper = tr["hyperparameters"]
    t = s["timings"]
    kind = (
        "bidisperse, so the glass cannot crystallise"
        if isinstance(d["core_radius"], list) and len(set(d["core_radius"])) > 1
        else "monodisperse"
    )
    lines = [
        f"# pgnfast {s['name']}: a polymer-grafted nanoparticle glass from DFT labels to structure",
        "",
        "Units: lengths nm, energies kT, temperatures in multiples of kT.",
        "",
        "## What was done",
        "",
        f"1. **Design** ({kind}): core radii "
        f"{d['core_radius']} nm, grafting density {d['grafting_density']} chains/nm^2, "
        f"chain length {d['chain_length']} Kuhn segments of {d['kuhn_length']} nm, segment "
        f"volume {d['segment_volume']} nm^3: {_list(derived['chains_per_core'])} chains per "
        f"core, chain size {_g(derived['chain_size_nm'])} nm, core volume fraction "
        f"{_g(derived['core_volume_fraction'])}.",
        f"2. **Labels**: {lab['n_configs']} configurations of N = {lab['n_particles']} cores "
        f"(box {_g(lab['box_nm'])} nm) labeled by the PGN classical DFT: {lab['n_labeled']} "
        f"labeled, {lab['n_failed']} refused ({lab['labeled_this_run']} labeled in this run, "
        f"the rest reused). Mean DFT time {_g(lab['dft_seconds_per_label'])} s per label in "
        f"a worker; energies {_g(lab['energy_per_particle_mean_kT'], 5)} +- "
        f"{_g(lab['energy_per_particle_std_kT'])} kT per particle, force RMS "
        f"{_g(lab['force_rms_kT_per_nm'])} kT/nm.",
        f"3. **Model**: NequIP with {hyper['num_layers']} layer(s), l_max {hyper['l_max']}, "
        f"{hyper['num_features']} features, r_max {_g(hyper['r_max'])} nm (receptive field "
        f"{_g(tr['receptive_field_nm'])} nm), {tr['n_parameters']} parameters, trained "
        f"{tr['epochs']} epochs ({tr['steps']} steps; best epoch {tr['best_epoch']}).",
        f"4. **Parallel tempering** driven by the model at N = {mc['n_particles']} "
        f"(box {_g(mc['box_nm'])} nm), {len(mc['temperatures'])} temperatures "
        f"{_list(mc['temperatures'])}, {mc['sweeps']} sweeps ({mc['moves']} trial moves, "
        f"{_g(mc['moves_per_s'])} moves/s, {mc['mode']} energy differences), the first "
        f"{mc['equilibration_sweeps']} sweeps tuning step sizes.",
        f"5. **Best pair model**: a pair force per type pair (linear spline, {pair['knots']} "
        f"knots from {_g(pair['inner_nm'])} nm to the model's receptive field, "
        f"{_g(pair['cutoff_nm'])} nm) fitted by least squares to the DFT forces of the "
        f"model's {pair['fit_frames']} training configurations; the same parallel tempering "
        "(N, ladder, sweeps, seed, start, core exclusion) driven by it "
        f"({_g(pair['mc']['moves_per_s'])} moves/s).",
        f"6. **Model against DFT Monte Carlo** at N = {cmp_['n_particles']}, T = "
        f"{_g(cmp_['temperature'])}, the same start, seed and step size "
        f"({_g(cmp_['step_size_nm'])} nm), {cmp_['moves_per_run']} trial moves each.",
        f"7. **Structure**: g(r), S(q) and Voronoi indices of {st['frames_per_temperature']} "
        f"frames per temperature after equilibration (Voronoi indices also of the pair-driven "
        "run's), against "
        f"{st['random_reference_configs']} random configurations of the same N and box.",
        "",
        "## Results",
        "",
        "| measure | value |",
        "|---|---|",
        f"| test energy error per particle (RMSE / MAE) | {_g(test['energy_per_particle_rmse_kT'])}"
        f" / {_g(test['energy_per_particle_mae_kT'])} kT |",
        f"| test force error per component (RMSE / MAE) | "
        f"{_g(test.get('forces_rmse_kT_per_nm', float('nan')))} / "
        f"{_g(test.get('forces_mae_kT_per_nm', float('nan')))} kT/nm (label RMS "
        f"{_g(test.get('forces_rms_label_kT_per_nm', float('nan')))}) |",
        f"| test total-energy R^2 | {_g(test['energy_r2'])} ({test['num_configurations']} "
        "configurations) |",
        f"| DFT cost per configuration, N = {cost['n_particles']} | "
        f"{_g(cost['dft_seconds_per_config'])} s |",
        f"| model cost per configuration (energy + forces), one call | "
        f"{_g(cost['model_seconds_per_config'])} s (ratio {_g(cost['speedup'])}) |",
        f"| model cost per configuration, batches of {cost['model_batch']} | "
        f"{_g(cost['model_batched_seconds_per_config'])} s (ratio "
        f"{_g(cost['speedup_batched'])}, 10^{_g(cost['log10_speedup_batched'], 2)}) |",
        f"| mean abs. g(r) difference, model vs DFT MC (N = {cmp_['n_particles']}) | "
        f"{_g(cmp_['gr_difference_model_vs_dft'])} |",
        f"| ... model vs model with another seed (sampling noise) | "
        f"{_g(cmp_['gr_difference_model_vs_model_other_seed'])} |",
        f"| ... DFT MC vs its start (how far the runs moved) | "
        f"{_g(cmp_['gr_difference_dft_vs_start'])} |",
        f"| model energy error on DFT-MC frames (RMSE / bias per particle) | "
        f"{_g(cmp_['energy_per_particle_rmse_on_dft_frames_kT'])} / "
        f"{_g(cmp_['energy_per_particle_bias_on_dft_frames_kT'])} kT |",
        f"| move acceptance, DFT MC / model MC | {_g(cmp_['acceptance']['dft'])} / "
        f"{_g(cmp_['acceptance']['model'])} |",
        f"| icosahedral <0,0,12,0> fraction, lowest T ({_g(mc['temperatures'][0])}) | "
        f"{_g(st['icosahedral_fraction_lowest_T'])} |",
        f"| ... highest T ({_g(mc['temperatures'][-1])}) | "
        f"{_g(st['icosahedral_fraction_highest_T'])} |",
        f"| ... random configurations | {_g(st['icosahedral_fraction_random'])} |",
        f"| pentagonal share of Voronoi faces, lowest T / random | "
        f"{_g(st['pentagonal_face_fraction_lowest_T'])} / "
        f"{_g(st['pentagonal_face_fraction_random'])} |",
        f"| relative force residual on the held-out {pair['held_out_split']} split, model / "
        f"best pair model | {_g(_model_force_residual(test))} / "
        f"{_g(pair['force_residual_held_out'])} (pair fit {_g(pair['force_residual_fit'])}) |",
        f"| pentagonal share per T, model (N = {mc['n_particles']}) | "
        f"{_list(st['pentagonal_face_fraction'])} |",
        f"| ... best pair model, same N | {_list(st['pair_model']['pentagonal_face_fraction'])} |",
        f"| <0,0,12,0> fraction per T, model / best pair model | "
        f"{_list(st['icosahedral_fraction'])} / "
        f"{_list(st['pair_model']['icosahedral_fraction'])} |",
        f"| g(r) first peak, lowest T | r = {_g(st['gr_first_peak_nm'])} nm, height "
        f"{_g(st['gr_first_peak_height'])} |",
        f"| S(q) main peak, lowest T | q = {_g(st['sq_peak_per_nm'])} 1/nm, height "
        f"{_g(st['sq_peak_height'])} |",
        f"| displacement acceptance per T | {_list(mc['acceptance'], 2)} |",
        f"| replica-exchange acceptance per pair | {_list(mc['swap_acceptance'], 2)} |",
        f"| round trips (coldest -> hottest -> coldest) | {mc['round_trips']} |",
        f"| mean energy per particle per T (kT) | "
        f"{_list([e / mc['n_particles'] for e in mc['mean_energy']], 5)} |",
        "",
        "## Plots",
        "",
        "- `parity_energy.png`, `parity_forces.png`: model against DFT on the test split.",
        "- `learning_curve.png`: training and validation loss per epoch.",
        "- `rdf_lowest_T.png`, `structure_factor_lowest_T.png`: g(r) and S(q) at the lowest "
        "temperature, with random configurations for reference.",
        "- `icosahedral_fraction.png`: <0,0,12,0> fraction and pentagonal share of Voronoi "
        "faces (block errors) against temperature, model- and pair-driven.",
        "- `exchange_acceptance.png`: replica-exchange and displacement acceptance.",
        "- `rdf_model_vs_dft.png`: g(r) of model- and DFT-driven Monte Carlo at the DFT's N.",
        "",
        "## Reading the numbers",
        "",
        "- The cost ratio is measured here, at the DFT's N, on "
        f"{t['cores']} CPU core(s) with {cost['threads']} thread(s) for both; the model's "
        "advantage grows with N (DFT solves are global, the model's moves are local) and on "
        "a GPU.",
        "- The g(r) difference is meaningful only relative to the sampling noise (model vs "
        "model with another seed) and to how far the runs moved from their start; short "
        "runs that barely move agree trivially.",
        "- The icosahedral fraction is locally favoured order: a glass forming on cooling "
        "shows it above the random reference at low temperature. Exact <0,0,12,0> cells "
        "are rare in small bidisperse boxes; the pentagonal share of Voronoi faces measures "
        "the same fivefold order continuously.",
        "",
        *_study_findings(s),
        "## Stage timings",
        "",
        "| stage | status | wall (s) | CPU (s) |",
        "|---|---|---|---|",
    ]
    for name, stage in t["stages"].items():
        lines.append(
            f"| {name} | {stage['status']} | {stage['wall_s']:.1f} | {stage['cpu_s']:.1f} |"
        )
    lines += [
        f"| **all stages** | | {t['stages_wall_s']:.1f} | {t['stages_cpu_s']:.1f} |",
        "",
        f"This invocation: {t['this_run_wall_s']:.1f} s wall, {t['this_run_cpu_s']:.1f} s CPU "
        f"on {t['cores']} core(s) (reused stages cost nothing; their timings are from the "
        "run that produced them).",
        "",
    ]
    return "\n".join(lines)


def _study_findings(s: dict) -> list[str]:
    """The "what this run shows of the PGN study" section: which of the study's three
    findings a run of this size shows, the cheap signal it has for the second, and where
    the others are measured (docs/study.md, benchmarks/results/pgn_study/)."""
    mc, st, cost = s["mc"], s["analysis"], s["cost"]
    shares = st.get("pentagonal_face_fraction") or [st["pentagonal_face_fraction_lowest_T"]]
    random_share = st["pentagonal_face_fraction_random"]
    coldest, hottest = shares[0], shares[-1]
    if coldest > random_share and coldest > hottest:
        signal = "rises above the random reference on cooling: a first sign of fivefold order"
    elif coldest > random_share:
        signal = "lies above the random reference but does not grow on cooling"
    else:
        signal = "does not rise above the random reference: no fivefold order at this size"
    return [
        "## What this run shows of the PGN study",
        "",
        "The study reports three findings; a run of this size shows part of one and the "
        "scale of another:",
        "",
        "1. *Range, anisotropy and body order of the interactions from a hyperparameter "
        "study*: not shown here (one model is trained). The study's runs and their reading "
        "are in `docs/study.md` (section 1) and `benchmarks/results/pgn_study/`.",
        f"2. *Icosahedral order at equilibrium*: at N = {mc['n_particles']} and "
        f"{mc['sweeps']} sweeps, the pentagonal share of Voronoi faces per temperature "
        f"({_list(mc['temperatures'])}) is {_list(shares)} against {_g(random_share)} for "
        f"random configurations; it {signal}.{_pair_comparison(s)} Equilibrium order, and "
        "the many-body model against the pair model there, need N >= 1000 and long "
        "parallel tempering with hybrid moves (`docs/study.md`, sections 2 and 3).",
        f"3. *The model costs orders of magnitude less than the DFT*: here 10^"
        f"{_g(cost['log10_speedup_batched'], 2)} at N = {cost['n_particles']} (batched "
        "model calls); the ratio grows with N, and its growth is the subject of "
        "`docs/study.md`, section 3.",
        "",
    ]


def write_report(summary: dict, out_dir) -> None:
    """summary.json and report.md in out_dir."""
    out = Path(out_dir)
    write_json(out / "summary.json", summary)
    (out / "report.md").write_text(render(summary))
