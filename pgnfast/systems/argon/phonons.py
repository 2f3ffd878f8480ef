"""Phonons of fcc argon at 0 K for any model: the exact Lennard-Jones, a NequIP model
(autograd Hessian) or a forces-only model (finite-difference Hessian).

Units Angstrom, eV, amu; frequencies in THz (phonopy's unit factor). pgnfast supplies the
supercell force constants (:mod:`pgnfast.analysis.hessian`); phonopy (a kept library) the
band paths, meshes and density of states. Each model is studied at its own 0 K lattice
constant: the minimum of its energy per atom over a for models with an energy, zero
pressure for ASE calculators that give stress but no energy, and a given lattice constant
for forces-only models (every atom of a perfect fcc lattice is an inversion centre, so its
forces vanish at every a and define no equilibrium). A possibly asymmetric Hessian (finite
differences) is reported by :func:`~pgnfast.analysis.hessian.asymmetry` and symmetrised,
(H + H^T) / 2, before phonopy diagonalises it.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np

from ...analysis.hessian import (
    asymmetry,
    force_constants,
    hessian_finite_differences,
    lennard_jones_energy,
    lennard_jones_hessian,
    model_hessian,
)
from ...errors import InputError
from ...potentials.pair import LennardJones
from ...validation import check_positive
from .data import FCC_BASIS
from .reference import MASS, SYMBOL, argon_lj

HESSIAN_METHODS = ("auto", "analytic", "autograd", "finite_differences")
# high-symmetry points of the fcc Brillouin zone, Cartesian, in units of 2 pi / a
POINTS = {
    "Gamma": (0.0, 0.0, 0.0),
    "X": (1.0, 0.0, 0.0),
    "W": (1.0, 0.5, 0.0),
    "K": (0.75, 0.75, 0.0),
    "L": (0.5, 0.5, 0.5),
}
PATH = ("Gamma", "X", "W", "K", "Gamma", "L")
PRIMITIVE = np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]])  # rows, units of a


def reduced_qpoint(name_or_cartesian) -> np.ndarray:
    """A q point (a name of POINTS, or Cartesian in 2 pi / a) in the reduced coordinates of
    phonopy's fcc primitive reciprocal lattice (primitive_matrix "F")."""
    if isinstance(name_or_cartesian, str):
        if name_or_cartesian not in POINTS:
            raise InputError(f"q point must be one of {tuple(POINTS)}, got {name_or_cartesian!r}")
        name_or_cartesian = POINTS[name_or_cartesian]
    return PRIMITIVE @ np.asarray(name_or_cartesian, dtype=np.float64)


def thz_factor() -> float:
    """sqrt(eV / (Angstrom^2 amu)) / (2 pi) in THz, phonopy's constants."""
    from phonopy.physical_units import get_physical_units

    return float(get_physical_units().DefaultToTHz)


def _as_forces(value, shape) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    value = np.asarray(value, dtype=np.float64)
    if value.shape != shape:
        raise InputError(f"the model's forces must have shape {shape}, got {value.shape}")
    return value


def _ase_evaluators(calculator):
    import ase

    def evaluate(positions, cell, prop):
        atoms = ase.Atoms([SYMBOL] * len(positions), positions=positions, cell=cell, pbc=True)
        atoms.set_masses(np.full(len(positions), MASS))
        atoms.calc = calculator
        if prop == "forces":
            return np.asarray(atoms.get_forces(), np.float64)
        if prop == "stress":
            return np.asarray(atoms.get_stress(voigt=False), np.float64)
        return float(atoms.get_potential_energy())

    implemented = set(getattr(calculator, "implemented_properties", ()))
    forces = lambda x, c: evaluate(x, c, "forces")  # noqa: E731
    energy = (lambda x, c: evaluate(x, c, "energy")) if "energy" in implemented else None
    stress = (lambda x, c: evaluate(x, c, "stress")) if "stress" in implemented else None
    return forces, energy, stress


