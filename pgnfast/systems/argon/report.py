"""`report.md` of `pgnfast argon`, rendered from `summary.json` only (every number of the
report is in the JSON). Units Angstrom, eV, THz, 1/ps, K."""

from __future__ import annotations

from pathlib import Path

POINTS = ("X", "L")
PLOTS = (
    ("dispersion_dos.png", "0 K dispersion and density of states"),
    ("asymmetry.png", "Hessian asymmetry"),
    ("spectra.png", "finite-temperature current spectra at X and L"),
    ("peaks.png", "peak frequencies and widths against temperature"),
    ("vdos.png", "vibrational DOS from the velocity autocorrelation"),
    ("mep.png", "vacancy minimum-energy path (NEB and string)"),
    ("drift.png", "NVE energy drift"),
    ("arrhenius.png", "Arrhenius plot: harmonic rates and the MD hop rates of every model"),
)


def _number(value, digits=4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.{max(digits - 1, 1)}e}"
    return f"{value:.{digits}g}"


def _percent(value) -> str:
    return "" if value is None else f" ({value:+.2f} %)"


def _table(header, rows) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _zero_kelvin(models) -> list[str]:
    rows = []
    for name, m in models.items():
        cells = [name, f"{m['lattice_constant']:.5f} ({m['lattice_constant_method']})"]
        for point in POINTS:
            values = m["frequencies_thz"][point]
            errors = m["frequency_error_percent"][point]
            cells.append(f"{values[0]:.4f}{_percent(errors[0])}")
            cells.append(f"{values[2]:.4f}{_percent(errors[2])}")
        cells.append(f"{_number(m['hessian_asymmetry'], 3)} ({m['hessian_method']})")
        rows.append(cells)
    header = [
        "model",
        "a (A)",
        "X T (THz)",
        "X L (THz)",
        "L T (THz)",
        "L L (THz)",
        "Hessian asymmetry",
    ]
    notes = [f"- {name}: {m['note']}" for name, m in models.items() if m.get("note")]
    return _table(header, rows) + notes + ([""] if notes else [])


def _vacancy(models) -> list[str]:
    rows, rates_rows, notes = [], [], []
    for name, m in models.items():
        v = m["vacancy"]
        if "error" in v:
            notes.append(f"- {name}: {v['error']}")
            continue
        e = v["error_percent"]
        rows.append(
            [
                name,
                f"{_number(v['formation_energy_constant_volume'])}"
                f"{_percent(e['formation_energy_constant_volume'])}",
                f"{_number(v['formation_energy_zero_pressure'])}"
                f"{_percent(e['formation_energy_zero_pressure'])}",
                f"{_number(v['migration_energy_neb'])}{_percent(e['migration_energy_neb'])}",
                f"{_number(v['migration_energy_string'])}{_percent(e['migration_energy_string'])}",
                str(v["saddle_negative_modes"]),
                "yes" if v["neb_converged"] and v["string_converged"] else "no",
            ]
        )
        for t, rate in v["harmonic_rates_per_ps"].items():
            rates_rows.append(
                [
                    name,
                    _number(v["vineyard_prefactor_per_ps"]),
                    t,
                    _number(rate["per_path"], 3),
                    _number(rate["total"], 3),
                ]
            )
    header = [
        "model",
        "E_f const V (eV)",
        "E_f P=0 (eV)",
        "E_m NEB (eV)",
        "E_m string (eV)",
        "saddle negative modes",
        "bands converged",
    ]
    lines = _table(header, rows)
    lines += _table(
        [
            "model",
            "Vineyard prefactor (1/ps, per path)",
            "T (K)",
            "rate per path (1/ps)",
            "total rate, 12 paths (1/ps)",
        ],
        rates_rows,
    )
    return lines + notes + ([""] if notes else [])


def _spectra(models) -> list[str]:
    rows = []
    for name, m in models.items():
        for t, points in m["finite_temperature_peaks"].items():
            cells = [name, t]
            for point in POINTS:
                for branch in ("transverse", "longitudinal"):
                    fit = points.get(point, {}).get(branch, {})
                    if "frequency" in fit:
                        cells.append(f"{fit['frequency']:.3f} ({fit['width']:.3f})")
                    else:
                        cells.append("fit failed")
            rows.append(cells)
    header = ["model", "T (K)", "X T", "X L", "L T", "L L"]
    return _table(header, rows)


