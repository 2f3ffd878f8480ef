"""`run_argon(config, out)`: the whole argon study of issue 14 in one folder.

The stages of :mod:`.stages` (data, models, phonons, spectra, vacancy, drift, hops,
model_hops) run in order, each in its own folder of `out` keyed by a hash of the
configuration fields it reads and of its inputs' keys (:mod:`pgnfast._stages`): a rerun
reuses every finished stage, a changed field reruns exactly the stages that read it and
those after them, and an interrupted stage resumes from its own checkpoints (training,
spectra trajectories, hop runs). Then `summary.json` (every number of the report),
`report.md` and the plots are written to `out`. Units Angstrom, eV, fs, amu, K;
frequencies THz; rates per ps.
"""

from __future__ import annotations

import shutil
import time
from functools import partial
from pathlib import Path

import yaml

from ..._atomic import write_json
from ..._stages import ConfigView, StageRunner, cpu_seconds, stage_key
from ...errors import InputError
from .config import ArgonRunConfig
from .stages import SETTINGS, STAGES


def stage_keys(config: ArgonRunConfig) -> dict:
    """Stage name -> key (16 hex digits), in order."""
    keys: dict[str, str] = {}
    for name, (_, reads, inputs, _, _) in STAGES.items():
        keys[name] = stage_key(config, reads, {i: keys[i] for i in inputs})
    return keys


def _call(function, view, inputs, folder: Path, _resuming: bool) -> dict:
    return function(view, folder, inputs)


def _say(config, text: str) -> None:
    if config.progress:
        print(text, flush=True)


def _plain(value):
    """JSON-able copy: numpy scalars and arrays to Python numbers and lists."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def run_argon(config: ArgonRunConfig, out) -> dict:
    """Run (or reuse) every stage in `out` and write summary.json, report.md and the plots;
    returns the summary dict."""
    if not isinstance(config, ArgonRunConfig):
        raise InputError(f"config must be an ArgonRunConfig, got {type(config).__name__}")
    import torch

    out = Path(out)
    if config.threads:
        torch.set_num_threads(config.threads)
    wall, cpu = time.perf_counter(), cpu_seconds()
    runner = StageRunner(out)
    (out / "config.yaml").write_text(yaml.safe_dump(_plain(config.to_dict()), sort_keys=False))
    keys = stage_keys(config)
    results: dict = {}
    for index, (name, (function, reads, needs, outputs, _)) in enumerate(STAGES.items(), 1):
        _say(config, f"[{index}/{len(STAGES)}] {name} ({out / name})")
        view = ConfigView(config, (*reads, *SETTINGS), name)
        inputs = {n: (out / n, results[n]) for n in needs}
        found = runner.run(name, keys[name], partial(_call, function, view, inputs), outputs)
        results[name] = _plain(found)
        outcome = runner.outcomes[name]
        _say(
            config,
            f"      {outcome.status}: {outcome.wall_s:.1f} s wall, {outcome.cpu_s:.1f} s CPU",
        )
    summary = build_summary(config, results, runner)
    summary["timings"]["this_run_wall_s"] = time.perf_counter() - wall
    summary["timings"]["this_run_cpu_s"] = cpu_seconds() - cpu
    for name, (*_, plots) in STAGES.items():
        for plot in plots:
            source = out / name / plot
            if source.exists():
                shutil.copyfile(source, out / plot)
    from .report import write_report

    write_json(out / "summary.json", summary)
    write_report(summary, out)
    _say(config, f"report: {out / 'report.md'}")
    return summary


EXACT_KEYS = {"migration_energy_neb": "neb_barrier", "migration_energy_string": "string_barrier"}


def _percent(value, reference):
    if value is None or reference in (None, 0):
        return None
    return 100.0 * (value - reference) / abs(reference)


def _peaks(spectra: dict, name: str) -> dict:
    """{T: {point: {branch: {frequency, width, lifetime}}}} of one model's spectra."""
    entry = spectra.get("models", {}).get(name, {})
    table = {}
    for t, data in entry.get("temperatures", {}).items():
        table[t] = {
            point: {
                branch: {
                    k: fit.get(k) for k in ("frequency", "width", "lifetime", "error") if k in fit
                }
                for branch, fit in branches.items()
            }
            for point, branches in data["peaks"].items()
        }
    return table


