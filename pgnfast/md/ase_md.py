"""ASE's integrators with pgnfast potentials and models.

- :func:`run_ase`: :class:`~pgnfast.md.protocol.Stage` lists (IsotropicMTKNPT, Langevin
  with the centre of mass held by FixCom) with any ASE calculator: the fallback engine of
  the data protocol where LAMMPS is missing (see :mod:`pgnfast.md.protocol`).
- :func:`run_md`: one run of a chosen integrator (velocity Verlet NVE, Langevin,
  Nose-Hoover chain NVT, isotropic MTK NPT) with any pgnfast potential, model or model file
  (through :class:`~pgnfast.md.calculator.ModelCalculator`) or any ASE calculator,
  recording energies and optionally positions. Units Angstrom, eV, fs, amu, K, bar.
"""

from __future__ import annotations

import time

import ase
import ase.units
import numpy as np
from ase.calculators.calculator import Calculator
from ase.constraints import FixCom
from ase.md import velocitydistribution
from ase.md.langevin import Langevin
from ase.md.nose_hoover_chain import IsotropicMTKNPT, NoseHooverChainNVT
from ase.md.velocitydistribution import Stationary
from ase.md.verlet import VelocityVerlet

from ..errors import InputError
from ..validation import check_positive, check_seed
from .protocol import MDSettings, check_stages, chunks, frame_info

INTEGRATORS = ("verlet", "langevin", "nose-hoover", "mtk-npt")


def _integrator(atoms, stage, settings: MDSettings, rng, temperature=None):
    """The integrator of `stage` at `temperature` K (default: the stage's start)."""
    temperature = stage.temperature if temperature is None else temperature
    timestep = settings.timestep * ase.units.fs
    # Langevin's noise would move the centre of mass: FixCom holds it (MTK conserves it
    # and refuses constraints)
    atoms.set_constraint(FixCom() if stage.ensemble == "nvt" else None)
    if stage.ensemble == "npt":
        return IsotropicMTKNPT(
            atoms,
            timestep,
            temperature_K=temperature,
            pressure_au=float(stage.pressure) * ase.units.bar,
            tdamp=settings.tdamp * ase.units.fs,
            pdamp=settings.pdamp * ase.units.fs,
        )
    return Langevin(
        atoms,
        timestep,
        temperature_K=temperature,
        friction=1.0 / (settings.tdamp * ase.units.fs),
        fixcm=False,
        rng=rng,
    )


def run_ase(atoms, stages, calculator, settings: MDSettings | None = None) -> list:
    """Frames (ase.Atoms copies with positions, cell and velocities; ``info`` names stage,
    step and target temperature) of an MD run through `stages` from `atoms` with the ASE
    `calculator` (it must give stress for NPT stages)."""
    stages = check_stages(stages)
    settings = settings or MDSettings()
    if not isinstance(atoms, ase.Atoms) or len(atoms) == 0:
        raise InputError("atoms must be a non-empty ase.Atoms (the start of the run)")
    rng = np.random.default_rng(settings.seed)
    atoms = atoms.copy()
    atoms.calc = calculator
    # ASE >= 3.29 names it thermalize_momenta (MaxwellBoltzmannDistribution deprecated)
    thermalize = getattr(
        velocitydistribution,
        "thermalize_momenta",
        velocitydistribution.MaxwellBoltzmannDistribution,
    )
    thermalize(atoms, temperature_K=stages[0].temperature, rng=rng)
    Stationary(atoms)
    frames, current, dynamics = [], None, None
    for index, done, size, step, take in chunks(stages, settings.frame_every):
        stage = stages[index]
        ramped = stage.temperature_end is not None
        if stage.ensemble == "npt" and ramped:
            # MTK's target cannot change in place: a staircase, one integrator per chunk at
            # the ramp's temperature in the middle of the chunk
            middle = stage.target(done + size / 2)
            dynamics, current = _integrator(atoms, stage, settings, rng, middle), index
        elif current != index:
            dynamics, current = _integrator(atoms, stage, settings, rng), index
        if stage.ensemble == "nvt" and ramped:
            for k in range(size):
                dynamics.set_temperature(temperature_K=stage.target(done + k))
                dynamics.run(1)
        else:
            dynamics.run(size)
        if take:
            frame = atoms.copy()
            frame.calc = None
            frame.set_constraint()
            frame.info.update(frame_info(index, stage, step, stage.target(done + size)))
            frames.append(frame)
    return frames


def thermalize(atoms, temperature: float, seed: int) -> None:
    """Maxwell-Boltzmann velocities at `temperature` K for `seed`, zero total momentum."""
    rng = np.random.default_rng(check_seed(seed))
    draw = getattr(
        velocitydistribution,
        "thermalize_momenta",
        velocitydistribution.MaxwellBoltzmannDistribution,
    )
    draw(atoms, temperature_K=check_positive(temperature, "temperature (K)"), rng=rng)
    Stationary(atoms)


