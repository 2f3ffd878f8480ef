"""Phonons of fcc argon at finite temperature from molecular dynamics.

For each model (an ASE calculator at its own 0 K lattice constant) and temperature: NVT
equilibration (pgnfast's ASE MD helper, Langevin) then NVE production (velocity Verlet);
longitudinal and transverse current correlations C_L(q, omega), C_T(q, omega) at the
high-symmetry points X and L by dynasor (a kept library), averaged over each point's star;
the vibrational density of states from the velocity autocorrelation; a damped harmonic
oscillator fitted to each point's current autocorrelation in time (dynasor's DHO form; the
window does not limit the width then) gives its frequency, width Gamma (FWHM) and lifetime
tau = 2 / Gamma; the spectrum's own peak fit (dynasor's DHO PSD) is reported beside it.
Units Angstrom, eV, fs, amu, K; frequencies THz (cycles per ps), lifetimes ps.
X = (2 pi / a)(1, 0, 0) is commensurate with any n x n x n supercell, L = (pi / a)(1, 1, 1)
with even n only.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..._atomic import atomic_path, write_json
from ...errors import InputError, ResumeMismatchError
from ...md.protocol import MDSettings, Stage
from ...validation import check_positive, check_seed
from .data import _count, crystal_order, fcc_lattice

STARS = {  # Cartesian directions of each point's star (one of each +-q pair), units 2 pi / a
    "X": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "L": ((0.5, 0.5, 0.5), (0.5, 0.5, -0.5), (0.5, -0.5, 0.5), (-0.5, 0.5, 0.5)),
}
BRANCHES = ("transverse", "longitudinal")
CURRENTS = {"longitudinal": "Clqw", "transverse": "Ctqw", "longitudinal_t": "Clqt"}
CURRENTS["transverse_t"] = "Ctqt"  # dynasor's names


@dataclass(frozen=True)
class SpectraConfig:
    """Sizes of the finite-temperature runs: temperatures (K, below melting), n x n x n
    conventional cells (n even), timestep (fs), NVT equilibration and NVE production steps,
    a frame every sample_every steps, dynasor's correlation window and the stride between
    windows (frames; a stride of 1 costs window_size Python calls per frame), the Langevin
    damping time (fs, default 100 timesteps) and the seed."""

    temperatures: tuple = (20.0, 40.0, 60.0, 80.0)
    n_cells: int = 4
    timestep: float = 5.0
    equilibration_steps: int = 1000
    production_steps: int = 4000
    sample_every: int = 2
    window_size: int = 400
    window_step: int = 10
    thermostat_damping: float | None = None
    seed: int = 0

    def __post_init__(self):
        if not self.temperatures:
            raise InputError("temperatures must hold at least one temperature (K)")
        for t in self.temperatures:
            check_positive(t, "temperatures (K)")
        if _count(self.n_cells, "n_cells", 2) % 2:
            raise InputError(f"n_cells must be even (L is commensurate then), got {self.n_cells}")
        check_positive(self.timestep, "timestep (fs)")
        _count(self.equilibration_steps, "equilibration_steps", 1)
        _count(self.sample_every, "sample_every", 1)
        frames = _count(self.production_steps, "production_steps", 1) // self.sample_every
        if not 2 < _count(self.window_size, "window_size", 3) < frames:
            raise InputError(
                f"window_size must be below the production frames ({frames}), got "
                f"{self.window_size}"
            )
        _count(self.window_step, "window_step", 1)
        if self.thermostat_damping is not None:
            check_positive(self.thermostat_damping, "thermostat_damping (fs)")
        check_seed(self.seed)

    @classmethod
    def quick(cls, **changes) -> SpectraConfig:
        """A short version (20 and 60 K, 2.5 ps NVT + 8 ps NVE) for --quick."""
        sizes = dict(temperatures=(20.0, 60.0), equilibration_steps=500, production_steps=1600)
        return cls(**{**sizes, "window_size": 300, **changes})


@dataclass
class MDTrajectory:
    """NVE frames: positions (T, N, 3) A (unwrapped), velocities (T, N, 3) A/fs, cell (3, 3)
    A, frame spacing dt (fs), masses (N,) amu, temperatures (T,) K."""

    positions: np.ndarray
    velocities: np.ndarray
    cell: np.ndarray
    dt: float
    masses: np.ndarray
    temperatures: np.ndarray


def run_md(
    calculator, lattice_constant, temperature, config: SpectraConfig, seed=0, progress=False
):
    """NVT equilibration at `temperature` K from the perfect lattice, then NVE production,
    with any ASE `calculator`; returns the production's MDTrajectory."""
    import ase.units
    from ase.md.verlet import VelocityVerlet
    from tqdm import tqdm

    from ...md.ase_md import run_ase

    check_positive(temperature, "temperature (K)")
    start = fcc_lattice(config.n_cells, lattice_constant)
    stage = Stage("nvt", config.equilibration_steps, float(temperature), name="equilibration")
    settings = MDSettings(
        timestep=config.timestep,
        frame_every=config.equilibration_steps,
        seed=check_seed(seed),
        thermostat_damping=config.thermostat_damping,
    )
    atoms = run_ase(start, [stage], calculator, settings)[-1]
    atoms.calc = calculator
    dynamics = VelocityVerlet(atoms, config.timestep * ase.units.fs)
    frames = config.production_steps // config.sample_every
    positions, velocities, temperatures = [], [], []
    for _ in tqdm(range(frames), desc=f"NVE {temperature:g} K", disable=not progress):
        dynamics.run(config.sample_every)
        positions.append(atoms.get_positions())
        velocities.append(atoms.get_velocities() * ase.units.fs)
        temperatures.append(atoms.get_temperature())
    return MDTrajectory(
        np.array(positions),
        np.array(velocities),
        np.asarray(atoms.cell[:], np.float64),
        config.timestep * config.sample_every,
        atoms.get_masses(),
        np.array(temperatures),
    )