def _drift(models) -> list[str]:
    rows = []
    for name, m in models.items():
        d = m["drift"]
        if "error" in d:
            rows.append([name, "failed: " + d["error"], "", "", "", "", ""])
            continue
        rows.append(
            [
                name,
                d["energy_source"],
                _number(d["drift_ev_per_atom_per_ns"], 3),
                _number(d["fluctuation_ev_per_atom"], 3),
                d["num_atoms"],
                f"{d['duration_ps']:g}",
                f"{d['mean_temperature_k']:.1f}",
            ]
        )
    header = [
        "model",
        "energy",
        "drift (eV/atom/ns)",
        "RMS about line (eV/atom)",
        "atoms",
        "ps",
        "mean T (K)",
    ]
    return _table(header, rows)


def _hops(hops) -> list[str]:
    if "skipped" in hops:
        return [f"Skipped: {hops['skipped']}", ""]
    rows = [
        [
            t,
            run["hops"],
            f"{run['time_ps']:g}",
            f"{_number(run['rate'], 3)} +- {_number(run['rate_error'], 2)}",
            "yes" if run["melted"] else "no",
            f"{run['lowest_crystalline']:.3f}",
        ]
        for t, run in hops["runs"].items()
    ]
    lines = [
        f"LAMMPS `lj/cut`, {hops['n_atoms']} atoms, {hops['ensemble'].upper()} at the exact "
        f"0 K lattice constant {hops['lattice_constant']:.5f} A (the short version: see "
        "examples/argon.yaml for the full runs).",
        "",
    ]
    lines += _table(
        ["T (K)", "hops", "time (ps)", "rate (1/ps)", "melted", "lowest crystalline fraction"],
        rows,
    )
    fit = hops.get("arrhenius")
    if fit:
        lines += [
            f"Arrhenius fit: barrier {fit['barrier']:.4f} +- {fit['barrier_error']:.4f} eV, "
            f"prefactor {_number(fit['prefactor'])} +- {_number(fit['prefactor_error'])} 1/ps.",
            "",
        ]
    else:
        lines += ["No Arrhenius fit (it needs hops at two or more temperatures).", ""]
    return lines


def _model_hops(entries) -> list[str]:
    """The models' hop runs (fix external) beside their own harmonic rates."""
    if "skipped" in entries:
        return [f"Skipped: {entries['skipped']}", ""]
    rows, notes = [], []
    for name, entry in entries.get("models", {}).items():
        if "error" in entry:
            notes.append(f"- {name}: {entry['error']}")
            continue
        for t, run in entry["runs"].items():
            speed = run.get("steps_per_second")
            rows.append(
                [
                    name,
                    t,
                    f"{entry['lattice_constant']:.5f}",
                    run["hops"],
                    f"{run['time_ps']:g}",
                    f"{_number(run['rate'], 3)} +- {_number(run['rate_error'], 2)}",
                    _number(run.get("harmonic_rate"), 3),
                    "yes" if run["melted"] else "no",
                    f"{run['md_seconds']:.0f}" if run.get("md_seconds") else "-",
                    f"{speed:.1f}" if speed else "-",
                ]
            )
    if not rows and not notes:
        return ["No model hop run (model_hops.models is empty).", ""]
    lines = [
        "LAMMPS integrating the models' forces (fix external), each at its own 0 K lattice "
        "constant (the direct-force model at the exact one); the harmonic rate is the model's "
        "own Vineyard rate over 12 paths. A run with no hop bounds the rate by about one hop "
        "in its time.",
        "",
    ]
    header = [
        "model",
        "T (K)",
        "a (A)",
        "hops",
        "time (ps)",
        "MD rate (1/ps)",
        "harmonic rate (1/ps)",
        "melted",
        "MD wall (s)",
        "steps/s",
    ]
    lines += _table(header, rows) if rows else []
    for name, entry in entries.get("models", {}).items():
        fit = entry.get("arrhenius")
        if fit:
            lines.append(
                f"- {name}: Arrhenius barrier {fit['barrier']:.4f} +- {fit['barrier_error']:.4f} "
                f"eV, prefactor {_number(fit['prefactor'])} 1/ps."
            )
    return [*lines, *notes, ""]


