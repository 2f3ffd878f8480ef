"""`solve`: label one configuration of PGN cores with the space-filling functional.

Implements pgn-functional.md exactly (units: nm, kT). Choices the contract leaves open:

- Grid: m_k = max(1, round(|cell_k| / h)) voxels along cell vector k, voxel volume
  det(cell)/M; the smoothing width w is the effective spacing (det(cell)/M)^(1/3).
- Interaction reach: at voxel x a particle's chains enter while c_j - min_k c_k < 50 kT, i.e.
  within a_max + sqrt(s_min(x)^2 + 50 R^2 / 1.5) of its centre, s_min(x) being the distance
  to the nearest core surface. The reach is the largest such radius over the voxels of the
  configuration; the cell must be at least twice the reach across every pair of faces,
  otherwise the minimum image would put a kink into E (refused with `DFTInputError` unless
  `check_reach=False`, which the dense-oracle comparisons on tiny boxes use).
- Core occupancy is kept while |x - r_i| - a_i < 12 w (chi < 4e-11 beyond, below the dual
  tolerance); that radius also enters the reach.
- Bad input (checks in inputs.py): cores overlapping by more than half the smaller radius,
  non-finite values, singular cells, types out of the design's range, fewer than 4 voxels
  along a cell vector, spacing above the smallest radius, a warm start whose exp over- or
  underflows.
- Gauge: mean(psi) = 0. Cold start psi_i = ln w_i (exact for R -> infinity).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import ThreadpoolController

from pgnfast.geometry import face_widths

from . import _kernels, config
from .design import PGNDesign
from .errors import CoreOverlapError, DFTInputError, NotConverged
from .inputs import check_inputs, check_settings, check_start, check_warm_start

__all__ = ["CoreOverlapError", "DFTInputError", "DFTResult", "NotConverged", "solve"]


@dataclass(frozen=True)
class DFTResult:
    """One label. energy: kT; energies: (N,) kT, summing to energy; forces: (N, 3) kT/nm;
    converged; iterations (dual updates); residual: max_i |Omega_i - sum_x h^3 phi_i| / Omega_i;
    spacing: effective grid spacing h, nm; psi: (N,) dual potentials (gauge mean 0) for warm
    starts; info: diagnostics (grid, reach in nm, sweeps, method, timings in s)."""

    energy: float
    energies: np.ndarray
    forces: np.ndarray
    converged: bool
    iterations: int
    residual: float
    spacing: float
    psi: np.ndarray
    info: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- geometry
def _bins(frac: np.ndarray, widths: np.ndarray, bin_length: float):
    nb = np.maximum(1, np.floor(widths / bin_length)).astype(np.int64)
    cells = np.minimum((frac * nb).astype(np.int64), nb - 1)
    bin_id = (cells[:, 0] * nb[1] + cells[:, 1]) * nb[2] + cells[:, 2]
    order = np.argsort(bin_id, kind="stable").astype(np.int32)
    start = np.zeros(nb.prod() + 1, np.int64)
    np.cumsum(np.bincount(bin_id, minlength=nb.prod()), out=start[1:])
    return nb, start, order


def _contacts(pos, box, radius, frac, widths):
    """Core-contact energy (kT), per-particle halves and gradient; refuses deep overlaps.

    Pairs come from pgnfast.neighbor_list when its compiled backend is built; otherwise from a
    scan over the solver's own particle bins (the pure-Python reference list takes seconds
    at N = 1024, more than the whole label).
    """
    from pgnfast.neighbors import available_backends, neighbor_list

    n = len(pos)
    kc = config.CONTACT_STIFFNESS / radius.mean() ** 2
    energies = np.zeros(n)
    grad = np.zeros((n, 3))
    cutoff = 2 * radius.max()
    if "cpu" in available_backends("cpu"):
        pairs = neighbor_list(pos, box, cutoff, half=True, backend="cpu")
        i, j, vec = np.asarray(pairs.i), np.asarray(pairs.j), np.asarray(pairs.vectors)
    else:
        nb, start, order = _bins(frac, widths, cutoff)
        bins = (box, np.linalg.inv(box), pos, nb, start, order, widths)
        i, j, vec = _kernels.contact_pairs(bins, radius, cutoff)
    dist = np.linalg.norm(vec, axis=1)
    overlap = radius[i] + radius[j] - dist
    deep = overlap > config.MAX_CORE_OVERLAP * np.minimum(radius[i], radius[j])
    if deep.any():
        k = np.flatnonzero(deep)[0]
        raise CoreOverlapError(
            f"cores {i[k]} and {j[k]} overlap beyond contact: centre distance {dist[k]:.4g} nm "
            f"< {radius[i[k]] + radius[j[k]]:.4g} nm - {config.MAX_CORE_OVERLAP} x "
            f"{min(radius[i[k]], radius[j[k]]):.4g} nm"
        )
    touching = overlap > 0
    i, j, overlap, dist, vec = (
        i[touching],
        j[touching],
        overlap[touching],
        dist[touching],
        vec[touching],
    )
    u = 0.5 * kc * overlap**2
    np.add.at(energies, i, u / 2)
    np.add.at(energies, j, u / 2)
    g = (kc * overlap / dist)[:, None] * vec  # dU/dr_i
    np.add.at(grad, i, g)
    np.add.at(grad, j, -g)
    return float(u.sum()), energies, grad


# --------------------------------------------------------------------------- dual solvers
_BLAS = ThreadpoolController()  # a solve runs on one BLAS thread: the same bits anywhere


class _Dual:
    """The concave dual G(psi) of one configuration, evaluated by the sweep kernel."""

    def __init__(self, offsets, idx, weight, avail_dv, c_min, omega, n_chunks):
        self.offsets, self.idx, self.weight = offsets, idx, weight
        self.avail_dv, self.omega, self.n_chunks = avail_dv, omega, n_chunks
        self.constant = float(avail_dv @ c_min)
        self.partial = np.empty((n_chunks, len(omega)))
        self.sweeps = 0

    def evaluate(self, psi):
        """(filled_j, G(psi)) with filled in nm^3 and G in kT nm^3."""
        filled, log_sum = _kernels.sweep(
            self.offsets,
            self.idx,
            self.weight,
            self.avail_dv,
            np.exp(psi),
            self.n_chunks,
            self.partial,
        )
        self.sweeps += 1
        return filled, float(psi @ self.omega - log_sum + self.constant)

    def error(self, filled):
        return float(np.max(np.abs(self.omega - filled) / self.omega))


def _gauge(psi):
    return psi - psi.mean()


def _anderson(dual: _Dual, psi, start, tol, max_iterations, memory):
    """Sinkhorn with Anderson acceleration from `psi`, whose evaluation is `start`."""
    filled, _ = start
    f = np.log(dual.omega / filled)
    err = dual.error(filled)
    best = (err, psi, f)
    dx, df = [], []
    it = 0
    while err >= tol and it < max_iterations:
        it += 1
        step = f
        if dx:
            dX, dF = np.array(dx).T, np.array(df).T
            gamma = np.linalg.lstsq(dF, f, rcond=1e-12)[0]
            step = f - (dX + dF) @ gamma
        new_psi = _gauge(psi + step)
        filled, _ = dual.evaluate(new_psi)
        new_f = np.log(dual.omega / filled)
        new_err = dual.error(filled) if np.isfinite(new_f).all() else np.inf
        if not new_err < 100 * best[0] + 1e-300:  # Anderson wandered off: restart from best
            dx, df = [], []
            err, psi, f = best
            new_psi = _gauge(psi + f)
            filled, _ = dual.evaluate(new_psi)
            new_f = np.log(dual.omega / filled)
            new_err = dual.error(filled)
        else:
            dx.append(new_psi - psi)
            df.append(new_f - f)
            if len(dx) > memory:
                dx.pop(0)
                df.pop(0)
        psi, f, err = new_psi, new_f, new_err
        if err < best[0]:
            best = (err, psi, f)
    return psi, err, it


def _newton(dual: _Dual, psi, start, tol, max_iterations):
    """Newton on the dual Hessian from `psi`, whose evaluation is `start`."""
    n = len(psi)
    filled, g_value = start
    err = dual.error(filled)
    threads = config.HESSIAN_CHUNKS
    partial = np.empty((threads, n, n))
    it = 0
    while err >= tol and it < max_iterations:
        it += 1
        lap = _kernels.laplacian(
            dual.offsets, dual.idx, dual.weight, dual.avail_dv, np.exp(psi), threads, partial
        )
        lap += np.mean(np.diag(lap)) / n  # lifts the gauge (constant) null vector
        try:
            step = np.linalg.solve(lap, dual.omega - filled)
        except np.linalg.LinAlgError:  # a particle shares no voxel within the truncation
            return psi, err, it
        # hard territories (small R) leave the Hessian nearly singular: cap the step in kT
        step *= min(1.0, config.NEWTON_MAX_STEP_KT / max(float(np.abs(step).max()), 1e-300))
        t = 1.0
        while True:
            trial = _gauge(psi + t * step)
            with np.errstate(over="ignore", invalid="ignore"):
                trial_filled, trial_value = dual.evaluate(trial)
            usable = np.isfinite(trial_value) and np.isfinite(trial_filled).all()
            if usable and trial_value >= g_value - 1e-13 * abs(g_value):
                break
            if t < 1e-4:
                if not usable:  # exp(psi) overflows along the whole step: stop here
                    return psi, err, it
                break
            t *= 0.5
        psi, filled, g_value = trial, trial_filled, trial_value
        err = dual.error(filled)
    return psi, err, it


# --------------------------------------------------------------------------- solve
def solve(
    positions,
    cell,
    design: PGNDesign,
    *,
    types=None,
    spacing=None,
    tol=1e-10,
    warm_start=None,
    method=None,
    check_reach=True,
    allow_unconverged=False,
    max_iterations=None,
) -> DFTResult:
    """Free energy (kT), per-particle energies (kT) and forces (kT/nm) of PGN cores.

    positions: (N, 3) core centres, nm. cell: (3, 3) box vectors as rows, nm (periodic).
    design: PGNDesign. types: (N,) ints indexing the design's per-type values (needed when
    it has several types). spacing: grid spacing h, nm (default a_min/3). tol: stopping rule
    max_i |Omega_i - sum_x h^3 phi_i| / Omega_i < tol, any real number in (0, 1).
    warm_start: psi (N,) of a previous solve of the same particles. method: "anderson" or
    "newton" (default config.DEFAULT_METHOD). Raises DFTInputError (a
    pgnfast.errors.InputError; CoreOverlapError for overlapping cores) for bad input and
    NotConverged (with .result) unless allow_unconverged=True.
    """
    with _BLAS.limit(limits=1, user_api="blas"):  # BLAS sums in thread-dependent order
        return _solve(
            positions,
            cell,
            design,
            types=types,
            spacing=spacing,
            tol=tol,
            warm_start=warm_start,
            method=method,
            check_reach=check_reach,
            allow_unconverged=allow_unconverged,
            max_iterations=max_iterations,
        )


def _solve(
    positions,
    cell,
    design,
    *,
    types,
    spacing,
    tol,
    warm_start,
    method,
    check_reach,
    allow_unconverged,
    max_iterations,
) -> DFTResult:
    clock = {"start": time.perf_counter()}
    pos, box, kinds, h, tol = check_inputs(positions, cell, design, types, spacing, tol)
    method, limit = check_settings(method, max_iterations)
    n = len(pos)
    radius, _ = design.per_particle(kinds)
    polymer = design.polymer_volume[kinds]
    share = polymer / polymer.sum()
    if warm_start is None:
        psi0 = _gauge(np.log(share))
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # check_start reports overflow
            psi0 = _gauge(check_warm_start(warm_start, n))
    chain_size2 = design.chain_size**2
    v_chain = design.chain_volume

    lengths = np.linalg.norm(box, axis=1)
    m = np.maximum(1, np.round(lengths / h)).astype(np.int64)
    if (m < config.MIN_VOXELS_PER_AXIS).any():
        raise DFTInputError(
            f"box too small for the grid: {m.tolist()} voxels along the cell "
            f"vectors at spacing {h:.3g} nm (need >= "
            f"{config.MIN_VOXELS_PER_AXIS} each)"
        )
    dv = abs(np.linalg.det(box)) / m.prod()
    width = dv ** (1 / 3)
    widths = face_widths(box)
    inv = np.linalg.inv(box)
    frac = (pos @ inv) % 1.0
    n_chunks = config.VOXEL_CHUNKS

    contact_energy, contact_energies, contact_grad = _contacts(pos, box, radius, frac, widths)

    # nearest core surface of every voxel -> the search radius (interaction reach)
    spacing_guess = (abs(np.linalg.det(box)) / n) ** (1 / 3)
    bin_length = max(radius.max(), spacing_guess)
    nb, bin_start, bin_particles = _bins(frac, widths, bin_length)
    bins = (box, inv, pos, nb, bin_start, bin_particles, widths)
    s_min = _kernels.nearest_surface(m, bins, radius, min(bin_length, widths.min() / 2), n_chunks)
    s_max = float(s_min.max())
    truncation = math.sqrt(s_max**2 + config.TRUNCATION_KT * chain_size2 / 1.5)
    reach = radius.max() + max(truncation, config.CHI_CUTOFF_WIDTHS * width)
    search_radius = reach
    if check_reach and 2 * reach > widths.min():
        raise DFTInputError(
            f"box too small for the interaction reach: {reach:.4g} nm from a core centre "
            f"(chains to the 50 kT truncation with nearest-surface gaps up to {s_max:.3g} nm: "
            f"{radius.max() + truncation:.4g} nm; core occupancy to "
            f"{config.CHI_CUTOFF_WIDTHS:g} smoothing widths: "
            f"{radius.max() + config.CHI_CUTOFF_WIDTHS * width:.4g} nm), so every "
            f"face-to-face width must be >= {2 * reach:.4g} nm, but the smallest is "
            f"{widths.min():.4g} nm; use more particles, a finer spacing or a design with a "
            f"smaller chain size"
        )
    clock["geometry"] = time.perf_counter()

    nb, bin_start, bin_particles = _bins(frac, widths, max(search_radius / 3, widths.min() / 64))
    n_vox = int(m.prod())
    offsets = np.zeros(n_vox + 1, np.int64)
    geometry = (m, (box, inv, pos, nb, bin_start, bin_particles, widths), radius)
    settings = (chain_size2, width, config.TRUNCATION_KT, config.CHI_CUTOFF_WIDTHS, dv, n_chunks)
    empty_i, empty_f = np.empty(0, np.int32), np.empty(0)
    _kernels.build_entries(
        *geometry,
        radius.max() + truncation,
        settings,
        offsets,
        empty_i,
        empty_f,
        empty_f,
        empty_f,
        False,
    )
    np.cumsum(offsets, out=offsets)
    idx = np.empty(offsets[-1], np.int32)
    weight = np.empty(offsets[-1])
    avail_dv = np.empty(n_vox)
    c_min = np.empty(n_vox)
    _kernels.build_entries(
        *geometry, search_radius, settings, offsets, idx, weight, avail_dv, c_min, True
    )
    clock["entries"] = time.perf_counter()

    omega = share * avail_dv.sum()
    dual = _Dual(offsets, idx, weight, avail_dv, c_min, omega, n_chunks)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        start = dual.evaluate(psi0)
    check_start(psi0, start[0], omega, warm=warm_start is not None)
    if method == "newton" and n > config.NEWTON_DENSE_LIMIT:
        method = "anderson"  # the dense Hessian would not fit; Anderson needs O(N) memory
    if method == "anderson":
        psi, residual, iterations = _anderson(dual, psi0, start, tol, limit, config.ANDERSON_MEMORY)
    else:
        psi, residual, iterations = _newton(dual, psi0, start, tol, limit)
    clock["dual"] = time.perf_counter()

    energies, grad = _kernels.energies_gradient(
        *geometry,
        search_radius,
        settings,
        avail_dv,
        c_min,
        np.exp(psi),
        psi,
        float(share @ psi),
    )
    _, g_value = dual.evaluate(psi)
    free_energy = g_value / v_chain
    energies = energies / v_chain + contact_energies
    forces = -(grad / v_chain + contact_grad)
    clock["forces"] = time.perf_counter()

    converged = residual < tol
    info = {
        "method": method,
        "sweeps": dual.sweeps,
        "grid": m.tolist(),
        "n_voxels": n_vox,
        "entries_per_voxel": float(offsets[-1] / n_vox),
        "reach": float(reach),
        "max_surface_gap": s_max,
        "smoothing_width": float(width),
        "contact_energy": contact_energy,
        "tol": float(tol),
        "time_geometry": clock["geometry"] - clock["start"],
        "time_entries": clock["entries"] - clock["geometry"],
        "time_dual": clock["dual"] - clock["entries"],
        "time_forces": clock["forces"] - clock["dual"],
        "time_total": clock["forces"] - clock["start"],
    }
    result = DFTResult(
        energy=float(free_energy + contact_energy),
        energies=energies,
        forces=forces,
        converged=bool(converged),
        iterations=int(iterations),
        residual=float(residual),
        spacing=float(width),
        psi=psi,
        info=info,
    )
    if not converged and not allow_unconverged:
        raise NotConverged(
            f"dual solve stopped after {iterations} iterations at residual "
            f"{residual:.3g} >= tol {tol:.3g}",
            result,
        )
    return result
