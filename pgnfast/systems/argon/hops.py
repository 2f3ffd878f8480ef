"""Vacancy hop rates from molecular dynamics (issue 14): the vacancy tracked by Wigner-Seitz
occupancy of the reference lattice, LAMMPS runs (``lj/cut``, NPT at zero pressure) at several
temperatures in chunks with checkpoints and resume, a crystallinity check, rates with
Poisson errors and the Arrhenius fit.

Units Angstrom, eV, fs (timestep), ps (times and rates), K, bar.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..._atomic import write_json
from ...analysis.rates import arrhenius_fit, counted_rate
from ...errors import InputError, ResumeMismatchError
from ...geometry import check_cell
from ...validation import check_positive, check_seed
from .reference import MASS, lammps_pair_commands
from .vacancy import reference_sites, site_assignment, vacancy_supercell

STATE_FORMAT = "pgnfast-argon-hops"


@dataclass
class VacancyTracker:
    """Wigner-Seitz tracking of one vacancy on the n^3 fcc reference lattice. Feed frames with
    :meth:`update`; `site` is the accepted vacancy site (-1 before the first), `hops` the
    number of accepted changes. A new site is accepted once it has been the only empty site
    for `min_frames` consecutive frames, so a frame with two empty sites (an atom between
    sites: transient double occupancy) or a flicker at the saddle holds the old site."""

    n_cells: int
    lattice: str = "fcc"
    min_frames: int = 2
    site: int = -1
    hops: int = 0
    candidate: int = -1
    candidate_frames: int = 0
    ambiguous_frames: int = 0
    frames: int = 0

    def update(self, positions, cell) -> int:
        """Track one frame (positions (N, 3), cell rows, Angstrom); returns the accepted site."""
        occupancy, _ = occupancy_of(positions, cell, self.n_cells, self.lattice)
        empty = np.flatnonzero(occupancy == 0)
        self.frames += 1
        if len(empty) != 1:
            self.ambiguous_frames += 1
            self.candidate, self.candidate_frames = -1, 0
            return self.site
        found = int(empty[0])
        if found == self.site:
            self.candidate, self.candidate_frames = -1, 0
            return self.site
        if found == self.candidate:
            self.candidate_frames += 1
        else:
            self.candidate, self.candidate_frames = found, 1
        if self.site < 0 or self.candidate_frames >= self.min_frames:
            self.hops += int(self.site >= 0)
            self.site, self.candidate, self.candidate_frames = found, -1, 0
        return self.site

    def state(self) -> dict:
        return dataclasses.asdict(self)


def occupancy_of(positions, cell, n_cells, lattice="fcc"):
    """(occupancy (M,) atoms per lattice site, distance (N,) of each atom from its site,
    Angstrom): Wigner-Seitz assignment on the lattice scaled to `cell`, after removing the
    crystal's mean displacement (drift) from the sites."""
    cell = check_cell(cell)
    positions = np.asarray(positions, np.float64)
    sites = reference_sites(cell, n_cells, lattice)
    nearest, _ = site_assignment(positions, sites, cell)
    steps = positions - sites[nearest]
    frac = steps @ np.linalg.inv(cell)
    drift = ((frac - np.round(frac)) @ cell).mean(axis=0)
    nearest, distance = site_assignment(positions, sites + drift, cell)
    return np.bincount(nearest, minlength=len(sites)), distance


def vacancy_sequence(frames, cells, n_cells, lattice="fcc", min_frames=2):
    """(accepted vacancy site per frame (F,), hops) of frames (F, N, 3) with one cell (3, 3)
    or one per frame (F, 3, 3)."""
    frames = np.asarray(frames, np.float64)
    cells = np.asarray(cells, np.float64)
    if frames.ndim != 3 or frames.shape[-1] != 3:
        raise InputError(f"frames must have shape (F, N, 3), got {frames.shape}")
    if cells.ndim == 2:
        cells = np.broadcast_to(cells, (len(frames), 3, 3))
    tracker = VacancyTracker(n_cells, lattice, min_frames)
    sequence = np.array([tracker.update(x, c) for x, c in zip(frames, cells)], np.int64)
    return sequence, tracker.hops