def _goals(goals) -> list[str]:
    lines = []
    for name, goal in goals.items():
        if "phonons_met" in goal:
            lines.append(
                f"- {name}: X and L frequencies within 2 %: "
                f"{'met' if goal['phonons_met'] else 'not met'} (worst "
                f"{goal['phonon_worst_error_percent']:.2f} %)"
            )
        if "vacancy_met" in goal:
            lines.append(
                f"- {name}: vacancy formation and migration energies within 5 %: "
                f"{'met' if goal['vacancy_met'] else 'not met'} (worst "
                f"{goal['vacancy_worst_error_percent']:.2f} %)"
            )
        if "arrhenius_barrier_vs_neb_percent" in goal:
            lines.append(
                f"- {name}: Arrhenius barrier within 10 % of the NEB barrier: "
                f"{'met' if goal['met'] else 'not met'} "
                f"({goal['arrhenius_barrier_vs_neb_percent']:+.2f} %)"
            )
    return [*lines, ""]


def _force_rmse(entry) -> str:
    test = entry.get("test") or {}
    return _number(test.get("force_rmse", test.get("forces_rmse_eV_per_Angstrom")), 3)


BAR_PER_EV_PER_ANGSTROM3 = 1.602176634e-19 / 1e-30 / 1e5


def _stress_errors(training) -> str:
    """ " Test-set virial stress errors (bar): ..." for the models trained on stress."""
    parts = []
    for name, entry in training.items():
        test = entry.get("test") or {}
        if "stress_rmse_eV_per_Angstrom3" in test:
            rmse = test["stress_rmse_eV_per_Angstrom3"] * BAR_PER_EV_PER_ANGSTROM3
            rms = test["stress_rms_label_eV_per_Angstrom3"] * BAR_PER_EV_PER_ANGSTROM3
            parts.append(f"{name} RMSE {rmse:.1f} (labels' RMS {rms:.1f})")
    return f" Test-set virial stress errors (bar): {', '.join(parts)}." if parts else ""


def render(summary: dict) -> str:
    """The report's Markdown text from a summary dict."""
    models = summary["models"]
    data, training = summary["data"], summary["training"]
    timings = summary["timings"]
    lines = [
        "# Lennard-Jones argon: NequIP and a direct-force model against the exact potential",
        "",
        f"Training data: {data['frames']} frames of {data['atoms_per_frame']} atoms from "
        f"{data['trajectories']} trajectories ({data['engine']}), crystal and liquid only, "
        "no vacancy. Test-set force errors (eV/A): "
        + ", ".join(f"{name} RMSE {_force_rmse(entry)}" for name, entry in training.items())
        + "."
        + _stress_errors(training),
        "",
        "Percentages are errors against the exact potential. Units: Angstrom, eV, THz, 1/ps.",
        "",
        "## Phonons at 0 K",
        "",
        "Each model at its own relaxed 0 K lattice constant (the direct-force model, which has "
        "no energy, at the exact one); X and L: transverse (T) and longitudinal (L) branches.",
        "",
        *_zero_kelvin(models),
        "## Phonons at finite temperature",
        "",
        "Peak frequency (width, FWHM) in THz from the current correlations at X and L.",
        "",
        *_spectra(models),
        "## The vacancy",
        "",
        *_vacancy(models),
        "## NVE energy drift",
        "",
        *_drift(models),
        "## Hop rates of the exact potential",
        "",
        *_hops(summary["hops"]),
        "## Hop rates of the models",
        "",
        *_model_hops(summary.get("model_hops", {})),
        "## Goals (issue 14)",
        "",
        *_goals(summary.get("goals", {})),
        "## Plots",
        "",
        *[f"- [{title}]({name})" for name, title in PLOTS],
        "",
        "## Timings",
        "",
        *_table(
            ["stage", "status", "wall (s)", "CPU (s)"],
            [
                [n, s["status"], f"{s['wall_s']:.1f}", f"{s['cpu_s']:.1f}"]
                for n, s in timings["stages"].items()
            ],
        ),
        f"This run: {timings.get('this_run_wall_s', 0.0):.1f} s wall.",
        "",
    ]
    return "\n".join(lines)


def write_report(summary: dict, out) -> Path:
    """Write `out`/report.md; returns its path."""
    from ..._atomic import atomic_path

    path = Path(out) / "report.md"
    text = render(summary)
    with atomic_path(path) as temporary:
        Path(temporary).write_text(text)
    return path


__all__ = ["PLOTS", "render", "write_report"]
