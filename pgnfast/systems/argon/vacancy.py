"""The argon vacancy at 0 K (issue 14): formation energy at constant volume and at zero
pressure, the nearest-neighbour migration path by NEB (climbing image) and by the string
method, the saddle checked by its Hessian (exactly one negative mode) and the harmonic
(Vineyard) hop rate, for any energy model.

A model is the exact Lennard-Jones (:func:`~pgnfast.systems.argon.reference.argon_lj`; its
Hessian analytic), a NequIP model or ``pgnfast.Potential`` (bands in one batched graph,
Hessian by autograd), or any potential with ``energy_forces`` (Hessian by finite
differences of forces). Units Angstrom, eV, fs, amu; rates per ps; temperatures in K.
"""

from __future__ import annotations

import numpy as np

from ...analysis.hessian import hessian_finite_differences, lennard_jones_hessian
from ...analysis.paths import FireSettings, fire_relax, neb, potential_band, string_method
from ...analysis.rates import (
    count_negative_modes,
    harmonic_rate,
    mass_weighted_eigenvalues,
    vineyard_prefactor,
)
from ...errors import InputError
from ...geometry import fractional, wrap
from ...potentials import LennardJones
from ...validation import check_positions, check_positive
from .data import lattice_sites
from .reference import MASS

COORDINATION = {"fcc": 12}
RELAX_FIRE = FireSettings(dt=0.1, dt_max=1.0, max_step=0.1)


def vacancy_supercell(n_cells: int, lattice_constant: float, lattice: str = "fcc", site=0):
    """(positions (4 n^3 - 1, 3) Angstrom, cell (3, 3)): n^3 conventional cells with the atom
    of lattice site `site` (the order of :func:`~.data.lattice_sites`) removed."""
    sites, cell = lattice_sites(n_cells, lattice_constant, lattice)
    if isinstance(site, bool) or not isinstance(site, (int, np.integer)):
        raise InputError(f"site must be an integer lattice-site index, got {site!r}")
    if not 0 <= site < len(sites):
        raise InputError(f"site must lie in [0, {len(sites)}), got {site}")
    return np.delete(sites, int(site), axis=0), cell


def reference_sites(cell, n_cells: int, lattice: str = "fcc") -> np.ndarray:
    """The perfect lattice's sites (4 n^3, 3) scaled to `cell` (rows, Angstrom)."""
    unit_sites, unit_cell = lattice_sites(n_cells, 1.0, lattice)
    return fractional(unit_sites, unit_cell) @ np.asarray(cell, np.float64)


def site_assignment(positions, sites, cell) -> tuple[np.ndarray, np.ndarray]:
    """(nearest site (N,) of each atom, distance (N,) Angstrom), minimum image in the periodic
    `cell` (Wigner-Seitz assignment)."""
    inverse = np.linalg.inv(cell)
    scaled_sites = fractional(sites, cell, inverse)
    nearest = np.empty(len(positions), np.int64)
    distance = np.empty(len(positions))
    for start in range(0, len(positions), 256):
        chunk = fractional(positions[start : start + 256], cell, inverse)
        steps = chunk[:, None, :] - scaled_sites[None, :, :]
        steps = (steps - np.round(steps)) @ cell
        squared = np.einsum("abk,abk->ab", steps, steps)
        nearest[start : start + 256] = np.argmin(squared, axis=1)
        distance[start : start + 256] = np.sqrt(squared.min(axis=1))
    return nearest, distance


def find_vacancy(positions, cell, n_cells: int, lattice: str = "fcc") -> int:
    """The lattice site (index in :func:`~.data.lattice_sites` order) left empty by the atoms
    (Wigner-Seitz occupancy on the lattice scaled to `cell`). Raises InputError for a
    structure with no empty site or with more than one."""
    positions = check_positions(positions)
    sites = reference_sites(cell, n_cells, lattice)
    nearest, _ = site_assignment(positions, sites, np.asarray(cell, np.float64))
    empty = np.flatnonzero(np.bincount(nearest, minlength=len(sites)) == 0)
    if len(empty) == 0:
        raise InputError(
            f"the structure has no vacancy: its {len(positions)} atoms fill every one of the "
            f"{len(sites)} sites of {n_cells}^3 {lattice} cells"
        )
    if len(empty) > 1:
        raise InputError(
            f"the structure has {len(empty)} empty sites of {n_cells}^3 {lattice} cells, not "
            f"one vacancy ({len(positions)} atoms on {len(sites)} sites)"
        )
    return int(empty[0])