def crystalline_fraction(positions, cell, n_cells, lattice="fcc", radius=None) -> float:
    """Fraction of atoms within `radius` (default 0.3 of the nearest-neighbour distance) of
    their Wigner-Seitz site: near 1 in the crystal, about 0.2 or less in a liquid."""
    cell = check_cell(cell)
    if radius is None:
        radius = 0.3 * np.linalg.norm(cell[0]) / n_cells / np.sqrt(2.0)
    radius = check_positive(radius, "radius (Angstrom)")
    _, distance = occupancy_of(positions, cell, n_cells, lattice)
    return float(np.mean(distance < radius))


@dataclass(frozen=True)
class HopRunConfig:
    """One LAMMPS hop run per temperature from the vacancy supercell.

    ensemble "nvt": Nose-Hoover at the volume of `lattice_constant` (by default the 0 K one,
    so rates compare with the 0 K NEB barrier); "npt": isotropic at `pressure` bar (the
    lattice expands). `equilibration_steps` untracked, then `chunks` chunks of `chunk_steps`
    steps, the vacancy checked every `frame_every` steps and a checkpoint (LAMMPS restart +
    JSON) after every chunk. A run stops early when a frame's crystalline fraction falls
    below `min_crystalline` (melted); thermostat and barostat damping default to 100 and
    1000 timesteps (fs).
    """

    n_cells: int = 4
    lattice: str = "fcc"
    lattice_constant: float = 5.2687
    temperatures: tuple = (130.0, 150.0, 165.0)
    ensemble: str = "nvt"
    pressure: float = 0.0
    timestep: float = 5.0
    equilibration_steps: int = 2000
    chunk_steps: int = 10000
    chunks: int = 10
    frame_every: int = 50
    min_frames: int = 2
    min_crystalline: float = 0.8
    seed: int = 0
    thermostat_damping: float | None = None
    barostat_damping: float | None = None

    def __post_init__(self):
        vacancy_supercell(self.n_cells, self.lattice_constant, self.lattice)
        for name in ("equilibration_steps", "chunk_steps", "chunks", "frame_every", "min_frames"):
            value = getattr(self, name)
            minimum = 0 if name == "equilibration_steps" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
        if self.chunk_steps % self.frame_every:
            raise InputError(
                f"chunk_steps ({self.chunk_steps}) must be a multiple of frame_every "
                f"({self.frame_every})"
            )
        if not self.temperatures:
            raise InputError("temperatures must list at least one temperature (K)")
        for t in self.temperatures:
            check_positive(t, "temperature (K)")
        check_positive(self.timestep, "timestep (fs)")
        if self.ensemble not in ("nvt", "npt"):
            raise InputError(f"ensemble must be 'nvt' or 'npt', got {self.ensemble!r}")
        check_seed(self.seed)

    def settings(self, temperature) -> dict:
        """What a checkpoint at `temperature` records (a resume must match it)."""
        fields = dataclasses.asdict(self)
        fields.pop("chunks")  # more chunks may be asked of a resumed run
        fields.pop("temperatures")
        return {"format": STATE_FORMAT, "temperature": float(temperature), **fields}