def make_dynamics(
    atoms,
    integrator: str,
    timestep: float,
    *,
    temperature: float | None = None,
    pressure: float | None = None,
    thermostat_damping: float | None = None,
    barostat_damping: float | None = None,
    seed: int = 0,
):
    """An ASE dynamics object on `atoms` (its calculator set). integrator: "verlet" (NVE),
    "langevin" (friction 1 / thermostat_damping), "nose-hoover" (NoseHooverChainNVT) or
    "mtk-npt" (IsotropicMTKNPT, needs stress); timestep and damping times in fs (default
    100 and 1000 timesteps), temperature K, pressure bar."""
    if integrator not in INTEGRATORS:
        raise InputError(f"integrator must be one of {INTEGRATORS}, got {integrator!r}")
    dt = check_positive(timestep, "timestep (fs)") * ase.units.fs
    tdamp = (thermostat_damping or 100.0 * timestep) * ase.units.fs
    pdamp = (barostat_damping or 1000.0 * timestep) * ase.units.fs
    if integrator == "verlet":
        return VelocityVerlet(atoms, dt)
    if temperature is None:
        raise InputError(f"integrator {integrator!r} needs a temperature (K)")
    temperature = check_positive(temperature, "temperature (K)")
    if integrator == "langevin":
        rng = np.random.default_rng(check_seed(seed))
        atoms.set_constraint(FixCom())  # Langevin's noise would move the centre of mass
        return Langevin(
            atoms, dt, temperature_K=temperature, friction=1.0 / tdamp, fixcm=False, rng=rng
        )
    if integrator == "nose-hoover":
        return NoseHooverChainNVT(atoms, dt, temperature_K=temperature, tdamp=tdamp)
    if pressure is None or not np.isfinite(float(pressure)):
        raise InputError("integrator 'mtk-npt' needs a finite pressure (bar)")
    return IsotropicMTKNPT(
        atoms,
        dt,
        temperature_K=temperature,
        pressure_au=float(pressure) * ase.units.bar,
        tdamp=tdamp,
        pdamp=pdamp,
    )


def run_md(
    atoms,
    source,
    *,
    steps: int,
    timestep: float,
    integrator: str = "verlet",
    temperature: float | None = None,
    pressure: float | None = None,
    initial_temperature: float | None = None,
    thermostat_damping: float | None = None,
    barostat_damping: float | None = None,
    record_every: int = 1,
    keep_positions: bool = False,
    seed: int = 0,
    skin: float = 0.0,
    units=None,
) -> dict:
    """Run `steps` of `integrator` from `atoms` (positions Angstrom, velocities in ASE units;
    masses amu) with `source`: an ASE calculator, or anything
    :class:`~pgnfast.md.calculator.ModelCalculator` takes (a pgnfast potential, a NequIP
    or direct-force model, a model file checked against `units`).

    initial_temperature (K): draw velocities for `seed` first; None keeps the atoms'.
    Returns, every `record_every` steps from step 0 (arrays): "step", "time_fs",
    "kinetic_energy" eV, "temperature" K, "potential_energy" eV (NaN for a model without an
    energy), "volume" Angstrom^3, and when keep_positions "positions" (K, N, 3) Angstrom,
    "velocities" (K, N, 3) Angstrom/fs and "cells" (K, 3, 3); plus the final "atoms" and
    "dynamics_seconds" (wall time of the steps, recording and set-up left out)."""
    if not isinstance(atoms, ase.Atoms) or len(atoms) == 0:
        raise InputError("atoms must be a non-empty ase.Atoms (the start of the run)")
    for name, value, low in (("steps", steps, 0), ("record_every", record_every, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
    if isinstance(source, Calculator):
        calculator = source
    else:
        from .calculator import ModelCalculator

        calculator = ModelCalculator(
            source, units=units, skin=skin, always_stress=integrator == "mtk-npt"
        )
    atoms = atoms.copy()
    atoms.calc = calculator
    if initial_temperature is not None:
        thermalize(atoms, initial_temperature, seed)
    dynamics = make_dynamics(
        atoms,
        integrator,
        timestep,
        temperature=temperature,
        pressure=pressure,
        thermostat_damping=thermostat_damping,
        barostat_damping=barostat_damping,
        seed=seed,
    )
    has_energy = "energy" in getattr(calculator, "implemented_properties", ("energy",))
    record = {key: [] for key in ("step", "kinetic_energy", "temperature", "potential_energy")}
    record.update(volume=[], positions=[], velocities=[], cells=[])

    def observe(step):
        record["step"].append(step)
        record["kinetic_energy"].append(atoms.get_kinetic_energy())
        record["temperature"].append(atoms.get_temperature())
        energy = atoms.get_potential_energy() if has_energy else np.nan
        record["potential_energy"].append(energy)
        record["volume"].append(atoms.get_volume() if all(atoms.pbc) else np.nan)
        if keep_positions:
            record["positions"].append(atoms.get_positions())
            record["velocities"].append(atoms.get_velocities() * ase.units.fs)
            record["cells"].append(atoms.cell[:].copy())

    observe(0)
    done, seconds = 0, 0.0
    while done < steps:
        size = min(record_every, steps - done)
        started = time.perf_counter()
        dynamics.run(size)
        seconds += time.perf_counter() - started
        done += size
        if done % record_every == 0 or done == steps:
            observe(done)
    out = {key: np.asarray(value) for key, value in record.items() if value}
    out["time_fs"] = out["step"] * float(timestep)
    out["atoms"] = atoms
    out["dynamics_seconds"] = seconds
    return out


__all__ = ["INTEGRATORS", "make_dynamics", "run_ase", "run_md", "thermalize"]