def model_hessian_function(model):
    """positions (N, 3), cell -> Hessian (3N, 3N) float64 eV/Angstrom^2 of `model`: analytic
    for Lennard-Jones, autograd for NequIP models, finite differences of forces otherwise.
    Positions are wrapped into the cell first (the analytic Hessian's pair shifts assume
    wrapped positions)."""
    hessian = _hessian_function(model)
    return lambda x, cell: hessian(wrap(np.asarray(x, np.float64), cell)[0], cell)


def _hessian_function(model):
    inner = getattr(model, "model", model)
    if isinstance(model, LennardJones):
        return lambda x, cell: lennard_jones_hessian(
            x, cell, model.epsilon, model.sigma, model.cutoff
        )
    if hasattr(inner, "r_max") and hasattr(inner, "num_types"):
        from ...analysis.hessian import model_hessian

        return lambda x, cell: model_hessian(inner, x, cell).cpu().double().numpy()
    if not hasattr(model, "energy_forces"):
        raise InputError(f"{type(model).__name__} is not an energy model (no energy_forces)")
    return lambda x, cell: hessian_finite_differences(
        lambda moved: model.energy_forces(moved, cell)[1], x, step=1e-3
    )


def relax(model, positions, cell, *, fmax: float = 1e-4, max_steps: int = 5000):
    """(positions, energy eV) relaxed at fixed cell by FIRE until every force < fmax eV/A."""
    x, energies, _, converged = fire_relax(
        potential_band(model, cell), positions, fmax=fmax, max_steps=max_steps, fire=RELAX_FIRE
    )
    if not converged:
        raise RuntimeError(f"relaxation did not reach fmax {fmax} in {max_steps} steps")
    return x, float(energies[0])


def _crystal_energy(model, n_cells, a, lattice):
    sites, cell = lattice_sites(n_cells, a, lattice)
    return float(potential_band(model, cell)(sites[None])[0][0])


def _scale_minimum(function, a_guess, tolerance=1e-5):
    from scipy.optimize import minimize_scalar

    bounds = (0.97 * a_guess, 1.03 * a_guess)
    found = minimize_scalar(function, bounds=bounds, method="bounded", options={"xatol": tolerance})
    if not min(bounds) + 1e-3 < found.x < max(bounds) - 1e-3:
        raise RuntimeError(f"no energy minimum within 3 % of the lattice constant {a_guess}")
    return float(found.x), float(found.fun)


def zero_kelvin_lattice_constant(model, n_cells=4, lattice="fcc", guess=5.26) -> float:
    """The lattice constant (Angstrom) minimising the perfect crystal's energy (0 K, P = 0)."""
    guess = check_positive(guess, "guess (Angstrom)")
    return _scale_minimum(lambda a: _crystal_energy(model, n_cells, a, lattice), guess)[0]


def formation_energies(model, n_cells=4, lattice_constant=None, lattice="fcc", fmax=1e-4):
    """Vacancy formation energies (eV): at constant volume (atoms relaxed in the perfect
    crystal's cell) and at zero pressure (atoms and the cubic cell relaxed), both against
    (N - 1) / N of the perfect crystal's energy at its 0 K lattice constant, which is found
    when `lattice_constant` is None. Returns a dict (and relaxed positions, cells)."""
    a0 = lattice_constant or zero_kelvin_lattice_constant(model, n_cells, lattice)
    sites, cell = lattice_sites(n_cells, a0, lattice)
    n = len(sites)
    perfect = _crystal_energy(model, n_cells, a0, lattice)
    start, _ = vacancy_supercell(n_cells, a0, lattice)
    positions, energy_v = relax(model, start, cell, fmax=fmax)
    latest = {"a": a0, "positions": positions}

    def relaxed_energy(a):
        moved = latest["positions"] * (a / latest["a"])
        latest["positions"], energy = relax(model, moved, cell * (a / a0), fmax=fmax)
        latest["a"] = a
        return energy

    a_p, _ = _scale_minimum(relaxed_energy, a0, tolerance=1e-4)
    moved = latest["positions"] * (a_p / latest["a"])
    _, energy_p = relax(model, moved, cell * (a_p / a0), fmax=fmax)
    reference = perfect * (n - 1) / n
    return {
        "n_atoms": n - 1,
        "lattice_constant": a0,
        "cohesive_energy_per_atom": perfect / n,
        "formation_energy_constant_volume": energy_v - reference,
        "formation_energy_zero_pressure": energy_p - reference,
        "unrelaxed_formation_energy": -perfect / n,
        "zero_pressure_lattice_constant": a_p,
        "relaxation_volume_per_atomic_volume": n * ((a_p / a0) ** 3 - 1.0),
        "_positions": positions,
        "_cell": cell,
    }