def current_spectra(
    trajectory: MDTrajectory, lattice_constant, window_size, points=("X", "L"), window_step=10
):
    """{point: {"frequencies": THz (W + 1,), "longitudinal": C_L(omega), "transverse":
    C_T(omega), "times": fs (W + 1,), "longitudinal_t": C_L(t), "transverse_t": C_T(t)}} by
    dynasor's current correlations, averaged over the point's star (dynasor's units: A^2/fs^2
    per atom in time, times fs in frequency)."""
    import ase
    import ase.io
    import ase.units
    import dynasor
    from dynasor.logging_tools import set_logging_level

    set_logging_level("WARNING")
    for name in points:
        if name not in STARS:
            raise InputError(f"points must be among {tuple(STARS)}, got {name!r}")
    a = check_positive(lattice_constant, "lattice_constant (Angstrom)")
    q_points = np.concatenate([np.array(STARS[name]) for name in points]) * 2.0 * np.pi / a
    n = trajectory.positions.shape[1]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nve.traj"
        frames = [
            ase.Atoms(["Ar"] * n, x, cell=trajectory.cell, pbc=True, masses=trajectory.masses)
            for x in trajectory.positions
        ]
        for atoms, v in zip(frames, trajectory.velocities):
            atoms.set_velocities(v / ase.units.fs)
        ase.io.write(path, frames)
        trajectory_reader = dynasor.Trajectory(str(path), trajectory_format="ase")
        sample = dynasor.compute_dynamic_structure_factors(
            trajectory_reader,
            q_points,
            dt=trajectory.dt,
            window_size=window_size,
            window_step=window_step,
            calculate_currents=True,
            logging_interval=0,
        )
    frequencies = np.asarray(sample.omega) / (2.0 * np.pi) * 1000.0  # rad/fs -> THz
    result, start = {}, 0
    for name in points:
        rows = slice(start, start + len(STARS[name]))
        start = rows.stop
        result[name] = {"times": np.asarray(sample.time, np.float64), "frequencies": frequencies}
        for key, field in CURRENTS.items():
            result[name][key] = np.asarray(sample[field])[rows].mean(axis=0)
    return result