@dataclass
class PhononModel:
    """A model as phonons need it. forces: (positions (N, 3) A, cell (3, 3) A) -> forces
    (N, 3) eV/A. energy: the same -> total energy eV, or None (forces-only model). stress:
    -> (3, 3) eV/A^3 (ASE's sign) or None. hessian: (positions, cell) -> (3N, 3N) eV/A^2, and
    hessian_method its name ("analytic", "autograd" or "finite_differences")."""

    name: str
    forces: object
    energy: object
    hessian: object
    hessian_method: str
    stress: object = None


def phonon_model(model=None, name=None, *, hessian_method="auto", step=1e-3) -> PhononModel:
    """Wrap `model` for phonons. model: None (the exact argon Lennard-Jones), a pgnfast
    LennardJones (analytic Hessian), a NequIP module (autograd Hessian, model units must be
    Angstrom and eV, all atoms type 0), a module with ``has_energy = False`` and
    ``predict_forces(positions, cell)`` (a direct-force model), an ASE calculator, or a
    callable (positions, cell) -> forces (N, 3) (forces only). hessian_method: "auto" (the
    best the model allows), "analytic" (Lennard-Jones only), "autograd" (needs an energy) or
    "finite_differences" (central differences of forces, displacement `step` Angstrom)."""
    if hessian_method not in HESSIAN_METHODS:
        raise InputError(f"hessian_method must be one of {HESSIAN_METHODS}, got {hessian_method!r}")
    step = check_positive(step, "step (Angstrom)")
    model = argon_lj() if model is None else model
    stress = autograd = analytic = None
    if isinstance(model, LennardJones):
        lj = (model.epsilon, model.sigma, model.cutoff)
        name = name or "exact LJ"
        forces = lambda x, c: np.asarray(model.energy_forces(x, c, None, True)[1])  # noqa: E731
        energy = lambda x, c: float(model.energy_forces(x, c, None, True)[0])  # noqa: E731
        analytic = lambda x, c: lennard_jones_hessian(x, c, *lj)  # noqa: E731

        def autograd(x, c):
            from ...analysis.hessian import hessian_autograd

            return hessian_autograd(lambda t: lennard_jones_energy(t, c, *lj), x).numpy()

    elif getattr(model, "has_energy", True) is False and hasattr(model, "predict_forces"):
        name = name or type(model).__name__  # a direct-force module: no energy
        forces = lambda x, c: model.predict_forces(x, c)  # noqa: E731
        energy = None
    elif hasattr(model, "r_max") and hasattr(model, "num_types") and hasattr(model, "forward"):
        from ...nn.potential import Potential

        potential = Potential(model)
        name = name or "NequIP"
        forces = lambda x, c: np.asarray(potential.energy_forces(x, c, None, True)[1])  # noqa: E731
        energy = lambda x, c: float(potential.energy_forces(x, c, None, True)[0])  # noqa: E731
        autograd = lambda x, c: model_hessian(model, x, c, None, True).double().numpy()  # noqa: E731
    elif hasattr(model, "get_property") and hasattr(model, "implemented_properties"):
        forces, energy, stress = _ase_evaluators(model)
        name = name or type(model).__name__
    elif callable(model):
        forces, energy, name = model, None, name or getattr(model, "__name__", "forces model")
    else:
        raise InputError(
            "model must be a LennardJones, a NequIP module, an ASE calculator or a callable "
            f"(positions, cell) -> forces (N, 3), got {type(model).__name__}"
        )
    forces_checked = lambda x, c: _as_forces(forces(x, c), np.shape(x))  # noqa: E731
    if hessian_method == "auto":
        hessian_method = (
            "analytic" if analytic else "autograd" if autograd else "finite_differences"
        )
    if hessian_method == "analytic" and analytic is None:
        raise InputError(f"model {name!r}: an analytic Hessian exists for LennardJones only")
    if hessian_method == "autograd" and autograd is None and energy is not None:
        raise InputError(
            f"model {name!r}: its energy is no torch function; an autograd Hessian needs a "
            "NequIP module or LennardJones (use hessian_method='finite_differences')"
        )
    if hessian_method == "autograd" and autograd is None:
        raise InputError(
            f"model {name!r} has no energy to differentiate: an autograd Hessian needs a model "
            "with an energy (a NequIP module or LennardJones); use "
            "hessian_method='finite_differences' for a forces-only model"
        )

    def finite(x, c):
        return hessian_finite_differences(lambda moved: forces_checked(moved, c), x, step)

    hessian = {"analytic": analytic, "autograd": autograd, "finite_differences": finite}
    return PhononModel(
        name, forces_checked, energy, hessian[hessian_method], hessian_method, stress
    )