def migration_endpoints(model, positions, cell, n_cells, lattice="fcc", fmax=1e-4):
    """(initial, final, jumping atom index): `positions` (a relaxed vacancy structure) and the
    structure after the nearest neighbour of the vacancy jumped into it, relaxed."""
    cell = np.asarray(cell, np.float64)
    vacant = reference_sites(cell, n_cells, lattice)[
        find_vacancy(positions, cell, n_cells, lattice)
    ]
    steps = fractional(positions - vacant, cell)
    steps = (steps - np.round(steps)) @ cell
    atom = int(np.argmin(np.einsum("ik,ik->i", steps, steps)))
    final = np.array(positions, np.float64)
    final[atom] = vacant
    final, _ = relax(model, final, cell, fmax=fmax)
    return np.asarray(positions, np.float64), final, atom


def saddle_check(model, minimum, saddle, cell, masses=MASS, hessian_function=None):
    """Hessians at `minimum` and `saddle`, their mass-weighted eigenvalues and the Vineyard
    prefactor (per ps); raises InputError unless the saddle has exactly one negative mode."""
    hessian_function = hessian_function or model_hessian_function(model)
    at_minimum = mass_weighted_eigenvalues(hessian_function(minimum, cell), masses)
    at_saddle = mass_weighted_eigenvalues(hessian_function(saddle, cell), masses)
    prefactor = vineyard_prefactor(at_minimum, at_saddle, n_zero_modes=3)
    return {
        "prefactor": prefactor,
        "saddle_negative_modes": count_negative_modes(at_saddle, n_zero_modes=3),
        "saddle_lowest_eigenvalues": np.sort(at_saddle)[:5].tolist(),
        "minimum_lowest_eigenvalues": np.sort(at_minimum)[:5].tolist(),
    }


def vacancy_study(
    model,
    n_cells=4,
    lattice_constant=None,
    lattice="fcc",
    *,
    neb_images=7,
    string_images=9,
    fmax=1e-3,
    relax_fmax=1e-4,
    temperatures=(60.0, 80.0),
    hessian_function=None,
) -> dict:
    """Everything at 0 K for `model`: formation energies, migration endpoints, NEB and string
    barriers (eV), the saddle's Hessian check, the Vineyard prefactor and the harmonic rates
    (per ps) at `temperatures` (K), per path and summed over the z nearest neighbours.
    fmax: eV/A of the bands; relax_fmax: of the relaxed minima. A saddle that fails its
    check (not exactly one negative mode, e.g. for a poorly trained model) is reported as
    "vineyard": {"error": ...} with no rates, keeping the energies and barriers.
    The bands (PathResult) are returned under "_neb" and "_string" for plots."""
    if lattice not in COORDINATION:
        raise InputError(f"lattice must be one of {tuple(COORDINATION)}, got {lattice!r}")
    formation = formation_energies(model, n_cells, lattice_constant, lattice, fmax=relax_fmax)
    cell = formation.pop("_cell")
    initial, final, atom = migration_endpoints(
        model, formation.pop("_positions"), cell, n_cells, fmax=relax_fmax
    )
    band = potential_band(model, cell)
    fire = FireSettings(dt=0.1, dt_max=1.0, max_step=0.05)
    neb_result = neb(band, initial, final, neb_images, cell=cell, fmax=fmax, fire=fire)
    string_result = string_method(
        band, initial, final, string_images, cell=cell, fmax=fmax, fire=fire
    )
    saddle = neb_result.images[neb_result.climbing_index]
    try:
        check = saddle_check(model, initial, saddle, cell, hessian_function=hessian_function)
    except InputError as error:
        check = {"error": str(error), "prefactor": None, "saddle_negative_modes": None}
    barrier = neb_result.barrier
    z = COORDINATION[lattice]
    rates = {}
    if check["prefactor"] is not None:
        rates = {
            f"{t:g}": {
                "per_path": harmonic_rate(check["prefactor"], barrier, t),
                "total": z * harmonic_rate(check["prefactor"], barrier, t),
            }
            for t in temperatures
        }
    return {
        **formation,
        "jumping_atom": atom,
        "endpoint_energy_difference": float(neb_result.energies[-1] - neb_result.energies[0]),
        "neb": neb_result.summary(),
        "string": string_result.summary(),
        "neb_barrier": barrier,
        "string_barrier": string_result.interpolated_barrier,
        "vineyard": check,
        "coordination": z,
        "harmonic_rates_per_ps": rates,
        "_neb": neb_result,
        "_string": string_result,
    }


__all__ = [
    "find_vacancy",
    "formation_energies",
    "migration_endpoints",
    "model_hessian_function",
    "reference_sites",
    "relax",
    "saddle_check",
    "site_assignment",
    "vacancy_study",
    "vacancy_supercell",
    "zero_kelvin_lattice_constant",
]
