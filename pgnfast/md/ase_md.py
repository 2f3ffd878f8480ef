"""Run :class:`~pgnfast.md.protocol.Stage` lists with ASE's integrators (IsotropicMTKNPT,
Langevin with the centre of mass held by FixCom) and any ASE calculator: the fallback
engine where LAMMPS is missing (see :mod:`pgnfast.md.protocol` for the protocol and its
units)."""

from __future__ import annotations

import ase
import ase.units
import numpy as np
from ase.constraints import FixCom
from ase.md import velocitydistribution
from ase.md.langevin import Langevin
from ase.md.nose_hoover_chain import IsotropicMTKNPT
from ase.md.velocitydistribution import Stationary

from ..errors import InputError
from .protocol import MDSettings, check_stages, chunks, frame_info


def _integrator(atoms, stage, settings: MDSettings, rng):
    timestep = settings.timestep * ase.units.fs
    # Langevin's noise would move the centre of mass: FixCom holds it (MTK conserves it
    # and refuses constraints)
    atoms.set_constraint(FixCom() if stage.ensemble == "nvt" else None)
    if stage.ensemble == "npt":
        return IsotropicMTKNPT(
            atoms,
            timestep,
            temperature_K=stage.temperature,
            pressure_au=float(stage.pressure) * ase.units.bar,
            tdamp=settings.tdamp * ase.units.fs,
            pdamp=settings.pdamp * ase.units.fs,
        )
    return Langevin(
        atoms,
        timestep,
        temperature_K=stage.temperature,
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
        if current != index:
            dynamics, current = _integrator(atoms, stage, settings, rng), index
        if stage.ensemble == "nvt" and stage.temperature_end is not None:
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


__all__ = ["run_ase"]
