"""`run_pipeline(config, out_dir)`: one PGN design from DFT labels to glass structure.

The stages (labels, train, cost, mc, pair_mc, compare, analysis; one module each in
`pgnfast.systems.pgn.stages`) run in order, each in its own folder of `out_dir`, reused
when its key (the configuration fields it reads and its inputs' keys) is unchanged and
resumed after an interruption. Then `report.md`, `summary.json` (every number in the
report) and the PNGs are written to `out_dir`. Units: nm, kT; temperatures in multiples of
kT.
"""

from __future__ import annotations

import shutil
import time
from functools import partial
from pathlib import Path

from pgnfast.errors import InputError

from .config import PipelineConfig
from .stages import (
    MODULES,
    STAGES,
    ConfigView,
    StageInput,
    StageRunner,
    TrainedModel,
    cpu_seconds,
    process_rank,
    stage_keys,
)
from .stages.helpers import (
    cores,
    mean_abs_difference,
    pentagonal_face_fraction,
    plain,
    read_trajectory,
    say,
)

PLOTS = {  # report name -> (stage, file in the stage folder)
    name: (module.NAME, name) for module in MODULES for name in module.PLOTS
}

__all__ = [
    "PLOTS",
    "STAGES",
    "Pipeline",
    "mean_abs_difference",
    "pentagonal_face_fraction",
    "plain",
    "read_trajectory",
    "run_pipeline",
]


def _run_stage(module, config: ConfigView, inputs: dict, folder: Path, _resuming: bool) -> dict:
    """A StageRunner function: the stage's run (a stage resumes from what its folder holds;
    the runner clears a folder started with another key)."""
    return module.run(config, folder, inputs)


def _set_threads(threads: int) -> None:
    import numba
    import torch

    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


class Pipeline:
    """The stages of one design in `out_dir` (see the module docstring)."""

    def __init__(self, config: PipelineConfig, out_dir):
        self.config = config
        self.out = Path(out_dir)
        self.runner = StageRunner(self.out)
        self.design = config.pgn_design()
        self.threads = int(config.threads or cores())
        self._models: dict = {}  # device -> the trained model, shared by the stages

    def keys(self) -> dict:
        """Stage name -> key: a stage's identity is the fields it reads and its inputs'."""
        return stage_keys(self.config)

    def model(self, path=None):
        """The trained NequIP model on config.device (loaded once); `path`: another model
        file instead of train/best_model.pt."""
        if path is not None:
            from pgnfast.nn.io import load_model

            return load_model(path, units="pgn", map_location=self.config.device)
        return self._trained().model(self.config.device)

    def model_potential(self, core_exclusion: bool = True):
        """The model behind the potential protocol, with the DFT's hard-core rule added."""
        design = self.design if core_exclusion else None
        return self._trained().potential(self.config.device, core_exclusion_for=design)

    def _trained(self, results: dict | None = None) -> TrainedModel:
        return TrainedModel(self.out / "train", results, models=self._models)

    def _selected(self, stages, keys: dict) -> set[str]:
        """The stages to run: `stages` (default all), each of whose inputs must run before it
        or be recorded with its current key. On a torchrun rank > 0 only train (rank 0 may
        still be doing its inputs)."""
        selected = set(STAGES if stages is None else stages)
        unknown = selected - set(STAGES)
        if unknown:
            raise InputError(f"unknown stages {sorted(unknown)}; choose from {STAGES}")
        if process_rank() > 0:
            return selected & {"train"}
        for module in MODULES:
            for name in module.INPUTS if module.NAME in selected else ():
                record = self.runner.records.get(name) or {}
                if name not in selected and record.get("key") != keys[name]:
                    raise InputError(
                        f"stage {module.NAME!r} needs stage {name!r}, which is not done with "
                        f"this configuration in {self.out}; run it first (or leave out --stages)"
                    )
        return selected

    def _inputs(self, module, results: dict) -> dict:
        """The StageInput of every stage `module` depends on (results None on a torchrun
        rank > 0, which uses only the folders)."""
        return {
            name: self._trained(results.get(name))
            if name == "train"
            else StageInput(self.out / name, results.get(name))
            for name in module.INPUTS
        }

    def run(self, stages=None) -> dict | None:
        """Run (or reuse) every stage and write the report; returns the summary dict.

        stages: names to run (default all); the others are taken from earlier runs when
        recorded with the current configuration. Returns None (and writes no report) while
        some stage has no results. Under torchrun, ranks other than 0 only train."""
        import yaml
        from tqdm.auto import tqdm  # noqa: F401  (progress bars of every stage)

        wall, cpu = time.perf_counter(), cpu_seconds()
        keys = self.keys()
        selected = self._selected(stages, keys)
        _set_threads(self.threads)
        (self.out / "config.yaml").write_text(
            yaml.safe_dump(self.config.to_dict(), sort_keys=False)
        )
        results = {}
        for index, module in enumerate(MODULES, 1):
            name = module.NAME
            if name not in selected:
                found = self.runner.recorded(name, keys[name])
                if found is not None:
                    results[name] = found
                continue
            say(self.config, f"[{index}/{len(MODULES)}] {module.TITLE} ({self.out / name})")
            view = ConfigView(self.config, module.READS + module.SETTINGS, name)
            inputs = self._inputs(module, results)
            run_stage = partial(_run_stage, module, view, inputs)
            results[name] = self.runner.run(name, keys[name], run_stage, module.OUTPUTS)
            if process_rank() > 0:
                continue
            outcome = self.runner.outcomes[name]
            say(
                self.config,
                f"      {outcome.status}: {outcome.wall_s:.1f} s wall, {outcome.cpu_s:.1f} s CPU",
            )
        missing = [name for name in STAGES if name not in results]
        if missing or process_rank() > 0:
            say(self.config, f"stages not done yet: {missing}; no report written")
            return None
        summary = self._summary(results, time.perf_counter() - wall, cpu_seconds() - cpu)
        from .report import write_report

        for target, (stage, name) in PLOTS.items():
            source = self.out / stage / name
            if source.exists():
                shutil.copyfile(source, self.out / target)
        write_report(summary, self.out)
        say(self.config, f"report: {self.out / 'report.md'}")
        return summary

    def _summary(self, results: dict, wall: float, cpu: float) -> dict:
        stages = {
            name: {"status": o.status, "wall_s": o.wall_s, "cpu_s": o.cpu_s}
            for name, o in self.runner.outcomes.items()
        }
        return plain(
            {
                "name": self.config.name,
                "seed": self.config.seed,
                "design": self.design.to_dict(),
                "design_derived": {
                    "chains_per_core": self.design.chains_per_core,
                    "chain_size_nm": self.design.chain_size,
                    "core_volume_fraction": self.design.core_volume_fraction(),
                },
                **results,
                "timings": {
                    "stages": stages,
                    "this_run_wall_s": wall,
                    "this_run_cpu_s": cpu,
                    "stages_wall_s": sum(s["wall_s"] for s in stages.values()),
                    "stages_cpu_s": sum(s["cpu_s"] for s in stages.values()),
                    "cores": cores(),
                },
            }
        )


def run_pipeline(config: PipelineConfig, out_dir) -> dict:
    """Run (or resume) every stage for `config` in `out_dir`; returns the summary dict."""
    return Pipeline(config, out_dir).run()