def _start_lammps(config: HopRunConfig, temperature, restart, field=None):
    """A LAMMPS instance at the run's start (or its restart), with the exact `lj/cut` or,
    given a force field, fix external; returns (lmp, callback or None)."""
    from ...md.fix_external import add_fix_external, check_callback
    from ...md.lammps import new_lammps
    from ...md.lammps_frames import load_frame

    lmp = new_lammps(units="metal")
    tdamp = (config.thermostat_damping or 100 * config.timestep) * 1e-3
    pdamp = (config.barostat_damping or 1000 * config.timestep) * 1e-3
    if restart is None:
        positions, cell = vacancy_supercell(config.n_cells, config.lattice_constant, config.lattice)
        load_frame(lmp, positions, cell, True, masses=(MASS,))
    else:
        lmp.command(f"read_restart {restart}")
    callback = None
    if field is None:
        lmp.commands_list(lammps_pair_commands())
    else:  # one-type argon models: every atom is type 0
        types = np.zeros(int(lmp.get_natoms()), np.int64) if field.num_types else None
        callback = add_fix_external(lmp, field, types, virial=config.ensemble == "npt")
    t, p = float(temperature), float(config.pressure)
    fix = f"fix hops all {config.ensemble} temp {t!r} {t!r} {tdamp!r}"
    if config.ensemble == "npt":
        fix += f" iso {p!r} {p!r} {pdamp!r}"
    lmp.commands_list([f"timestep {config.timestep * 1e-3!r}", "thermo 0", fix])
    if callback is not None:
        callback.register()
    if restart is None:
        seed = 1 + int(np.random.SeedSequence([config.seed, int(t * 1000)]).generate_state(1)[0])
        lmp.command(f"velocity all create {t!r} {seed % 900_000_000} mom yes rot no dist gaussian")
        if config.equilibration_steps:
            lmp.command(f"run {config.equilibration_steps} post no")
            check_callback(callback)
    return lmp, callback


def _frame(lmp):
    from ...md.lammps_frames import gather, read_box

    origin, cell = read_box(lmp)
    return gather(lmp, "x") - origin, cell


def model_identity(model_file, skin: float) -> dict:
    """What a model hop run's checkpoint records of its model: the file's SHA-256 and the
    Verlet skin (Angstrom)."""
    path = Path(model_file)
    if not path.is_file():
        raise InputError(f"model file {os.fspath(model_file)!r} does not exist")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"model_sha256": digest, "skin": float(check_positive(skin, "skin (Angstrom)"))}