def _goals(entry: dict) -> dict:
    """Issue 14's goals for one model: X and L frequencies within 2 % of the exact ones,
    vacancy formation (constant volume) and migration (NEB) energies within 5 %."""
    worst = max(abs(e) for point in ("X", "L") for e in entry["frequency_error_percent"][point])
    goals = {"phonon_worst_error_percent": worst, "phonons_met": worst <= 2.0}
    vacancy = entry["vacancy"].get("error_percent")
    if vacancy:
        keys = ("formation_energy_constant_volume", "migration_energy_neb")
        worst = max(abs(vacancy[k]) for k in keys)
        goals.update(vacancy_worst_error_percent=worst, vacancy_met=worst <= 5.0)
    return goals


def build_summary(config: ArgonRunConfig, results: dict, runner: StageRunner) -> dict:
    """summary.json: per model the report's numbers, with % errors against the exact
    potential; the stages' raw results; the hop run; timings."""
    from .stages import EXACT, MODEL_NAMES

    phonons = results["phonons"]["models"]
    vacancy = results["vacancy"]["models"]
    exact_ph, exact_vac = phonons[EXACT], vacancy.get(EXACT, {})
    models = {}
    for name in MODEL_NAMES:
        ph, vac = phonons[name], vacancy.get(name, {})
        frequencies = ph["frequencies_thz"]
        entry = {
            "lattice_constant": ph["lattice_constant"],
            "lattice_constant_method": ph["relaxation"],
            "hessian_method": ph["hessian_method"],
            "hessian_asymmetry": ph["asymmetry"],
            "note": ph.get("note"),
            "frequencies_thz": {p: frequencies[p] for p in ("X", "L")},
            "frequency_error_percent": {
                p: [_percent(v, r) for v, r in zip(frequencies[p], exact_ph["frequencies_thz"][p])]
                for p in ("X", "L")
            },
            "finite_temperature_peaks": _peaks(results["spectra"], name),
            "drift": results["drift"]["models"][name],
        }
        if "error" in vac:
            entry["vacancy"] = {"error": vac["error"]}
        else:
            values = {
                "formation_energy_constant_volume": vac["formation_energy_constant_volume"],
                "formation_energy_zero_pressure": vac["formation_energy_zero_pressure"],
                "migration_energy_neb": vac["neb_barrier"],
                "migration_energy_string": vac["string_barrier"],
            }
            entry["vacancy"] = {
                **values,
                "error_percent": {
                    key: _percent(value, exact_vac.get(EXACT_KEYS.get(key, key)))
                    for key, value in values.items()
                },
                "saddle_negative_modes": vac["vineyard"].get("saddle_negative_modes"),
                "vineyard_prefactor_per_ps": vac["vineyard"].get("prefactor"),
                "saddle_check_error": vac["vineyard"].get("error"),
                "harmonic_rates_per_ps": vac["harmonic_rates_per_ps"],
                "neb_converged": vac["neb"]["converged"],
                "string_converged": vac["string"]["converged"],
            }
        models[name] = entry
    goals = {name: _goals(entry) for name, entry in models.items() if name != EXACT}
    fit, barrier = (results["hops"].get("arrhenius") or {}), exact_vac.get("neb_barrier")
    if fit and barrier:
        error = _percent(fit["barrier"], barrier)
        goals[EXACT] = {"arrhenius_barrier_vs_neb_percent": error, "met": abs(error) <= 10.0}
    stages = {
        name: {"status": o.status, "wall_s": o.wall_s, "cpu_s": o.cpu_s}
        for name, o in runner.outcomes.items()
    }
    return _plain(
        {
            "units": {
                "length": "Angstrom",
                "energy": "eV",
                "time": "fs",
                "mass": "amu",
                "frequency": "THz",
                "rate": "1/ps",
                "drift": "eV/atom/ns",
            },
            "config": config.to_dict(),
            "data": results["data"],
            "training": results["models"],
            "models": models,
            "hops": results["hops"],
            "model_hops": results["model_hops"],
            "goals": goals,
            "stages": results,
            "timings": {
                "stages": stages,
                "stages_wall_s": sum(s["wall_s"] for s in stages.values()),
                "stages_cpu_s": sum(s["cpu_s"] for s in stages.values()),
            },
        }
    )


__all__ = ["build_summary", "run_argon", "stage_keys"]