def vibrational_dos(velocities, dt, masses=None, padding=4):
    """(frequencies THz, DOS per THz with unit area) from the mass-weighted velocity
    autocorrelation, as its power spectrum (Wiener-Khinchin): velocities (T, N, 3) A/fs,
    dt fs between frames, masses (N,) amu (None: equal), zero-padded to `padding` T."""
    v = np.asarray(velocities, np.float64)
    if v.ndim != 3 or v.shape[2] != 3 or v.shape[0] < 4:
        raise InputError(f"velocities must have shape (T >= 4, N, 3), got {v.shape}")
    dt = check_positive(dt, "dt (fs)")
    weights = np.ones(v.shape[1]) if masses is None else np.asarray(masses, np.float64)
    if weights.shape != (v.shape[1],) or np.any(weights <= 0):
        raise InputError(f"masses must be ({v.shape[1]},) positive values, got {weights.shape}")
    length = _count(padding, "padding", 1) * v.shape[0]
    power = np.abs(np.fft.rfft(v, n=length, axis=0)) ** 2
    dos = np.einsum("fnk,n->f", power, weights)
    frequencies = np.fft.rfftfreq(length, dt) * 1000.0  # 1/fs -> THz
    return frequencies, dos / np.trapezoid(dos, frequencies)


@dataclass
class PeakFit:
    """A damped harmonic oscillator peak: frequency (THz), width Gamma (FWHM, THz), lifetime
    2 / Gamma (ps, Gamma in rad/ps), amplitude (spectrum units)."""

    frequency: float
    width: float
    lifetime: float
    amplitude: float


def dho_spectrum(frequencies, frequency, width, amplitude=1.0):
    """dynasor's damped-harmonic-oscillator velocity PSD at `frequencies` (THz), natural
    frequency (THz), damping Gamma = width (THz, as 2 pi width rad/ps), scaled so that its
    peak value is `amplitude` (at the natural frequency)."""
    from dynasor.tools.damped_harmonic_oscillator import psd_velocity_dho

    w0, gamma = 2 * np.pi * frequency, 2 * np.pi * width
    peak = psd_velocity_dho(w0, w0, gamma)
    return amplitude * psd_velocity_dho(2 * np.pi * np.asarray(frequencies), w0, gamma) / peak


def fit_peak(frequencies, spectrum, guess=None, span=0.5) -> PeakFit:
    """Fit :func:`dho_spectrum` to `spectrum` on frequencies (THz) within guess (1 +- span)
    (guess: THz, default the spectrum's maximum above 0). Raises InputError when no peak is
    inside the window or the fit fails."""
    from scipy.optimize import curve_fit

    f, s = np.asarray(frequencies, np.float64), np.asarray(spectrum, np.float64)
    if f.shape != s.shape or f.ndim != 1:
        raise InputError(
            f"frequencies and spectrum must be equal 1-d arrays, got {f.shape}, {s.shape}"
        )
    if guess is None:
        guess = f[1:][np.argmax(s[1:])]
    guess = check_positive(guess, "guess (THz)")
    inside = (f > guess * (1 - span)) & (f < guess * (1 + span))
    if inside.sum() < 4 or s[inside].max() <= 0:
        raise InputError(f"no peak to fit near {guess:.3f} THz (window of {inside.sum()} points)")
    f, s = f[inside], s[inside]
    scale = s.max()
    start = (f[np.argmax(s)], max(0.1 * guess, 2 * (f[1] - f[0])), 1.0)
    try:
        (frequency, width, amplitude), _ = curve_fit(
            dho_spectrum, f, s / scale, p0=start, bounds=([f[0], 1e-6, 0], [f[-1], 10 * guess, 10])
        )
    except RuntimeError as error:
        raise InputError(f"the peak fit near {guess:.3f} THz failed: {error}") from error
    return PeakFit(
        float(frequency), float(width), float(1 / (np.pi * width)), float(amplitude * scale)
    )