def fcc_shells(cutoff_over_a: float):
    """(distances in units of a, counts) of the fcc neighbour shells closer than
    cutoff_over_a (in units of the lattice constant a)."""
    reach = int(np.ceil(2.0 * cutoff_over_a)) + 1
    distances = []
    for n in itertools.product(range(-reach, reach + 1), repeat=3):
        if sum(n) % 2 == 0 and any(n):
            d = 0.5 * np.sqrt(np.dot(n, n))
            if d < cutoff_over_a:
                distances.append(round(d, 12))
    values, counts = np.unique(distances, return_counts=True)
    return values, counts


def lj_fcc_lattice_constant(epsilon, sigma, cutoff) -> float:
    """The analytic minimum over a of the Lennard-Jones fcc lattice sum (shells within
    `cutoff`, unshifted): a = sigma (2 S12 / S6)^(1/6), S_n = sum of counts / d^n over the
    shells (d in units of a), iterated until the shells inside the cutoff stop changing."""
    check_positive(epsilon, "epsilon")
    a = 2 ** (1 / 6) * check_positive(sigma, "sigma") * np.sqrt(2.0)
    check_positive(cutoff, "cutoff")
    for _ in range(50):
        d, n = fcc_shells(cutoff / a)
        updated = sigma * (2.0 * np.sum(n / d**12) / np.sum(n / d**6)) ** (1 / 6)
        if np.array_equal(fcc_shells(cutoff / updated)[0], d):
            return float(updated)
        a = updated
    raise InputError("the lattice sum's shells did not settle (cutoff on a shell)")


def lj_direct_frequencies(q_cartesian, lattice_constant, epsilon, sigma, cutoff, mass=MASS):
    """Frequencies (3,) THz, sorted, of the fcc Lennard-Jones crystal at the Cartesian q (1/A)
    from the dynamical matrix summed directly over the lattice vectors R within the cutoff:
    D(q) = sum_R K(R) (1 - cos q.R) / mass, K the pair block of the Hessian."""
    reach = int(np.ceil(2 * cutoff / lattice_constant)) + 1
    d = np.array(
        [n for n in itertools.product(range(-reach, reach + 1), repeat=3) if sum(n) % 2 == 0]
    )
    vectors = 0.5 * lattice_constant * d
    r = np.linalg.norm(vectors, axis=1)
    keep = (r > 0) & (r < cutoff)
    vectors, r = vectors[keep], r[keep]
    s6 = (sigma / r) ** 6
    first = 4.0 * epsilon * (-12.0 * s6 * s6 + 6.0 * s6) / r
    second = 4.0 * epsilon * (156.0 * s6 * s6 - 42.0 * s6) / r**2
    outer = vectors[:, :, None] * vectors[:, None, :] / r[:, None, None] ** 2
    blocks = second[:, None, None] * outer + (first / r)[:, None, None] * (np.eye(3) - outer)
    weights = 1.0 - np.cos(vectors @ np.asarray(q_cartesian, np.float64))
    dynamical = np.einsum("p,pab->ab", weights, blocks) / mass
    eigenvalues = np.linalg.eigvalsh(dynamical)
    return np.sort(np.sign(eigenvalues) * np.sqrt(np.abs(eigenvalues)) * thz_factor())


@dataclass
class Relaxation:
    """lattice_constant (A), method ("energy minimum", "zero pressure" or "fixed"),
    energy_per_atom (eV, or None) and pressure (eV/A^3, or None) there."""

    lattice_constant: float
    method: str
    energy_per_atom: float | None = None
    pressure: float | None = None