def run_hops(
    config: HopRunConfig, temperature, folder, *, progress=False, model=None, skin=1.0
) -> dict:
    """Run (or resume) the hop run at `temperature` in `folder` until `config.chunks` chunks
    are done or the crystal melts; returns the state: hops, production time (ps), rate and
    its Poisson error (per ps), crystalline fractions, melted, MD wall seconds and steps
    per second. model: None (LAMMPS's own `lj/cut`, the exact potential) or a pgnfast model
    file (NequIP or direct force, Angstrom/eV) driving LAMMPS through fix external with a
    Verlet skin of `skin` Angstrom. A folder holding a run with other settings or another
    model raises ResumeMismatchError."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state_path = folder / "state.json"
    settings = config.settings(temperature)
    field = None
    if model is not None:
        from ...md.calculator import as_force_field

        settings["model"] = model_identity(model, skin)
        field = as_force_field(model, units="atomistic", skin=float(skin))
    state = {
        "settings": settings,
        "chunks_done": 0,
        "restart": None,
        "melted": False,
        "tracker": VacancyTracker(config.n_cells, config.lattice, config.min_frames).state(),
        "lowest_crystalline": 1.0,
    }
    if state_path.exists():
        state = json.loads(state_path.read_text())
        if state.get("settings") != settings:
            raise ResumeMismatchError(
                f"{state_path} belongs to a hop run with other settings: {state.get('settings')} "
                f"!= {settings}"
            )
    tracker = VacancyTracker(**state["tracker"])
    restart = None if state["restart"] is None else str(folder / state["restart"])
    from tqdm import tqdm

    bar = tqdm(
        total=config.chunks,
        initial=min(state["chunks_done"], config.chunks),
        disable=not progress,
        desc=f"hops {temperature:g} K",
    )
    from ...md.fix_external import check_callback

    lmp = callback = None
    try:
        while state["chunks_done"] < config.chunks and not state["melted"]:
            if lmp is None:
                lmp, callback = _start_lammps(config, temperature, restart, field)
            started = time.perf_counter()
            for _ in range(config.chunk_steps // config.frame_every):
                lmp.command(f"run {config.frame_every} pre no post no")
                check_callback(callback)
                positions, cell = _frame(lmp)
                tracker.update(positions, cell)
                fraction = crystalline_fraction(positions, cell, config.n_cells, config.lattice)
                state["last_mean_distance"] = float(
                    occupancy_of(positions, cell, config.n_cells, config.lattice)[1].mean()
                )
                state["lowest_crystalline"] = min(state["lowest_crystalline"], fraction)
                if fraction < config.min_crystalline:
                    state["melted"] = True
                    break
            state["chunks_done"] += 1
            state["md_seconds"] = state.get("md_seconds", 0.0) + time.perf_counter() - started
            name = f"restart_{state['chunks_done']:05d}.lmp"
            lmp.command(f"write_restart {folder / name}")
            previous, state["restart"] = state["restart"], name
            state["tracker"] = tracker.state()
            _summarise(state, config)
            write_json(state_path, state)
            if previous and previous != name:
                (folder / previous).unlink(missing_ok=True)
            bar.update(1)
    finally:
        bar.close()
        if lmp is not None:
            lmp.close()
    return _summarise(state, config)


def _summarise(state, config) -> dict:
    time_ps = state["chunks_done"] * config.chunk_steps * config.timestep * 1e-3
    hops = state["tracker"]["hops"]
    rate, error = counted_rate(hops, time_ps) if time_ps > 0 else (0.0, 0.0)
    seconds = state.get("md_seconds", 0.0)
    steps = state["chunks_done"] * config.chunk_steps
    state.update(
        {
            "hops": hops,
            "time_ps": time_ps,
            "rate": rate,
            "rate_error": error,
            "steps_per_second": steps / seconds if seconds > 0 else None,
        }
    )
    return state


def hop_study(config: HopRunConfig, folder, *, progress=False, model=None, skin=1.0) -> dict:
    """Hop runs at every temperature of `config` (folders T_<K>), and the Arrhenius fit of
    the crystalline runs with at least one hop (when two or more temperatures have one).
    model, skin: as :func:`run_hops` (None: the exact potential's LAMMPS `lj/cut`)."""
    runs = {}
    for t in config.temperatures:
        runs[f"{t:g}"] = run_hops(
            config, t, Path(folder) / f"T_{t:g}", progress=progress, model=model, skin=skin
        )
    usable = [(float(t), r) for t, r in runs.items() if r["hops"] > 0 and not r["melted"]]
    fit = None
    if len({t for t, _ in usable}) >= 2:
        fit = arrhenius_fit(
            [t for t, _ in usable],
            [r["hops"] for _, r in usable],
            [r["time_ps"] for _, r in usable],
        ).to_dict()
    summary = {"runs": runs, "arrhenius": fit, "config": dataclasses.asdict(config)}
    write_json(Path(folder) / "summary.json", summary)
    return summary


def short_hop_config(**overrides) -> HopRunConfig:
    """The default command's short version: only the highest default temperature (165 K at
    the 0 K volume, still crystalline; about 10 hops expected), 4 chunks of 5000 steps
    (100 ps at 5 fs), 30-60 s for 255 atoms on one core."""
    fields = {"temperatures": (max(HopRunConfig.temperatures),), "chunks": 4,
              "chunk_steps": 5000, "equilibration_steps": 1000}  # fmt: skip
    fields.update(overrides)
    return HopRunConfig(**fields)


__all__ = [
    "HopRunConfig",
    "VacancyTracker",
    "crystalline_fraction",
    "hop_study",
    "occupancy_of",
    "run_hops",
    "short_hop_config",
    "vacancy_sequence",
]