def fit_correlation(times, correlation, guess) -> PeakFit:
    """Fit dynasor's damped-harmonic-oscillator velocity autocorrelation to `correlation`
    at `times` (fs) from the natural frequency `guess` (THz): frequency and width as in
    :func:`fit_peak`, amplitude C(0). Unlike a spectrum's peak, its width is not limited by
    the finite correlation window. Raises InputError when the fit fails."""
    from dynasor.tools.damped_harmonic_oscillator import acf_velocity_dho
    from scipy.optimize import curve_fit

    t, c = np.asarray(times, np.float64) / 1000.0, np.asarray(correlation, np.float64)  # ps
    if t.shape != c.shape or t.ndim != 1 or t.size < 4 or c[0] <= 0:
        raise InputError(
            f"times and correlation must be equal 1-d arrays with C(0) > 0, got "
            f"{t.shape}, {c.shape}"
        )
    guess = check_positive(guess, "guess (THz)")

    def model(t, frequency, width):
        w0 = 2 * np.pi * frequency
        return acf_velocity_dho(t, w0, 2 * np.pi * width) / w0**2

    try:
        (frequency, width), _ = curve_fit(
            model,
            t,
            c / c[0],
            p0=(guess, 0.05 * guess),
            bounds=([1e-3, 1e-6], [5 * guess, 5 * guess]),
        )
    except RuntimeError as error:
        raise InputError(f"the correlation fit near {guess:.3f} THz failed: {error}") from error
    return PeakFit(float(frequency), float(width), float(1 / (np.pi * width)), float(c[0]))


def _checkpoint(path: Path, stamp: str, make):
    """The MDTrajectory stored at `path` if made with the same `stamp`, else make() saved."""
    if path.exists():
        with np.load(path) as stored:
            if str(stored["stamp"]) != stamp:
                raise ResumeMismatchError(f"{path} was made by another run: {stored['stamp']}")
            return MDTrajectory(
                *(stored[k] for k in ("positions", "velocities", "cell")),
                float(stored["dt"]),
                stored["masses"],
                stored["temperatures"],
            )
    trajectory = make()
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, stamp=stamp, **dataclasses.asdict(trajectory))
    return trajectory


def _fit_branches(data, reference) -> dict:
    """{branch: time-domain fit (+ the spectrum's peak) or {"error": why}} at one point;
    reference: the 0 K frequencies [t, t, l] (THz) or None."""
    peaks = {}
    for branch in BRANCHES:
        guess = None if reference is None else reference[0 if branch == "transverse" else 2]
        try:
            fit = fit_peak(data["frequencies"], data[branch], guess)
            decay = fit_correlation(data["times"], data[branch + "_t"], fit.frequency)
        except InputError as error:
            peaks[branch] = {"error": str(error)}
            continue
        peaks[branch] = {
            **dataclasses.asdict(decay),
            "spectrum_frequency": fit.frequency,
            "spectrum_width": fit.width,
        }
    return peaks


def run_spectra(
    models, config: SpectraConfig | None = None, out=None, zero_kelvin=None, progress=True
):
    """Finite-temperature phonons of each model. models: {name: (ASE calculator, lattice
    constant A)}; zero_kelvin: {name: {"X": [t, t, l], "L": [...]}} THz (0 K frequencies,
    peak guesses; default the spectra's maxima). With `out`, MD trajectories are checkpointed
    in out/md/ (a rerun reuses them; another config raises ResumeMismatchError) and
    spectra.json, spectra.png, peaks.png, vdos.png are written. Returns (summary dict,
    spectra {name: {T: (currents, (frequencies, dos))}})."""
    config = config or SpectraConfig()
    if not isinstance(config, SpectraConfig):
        raise InputError(f"config must be a SpectraConfig, got {type(config).__name__}")
    if not isinstance(models, dict) or not models:
        raise InputError("models must be a non-empty dict {name: (calculator, lattice constant)}")
    seeds = np.random.SeedSequence(config.seed).generate_state(len(config.temperatures))
    summary = {"config": dataclasses.asdict(config), "models": {}}
    spectra = {}
    for name, (calculator, a) in models.items():
        a = check_positive(a, f"lattice constant of {name!r} (Angstrom)")
        entry = summary["models"][name] = {"lattice_constant": a, "temperatures": {}}
        for temperature, seed in zip(config.temperatures, seeds):

            def make(calculator=calculator, a=a, temperature=temperature, seed=seed):
                return run_md(calculator, a, temperature, config, int(seed), progress)

            if out is None:
                trajectory = make()
            else:
                stamp = json.dumps([name, a, float(temperature), int(seed), summary["config"]])
                safe = "".join(c if c.isalnum() else "_" for c in name)
                trajectory = _checkpoint(
                    Path(out) / "md" / f"{safe}_{temperature:g}K.npz", stamp, make
                )
            currents = current_spectra(
                trajectory, a, config.window_size, window_step=config.window_step
            )
            dos = vibrational_dos(trajectory.velocities, trajectory.dt, trajectory.masses)
            spectra.setdefault(name, {})[temperature] = (currents, dos)
            guesses = (zero_kelvin or {}).get(name, {})
            peaks = {
                point: _fit_branches(data, guesses.get(point)) for point, data in currents.items()
            }
            entry["temperatures"][f"{temperature:g}"] = {
                "mean_temperature": float(trajectory.temperatures.mean()),
                "crystal_order": crystal_order(
                    trajectory.positions[-1], trajectory.cell, config.n_cells
                ),
                "resolution_thz": float(currents["X"]["frequencies"][1]),
                "peaks": peaks,
            }
    if out is not None:
        write_json(Path(out) / "spectra.json", summary)
        plot_spectra(summary, spectra, zero_kelvin, Path(out))
    return summary, spectra


