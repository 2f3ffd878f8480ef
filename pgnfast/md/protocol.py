"""Multi-stage molecular dynamics (NPT and NVT, each with an optional linear temperature ramp) that
collects a frame every `frame_every` steps, with LAMMPS or with ASE's integrators.

Units: lengths Angstrom, energies eV, time fs, masses amu, temperatures K, pressures bar
(what the engines are given is converted: LAMMPS ``units metal`` takes ps, ASE its own time
unit). Both engines start from velocities drawn for `seed` at the first stage's temperature
with zero total momentum, and are deterministic for a seed (one process).

- LAMMPS: ``fix npt`` (Nose-Hoover, isotropic) and ``fix nvt`` (Nose-Hoover); a ramp is
  their ``temp start stop`` target across the stage. The pair style is given as LAMMPS
  commands.
- ASE: ``IsotropicMTKNPT`` for NPT (along a ramp, a new integrator at each frame's target
  temperature: a staircase, since MTK's target cannot be changed in place) and
  ``Langevin`` for NVT (target temperature updated every step along a ramp), with any ASE
  calculator (stress needed for NPT).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..validation import check_positive, check_seed

ENSEMBLES = ("npt", "nvt")


@dataclass(frozen=True)
class Stage:
    """One stage: `ensemble` "npt" or "nvt", `steps` timesteps at `temperature` K (ramped
    linearly to `temperature_end` K across the stage when given), `pressure` bar (NPT)."""

    ensemble: str
    steps: int
    temperature: float
    temperature_end: float | None = None
    pressure: float | None = None
    name: str = ""

    def __post_init__(self):
        label = f"stage {self.name or self.ensemble!r}"
        if self.ensemble not in ENSEMBLES:
            raise InputError(f"{label}: ensemble must be one of {ENSEMBLES}, got {self.ensemble!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, (int, np.integer)):
            raise InputError(f"{label}: steps must be an integer >= 0, got {self.steps!r}")
        if self.steps < 0:
            raise InputError(f"{label}: steps must be an integer >= 0, got {self.steps!r}")
        check_positive(self.temperature, f"{label}: temperature (K)")
        if self.temperature_end is not None:
            check_positive(self.temperature_end, f"{label}: temperature_end (K)")
        if self.ensemble == "npt":
            if self.pressure is None or not math.isfinite(float(self.pressure)):
                raise InputError(f"{label}: an NPT stage needs a finite pressure (bar)")
        elif self.pressure is not None:
            raise InputError(f"{label}: an NVT stage takes no pressure, got {self.pressure!r}")

    @property
    def final_temperature(self) -> float:
        return self.temperature if self.temperature_end is None else self.temperature_end

    def target(self, step_in_stage: int) -> float:
        """Target temperature (K) after `step_in_stage` steps of this stage."""
        if self.steps == 0:
            return self.final_temperature
        share = step_in_stage / self.steps
        return self.temperature + share * (self.final_temperature - self.temperature)


@dataclass(frozen=True)
class MDSettings:
    """Integration settings: `timestep` fs, a frame every `frame_every` steps (counted over
    all stages), thermostat and barostat damping times in fs (default 100 and 1000
    timesteps), and the random `seed` of the initial velocities (and of Langevin noise)."""

    timestep: float = 2.0
    frame_every: int = 100
    seed: int = 0
    thermostat_damping: float | None = None
    barostat_damping: float | None = None

    def __post_init__(self):
        check_positive(self.timestep, "timestep (fs)")
        if (
            isinstance(self.frame_every, bool)
            or not isinstance(self.frame_every, (int, np.integer))
            or self.frame_every < 1
        ):
            raise InputError(f"frame_every must be an integer >= 1, got {self.frame_every!r}")
        check_seed(self.seed)
        for name in ("thermostat_damping", "barostat_damping"):
            if getattr(self, name) is not None:
                check_positive(getattr(self, name), f"{name} (fs)")

    @property
    def tdamp(self) -> float:  # fs
        return self.thermostat_damping or 100.0 * self.timestep

    @property
    def pdamp(self) -> float:  # fs
        return self.barostat_damping or 1000.0 * self.timestep


def check_stages(stages) -> list[Stage]:
    """A non-empty list of Stage objects."""
    stages = list(stages)
    if not stages:
        raise InputError("stages must hold at least one Stage, got none")
    for index, stage in enumerate(stages):
        if not isinstance(stage, Stage):
            raise InputError(f"stages[{index}] must be a Stage, got {type(stage).__name__}")
    return stages


def chunks(stages: list[Stage], frame_every: int):
    """(stage index, steps in stage so far, chunk steps, global step after, take a frame)
    pieces that cover the stages and end at every multiple of `frame_every`."""
    step = 0
    for index, stage in enumerate(stages):
        done = 0
        while done < stage.steps:
            to_frame = frame_every - step % frame_every
            size = min(to_frame, stage.steps - done)
            step += size
            yield index, done, size, step, step % frame_every == 0
            done += size


def velocity_seed(seed: int) -> int:
    """A LAMMPS velocity seed (1 .. 2^31 - 2) derived from `seed`."""
    return int(np.random.default_rng(check_seed(seed)).integers(1, 2**31 - 1))


def frame_info(stage_index: int, stage: Stage, step: int, target: float) -> dict:
    return {
        "stage": stage_index,
        "stage_name": stage.name or stage.ensemble,
        "ensemble": stage.ensemble,
        "step": int(step),
        "target_temperature": float(target),
    }


__all__ = ["ENSEMBLES", "MDSettings", "Stage", "check_stages", "chunks", "velocity_seed"]