def fcc_supercell(lattice_constant: float, n_cells: int):
    """(positions (4 n^3, 3), cell (3, 3)) of n x n x n conventional fcc cells, Angstrom."""
    if isinstance(n_cells, bool) or not isinstance(n_cells, (int, np.integer)) or n_cells < 1:
        raise InputError(f"n_cells must be an integer >= 1, got {n_cells!r}")
    a = check_positive(lattice_constant, "lattice_constant (Angstrom)")
    grid = np.stack(np.meshgrid(*[np.arange(n_cells)] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
    return (grid + FCC_BASIS).reshape(-1, 3) * a, np.eye(3) * n_cells * a


def relax_lattice_constant(
    model: PhononModel, n_cells=3, bounds=(4.8, 6.0), lattice_constant=None, tolerance=1e-10
) -> Relaxation:
    """The model's 0 K fcc lattice constant (A): the energy minimum over a in `bounds`
    (bounded Brent, `tolerance` A) for a model with an energy; zero pressure (Brent root)
    for one with stress only; else `lattice_constant` as given ("fixed"; a forces-only model
    defines no equilibrium volume). n_cells: supercell used (its diagonal >= 2 cutoffs is
    not needed: every periodic image is counted)."""
    from scipy.optimize import brentq, minimize_scalar

    low, high = (check_positive(b, "bounds (Angstrom)") for b in bounds)
    if not low < high:
        raise InputError(f"bounds must be (low, high) with low < high, got {bounds!r}")
    n = len(fcc_supercell(low, n_cells)[0])
    if model.energy is not None:
        per_atom = lambda a: model.energy(*fcc_supercell(a, n_cells)) / n  # noqa: E731
        best = minimize_scalar(
            per_atom, bounds=(low, high), method="bounded", options={"xatol": tolerance}
        )
        a = float(best.x)
        if min(a - low, high - a) < 1e-6 * a:
            raise InputError(f"model {model.name!r}: the energy minimum is at a bound of {bounds}")
        return Relaxation(a, "energy minimum", float(best.fun))
    if model.stress is not None:
        pressure = lambda a: -np.trace(model.stress(*fcc_supercell(a, n_cells))) / 3  # noqa: E731
        if pressure(low) * pressure(high) > 0:
            raise InputError(f"model {model.name!r}: the pressure has one sign over {bounds}")
        a = float(brentq(pressure, low, high, xtol=tolerance))
        return Relaxation(a, "zero pressure", None, float(pressure(a)))
    if lattice_constant is None:
        raise InputError(
            f"model {model.name!r} gives forces only (no energy or stress): its lattice "
            "constant cannot be relaxed; give lattice_constant"
        )
    return Relaxation(check_positive(lattice_constant, "lattice_constant (Angstrom)"), "fixed")


@dataclass
class Phonons:
    """The phonons of one model: its relaxation, Hessian method and time (s), the Hessian's
    asymmetry, the phonopy object (force constants set) and derived results (THz)."""

    name: str
    relaxation: Relaxation
    hessian_method: str
    hessian_seconds: float
    asymmetry: float
    phonopy: object = field(repr=False)
    at_points: dict = field(default_factory=dict)
    band: dict = field(default_factory=dict, repr=False)
    dos: dict = field(default_factory=dict, repr=False)

    def summary(self) -> dict:
        """JSON-ready numbers (no arrays but the X and L frequencies)."""
        return {
            "name": self.name,
            "lattice_constant": self.relaxation.lattice_constant,
            "relaxation": self.relaxation.method,
            "energy_per_atom": self.relaxation.energy_per_atom,
            "hessian_method": self.hessian_method,
            "hessian_seconds": self.hessian_seconds,
            "asymmetry": self.asymmetry,
            "frequencies_thz": self.at_points,
        }


def fcc_phonopy(lattice_constant: float, n_cells: int):
    """A phonopy object of the 4-atom conventional fcc argon cell, supercell n x n x n,
    primitive matrix "F" (one atom), masses 39.948 amu."""
    import phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    positions, cell = fcc_supercell(lattice_constant, 1)
    unit = PhonopyAtoms(
        symbols=[SYMBOL] * 4, cell=cell, scaled_positions=FCC_BASIS, masses=[MASS] * 4
    )
    return phonopy.Phonopy(
        unit, supercell_matrix=np.eye(3, dtype=int) * n_cells, primitive_matrix="F"
    )


def frequencies_at(phonon, names=("Gamma", "X", "L")) -> dict:
    """{name: sorted frequencies (3,) THz} at the named points (phonopy, force constants set)."""
    phonon.run_qpoints([reduced_qpoint(name) for name in names])
    values = np.sort(np.asarray(phonon.qpoints.frequencies), axis=1)
    return {name: values[k].tolist() for k, name in enumerate(names)}


def compute_phonons(
    model: PhononModel,
    relaxation: Relaxation,
    n_cells: int = 4,
    band_points: int = 51,
    mesh: int = 16,
    dos_sigma: float = 0.05,
) -> Phonons:
    """Force constants of the n x n x n supercell at the relaxed lattice constant, then with
    phonopy: frequencies at Gamma, X, L, the dispersion along Gamma-X-W-K-Gamma-L
    (`band_points` per segment) and the DOS on a mesh^3 grid (Gaussian smearing dos_sigma
    THz). band: {"distances", "frequencies", "ticks", "labels"}; dos: {"frequencies",
    "dos"}."""
    from phonopy.phonon.band_structure import get_band_qpoints

    phonon = fcc_phonopy(relaxation.lattice_constant, n_cells)
    positions, cell = phonon.supercell.positions, phonon.supercell.cell
    start = time.perf_counter()
    hessian = np.asarray(model.hessian(positions, cell), dtype=np.float64)
    seconds = time.perf_counter() - start
    measure = asymmetry(hessian)
    phonon.force_constants = force_constants(0.5 * (hessian + hessian.T))
    result = Phonons(model.name, relaxation, model.hessian_method, seconds, measure, phonon)
    result.at_points = frequencies_at(phonon)
    paths = get_band_qpoints([[reduced_qpoint(name) for name in PATH]], band_points)
    phonon.run_band_structure(paths, labels=list(PATH))
    band = phonon.band_structure
    distances = [np.asarray(d) for d in band.distances]
    result.band = {
        "distances": np.concatenate(distances),
        "frequencies": np.concatenate([np.asarray(f) for f in band.frequencies]),
        "ticks": [float(distances[0][0])] + [float(d[-1]) for d in distances],
        "labels": ["Γ" if p == "Gamma" else p for p in PATH],
    }
    phonon.run_mesh([mesh] * 3, is_gamma_center=True)
    phonon.run_total_dos(sigma=check_positive(dos_sigma, "dos_sigma (THz)"))
    dos = phonon.total_dos
    result.dos = {"frequencies": np.asarray(dos.frequency_points), "dos": np.asarray(dos.dos)}
    return result


def plot_phonons(results, path) -> None:
    """Dispersion (first result solid black, the others dashed, overlaid) and DOS, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4), width_ratios=(3, 1))
    for k, result in enumerate(results):
        style = {"color": "k", "lw": 1.5} if k == 0 else {"color": f"C{k}", "ls": "--", "lw": 1}
        band = result.band
        lines = left.plot(band["distances"], band["frequencies"], **style)
        a = result.relaxation.lattice_constant
        lines[0].set_label(f"{result.name}, {result.hessian_method} (a = {a:.4f} A)")
        right.plot(result.dos["dos"], result.dos["frequencies"], label=result.name, **style)
    ticks = results[0].band["ticks"]
    left.set_xticks(ticks, results[0].band["labels"])
    for tick in ticks:
        left.axvline(tick, color="0.8", lw=0.5)
    left.set(xlim=(ticks[0], ticks[-1]), ylabel="frequency (THz)", title="fcc argon, 0 K")
    lowest = min(float(np.min(result.band["frequencies"])) for result in results)
    left.set_ylim(bottom=min(0.0, lowest) - 0.05)  # negative: imaginary modes
    left.legend(fontsize=8)
    right.set(xlabel="DOS (states / THz)", title="density of states")
    right.sharey(left)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


__all__ = [
    "PATH",
    "POINTS",
    "PhononModel",
    "Phonons",
    "Relaxation",
    "compute_phonons",
    "fcc_phonopy",
    "fcc_shells",
    "fcc_supercell",
    "frequencies_at",
    "lj_direct_frequencies",
    "lj_fcc_lattice_constant",
    "phonon_model",
    "plot_phonons",
    "reduced_qpoint",
    "relax_lattice_constant",
    "thz_factor",
]