def plot_spectra(summary, spectra, zero_kelvin, folder) -> None:
    """spectra.png (C_T, C_L at X and L; colour: temperature, line style: model), peaks.png
    (peak frequency and width against temperature) and vdos.png into `folder`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    names = list(spectra)
    styles = dict(zip(names, ("-", "--", ":", "-.")))
    temperatures = summary["config"]["temperatures"]
    colours = dict(zip(temperatures, plt.cm.plasma(np.linspace(0, 0.85, len(temperatures)))))
    figure, axes = plt.subplots(2, 2, figsize=(10, 7))
    for row, point in enumerate(STARS):
        for column, branch in enumerate(BRANCHES):
            axis = axes[row, column]
            for name in names:
                for t, (currents, _) in spectra[name].items():
                    data = currents[point]
                    axis.plot(
                        data["frequencies"],
                        data[branch] / data[branch].max(),
                        styles.get(name, "-"),
                        color=colours[t],
                        label=f"{name} {t:g} K",
                    )
                for value in ((zero_kelvin or {}).get(name) or {}).get(point, [])[column * 2 :][:1]:
                    axis.axvline(value, ls=styles.get(name, "-"), color="k", lw=0.8)
            axis.set(xlim=(0, 3), title=f"{point}, {branch} (0 K: black)", xlabel="THz")
    axes[0, 0].legend(fontsize=7)
    _save(figure, folder / "spectra.png")
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name in names:
        entries = summary["models"][name]["temperatures"]
        ts = [float(t) for t in entries]
        for m, (point, branch) in enumerate((p, b) for p in STARS for b in BRANCHES):
            fits = [entries[t]["peaks"][point][branch] for t in entries]
            style = dict(marker="o", color=f"C{m}", label=f"{name} {point} {branch[0].upper()}")
            for axis, key in zip(axes, ("frequency", "width")):
                values = [fit.get(key, np.nan) for fit in fits]  # nan: the fit failed
                axis.plot(ts, values, styles.get(name, "-"), **style)
            zero = ((zero_kelvin or {}).get(name) or {}).get(point)
            if zero is not None:  # the 0 K frequency, open marker at T = 0
                axes[0].plot(
                    [0.0],
                    [zero[0 if branch == "transverse" else 2]],
                    "o",
                    mfc="none",
                    color=f"C{m}",
                )
    axes[0].set(xlabel="temperature (K) (0 K: harmonic)", ylabel="peak frequency (THz)")
    axes[1].set(xlabel="temperature (K)", ylabel="width Gamma, FWHM (THz)")
    axes[1].legend(fontsize=7)
    _save(figure, folder / "peaks.png")
    figure, axis = plt.subplots(figsize=(6, 4))
    for name in names:
        for t, (_, (frequencies, dos)) in spectra[name].items():
            axis.plot(
                frequencies, dos, styles.get(name, "-"), color=colours[t], label=f"{name} {t:g} K"
            )
    axis.set(xlim=(0, 3), xlabel="frequency (THz)", ylabel="VACF DOS (1/THz)")
    axis.legend(fontsize=7)
    _save(figure, folder / "vdos.png")


def _save(figure, path) -> None:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


__all__ = [
    "BRANCHES",
    "STARS",
    "MDTrajectory",
    "PeakFit",
    "SpectraConfig",
    "current_spectra",
    "dho_spectrum",
    "fit_correlation",
    "fit_peak",
    "plot_spectra",
    "run_md",
    "run_spectra",
    "vibrational_dos",
]
