"""Numba kernels of the PGN functional (units: nm, kT). Every loop runs `prange` over chunks of
voxels; each chunk accumulates per-particle sums in its own row, so threads never race.

Geometry: voxel v has centre ((i + 1/2)/m0, (j + 1/2)/m1, (k + 1/2)/m2) @ cell. Particles are
binned by fractional coordinate (`bins` = (cell, inv, positions, nb, bin_start, bin_particles,
widths), see solver._bins); a voxel visits only the bins within a search radius (each bin
once, so each particle at most once: its minimum image). That bin search is written once,
in `_gather`, and every kernel reaches it through `_voxel_candidates`. `settings` =
(R^2 nm^2, smoothing width w nm, truncation kT, chi cutoff in widths, voxel volume nm^3,
number of voxel chunks).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .config import NUMBA_FLAGS

_SERIAL = {k: v for k, v in NUMBA_FLAGS.items() if k != "parallel"}


@njit(**_SERIAL)
def _voxel_frac(v, m0, m1, m2, out):
    i2 = v % m2
    rest = v // m2
    i1 = rest % m1
    i0 = rest // m1
    out[0] = (i0 + 0.5) / m0
    out[1] = (i1 + 0.5) / m1
    out[2] = (i2 + 0.5) / m2


@njit(**_SERIAL)
def _minimum_image(x, p, cell, inv, out):
    """out = minimum-image displacement x - p (nm), by rounding fractional components."""
    d0 = x[0] - p[0]
    d1 = x[1] - p[1]
    d2 = x[2] - p[2]
    f0 = d0 * inv[0, 0] + d1 * inv[1, 0] + d2 * inv[2, 0]
    f1 = d0 * inv[0, 1] + d1 * inv[1, 1] + d2 * inv[2, 1]
    f2 = d0 * inv[0, 2] + d1 * inv[1, 2] + d2 * inv[2, 2]
    f0 -= np.rint(f0)
    f1 -= np.rint(f1)
    f2 -= np.rint(f2)
    for c in range(3):
        out[c] = f0 * cell[0, c] + f1 * cell[1, c] + f2 * cell[2, c]
    return math.sqrt(out[0] * out[0] + out[1] * out[1] + out[2] * out[2])


@njit(**_SERIAL)
def _candidate_scratch(n_part):
    """One thread's scratch for `_gather`: (particle ids (n_part,) int32, distances (n_part,)
    nm, fractional point (3,), Cartesian point (3,) nm, displacement (3,) nm)."""
    return (np.empty(n_part, np.int32), np.empty(n_part), np.empty(3), np.empty(3), np.empty(3))


@njit(**_SERIAL)
def _gather(search_radius, bins, scratch):
    """The voxel-gather loop: every particle in the bins within `search_radius` (nm) of the
    point at fractional coordinate scratch[2], each once, at its minimum image.

    bins: (cell, inv, positions, nb, bin_start, bin_particles, widths). Writes the point's
    Cartesian position to scratch[3], particle ids to scratch[0] and distances |x - r_j| (nm)
    to scratch[1]; returns how many.
    """
    cell, inv, positions, nb, bin_start, bin_particles, widths = bins
    out_idx, out_r, frac, xyz, disp = scratch
    for c in range(3):
        xyz[c] = frac[0] * cell[0, c] + frac[1] * cell[1, c] + frac[2] * cell[2, c]
    lo = np.empty(3, np.int64)
    cnt = np.empty(3, np.int64)
    for k in range(3):
        home = int(frac[k] * nb[k])
        if home >= nb[k]:
            home = nb[k] - 1
        reach = int(math.ceil(search_radius * nb[k] / widths[k]))
        if 2 * reach + 1 >= nb[k]:
            lo[k] = 0
            cnt[k] = nb[k]
        else:
            lo[k] = home - reach
            cnt[k] = 2 * reach + 1
    n = 0
    for a in range(cnt[0]):
        b0 = (lo[0] + a) % nb[0]
        for b in range(cnt[1]):
            b1 = (lo[1] + b) % nb[1]
            for c in range(cnt[2]):
                b2 = (lo[2] + c) % nb[2]
                bin_id = (b0 * nb[1] + b1) * nb[2] + b2
                for t in range(bin_start[bin_id], bin_start[bin_id + 1]):
                    j = bin_particles[t]
                    out_idx[n] = j
                    out_r[n] = _minimum_image(xyz, positions[j], cell, inv, disp)
                    n += 1
    return n


@njit(**_SERIAL)
def _voxel_candidates(v, m, search_radius, bins, scratch):
    """The particles within `search_radius` (nm) of the centre of voxel v of the (m0, m1, m2)
    grid (see `_gather`): returns their count n; ids in scratch[0][:n], distances in
    scratch[1][:n], the voxel centre in scratch[3]."""
    _voxel_frac(v, m[0], m[1], m[2], scratch[2])
    return _gather(search_radius, bins, scratch)


@njit(**_SERIAL)
def _nearest_gap(n, idx, rr, radius):
    """min over the n gathered particles of |x - r_j| - a_j (nm; inf when n = 0)."""
    best = np.inf
    for t in range(n):
        s = rr[t] - radius[idx[t]]
        if s < best:
            best = s
    return best


@njit(**NUMBA_FLAGS)
def nearest_surface(m, bins, radius, bin_length, n_chunks):
    """Per voxel, the distance (nm) from its centre to the nearest core surface (>= 0)."""
    n_vox = m[0] * m[1] * m[2]
    n_part = bins[2].shape[0]
    a_max = radius.max()
    out = np.empty(n_vox)
    per = (n_vox + n_chunks - 1) // n_chunks
    for chunk in prange(n_chunks):
        scratch = _candidate_scratch(n_part)
        for v in range(chunk * per, min(n_vox, (chunk + 1) * per)):
            shell = 1
            while True:
                search = shell * bin_length
                n = _voxel_candidates(v, m, search, bins, scratch)
                best = _nearest_gap(n, scratch[0], scratch[1], radius)
                if best + a_max <= search or n == n_part:
                    break
                shell += 1
            out[v] = max(best, 0.0)
    return out


@njit(**NUMBA_FLAGS)
def build_entries(
    m,
    bins,
    radius,
    search_radius,
    settings,
    offsets,
    idx_out,
    weight_out,
    avail_dv,
    c_min_out,
    fill,
):
    """Per-voxel lists (CSR) of the particles whose chains enter it (c_j - c_min < truncation).

    count pass (fill=False): offsets[v + 1] = number of entries. fill pass: idx_out,
    weight_out = exp(-(c_j - c_min)), avail_dv = A(x) * voxel volume (nm^3) with A over every
    core within chi_cutoff widths, c_min_out = min_k c_k(x) (kT).
    """
    chain_size2, width, truncation_kt, chi_cutoff, dv, n_chunks = settings
    n_vox = m[0] * m[1] * m[2]
    n_part = bins[2].shape[0]
    per = (n_vox + n_chunks - 1) // n_chunks
    for chunk in prange(n_chunks):
        scratch = _candidate_scratch(n_part)
        idx, rr = scratch[0], scratch[1]
        for v in range(chunk * per, min(n_vox, (chunk + 1) * per)):
            n = _voxel_candidates(v, m, search_radius, bins, scratch)
            s_min = max(_nearest_gap(n, idx, rr, radius), 0.0)
            c_min = 1.5 * s_min * s_min / chain_size2
            s_cut2 = (c_min + truncation_kt) * chain_size2 / 1.5
            if not fill:
                count = 0
                for t in range(n):
                    s = max(rr[t] - radius[idx[t]], 0.0)
                    if s * s < s_cut2:
                        count += 1
                offsets[v + 1] = count
                continue
            k = offsets[v]
            avail = 1.0
            for t in range(n):
                j = idx[t]
                gap = rr[t] - radius[j]
                s = max(gap, 0.0)
                if s * s < s_cut2:
                    idx_out[k] = j
                    weight_out[k] = math.exp(-(1.5 * s * s / chain_size2 - c_min))
                    k += 1
                if gap < chi_cutoff * width:
                    avail *= 1.0 / (1.0 + math.exp(-2.0 * gap / width))  # 1 - chi_j
            avail_dv[v] = avail * dv
            c_min_out[v] = c_min


@njit(**_SERIAL)
def _sum_in_order(values):
    """sum(values), added first to last. (Inside a parallel kernel values.sum() becomes a
    parallel reduction whose order, hence last bits, depends on the thread count.)"""
    total = 0.0
    for value in values:
        total += value
    return total


@njit(**NUMBA_FLAGS)
def sweep(offsets, idx, weight, avail_dv, u, n_chunks, partial):
    """One dual evaluation with u_j = exp(psi_j): returns (filled_j = sum_x dv phi_j(x) in nm^3,
    sum_x A dv ln Z'(x)) where Z'(x) = sum_j u_j exp(-(c_j - c_min)) = Z(x) exp(c_min(x))."""
    n_vox = avail_dv.shape[0]
    per = (n_vox + n_chunks - 1) // n_chunks
    log_sums = np.zeros(n_chunks)
    partial[:] = 0.0
    for chunk in prange(n_chunks):
        acc = 0.0
        for v in range(chunk * per, min(n_vox, (chunk + 1) * per)):
            z = 0.0
            for k in range(offsets[v], offsets[v + 1]):
                z += u[idx[k]] * weight[k]
            scale = avail_dv[v] / z
            acc += avail_dv[v] * math.log(z)
            for k in range(offsets[v], offsets[v + 1]):
                j = idx[k]
                partial[chunk, j] += u[j] * weight[k] * scale
        log_sums[chunk] = acc
    return partial.sum(axis=0), _sum_in_order(log_sums)


@njit(**NUMBA_FLAGS)
def laplacian(offsets, idx, weight, avail_dv, u, n_chunks, partial):
    """Minus the dual Hessian, sum_x dv (phi_i delta_ij - phi_i phi_j / A): dense (N, N)."""
    n_vox = avail_dv.shape[0]
    per = (n_vox + n_chunks - 1) // n_chunks
    partial[:] = 0.0
    for chunk in prange(n_chunks):
        for v in range(chunk * per, min(n_vox, (chunk + 1) * per)):
            z = 0.0
            for k in range(offsets[v], offsets[v + 1]):
                z += u[idx[k]] * weight[k]
            a = avail_dv[v]
            for k in range(offsets[v], offsets[v + 1]):
                i = idx[k]
                qi = u[i] * weight[k] / z
                partial[chunk, i, i] += a * qi
                for l in range(offsets[v], offsets[v + 1]):
                    partial[chunk, i, idx[l]] -= a * qi * u[idx[l]] * weight[l] / z
    return partial.sum(axis=0)


@njit(**NUMBA_FLAGS)
def energies_gradient(
    m,
    bins,
    radius,
    search_radius,
    settings,
    avail_dv,
    c_min,
    u,
    psi,
    mean_psi_weighted,
):
    """Per-particle free energies times V_ch (kT nm^3) and the gradient of F times V_ch.

    energies_j = sum_x dv phi_j (psi_j - ln Z); gradient_k = sum_x dv [phi_k dc_k/dr_k
    + dA/dr_k (sum_i w_i psi_i - ln Z)] (envelope theorem, see pgn-functional.md). Visits the
    same particles as build_entries, in the same order.
    """
    chain_size2, width, truncation_kt, chi_cutoff, dv, n_chunks = settings
    cell, inv, positions = bins[0], bins[1], bins[2]
    n_vox = avail_dv.shape[0]
    n_part = positions.shape[0]
    per = (n_vox + n_chunks - 1) // n_chunks
    energy_rows = np.zeros((n_chunks, n_part))
    grad_rows = np.zeros((n_chunks, n_part, 3))
    for chunk in prange(n_chunks):
        scratch = _candidate_scratch(n_part)
        idx, rr, xyz, disp = scratch[0], scratch[1], scratch[3], scratch[4]
        for v in range(chunk * per, min(n_vox, (chunk + 1) * per)):
            n = _voxel_candidates(v, m, search_radius, bins, scratch)
            s_cut2 = (c_min[v] + truncation_kt) * chain_size2 / 1.5
            z = 0.0
            for t in range(n):
                s = max(rr[t] - radius[idx[t]], 0.0)
                if s * s < s_cut2:
                    z += u[idx[t]] * math.exp(-(1.5 * s * s / chain_size2 - c_min[v]))
            log_z = math.log(z) - c_min[v]
            a_dv = avail_dv[v]
            a = a_dv / dv
            mix = (mean_psi_weighted - log_z) * dv
            for t in range(n):
                j = idx[t]
                gap = rr[t] - radius[j]
                s = max(gap, 0.0)
                coef = 0.0
                if s * s < s_cut2:
                    phi_dv = a_dv * u[j] * math.exp(-(1.5 * s * s / chain_size2 - c_min[v])) / z
                    energy_rows[chunk, j] += phi_dv * (psi[j] - log_z)
                    coef -= 3.0 * s / chain_size2 * phi_dv  # phi dc/d|x - r_j|
                if gap < chi_cutoff * width:
                    tw = gap / width
                    ch = math.cosh(tw)
                    dchi_dr = -0.5 / (width * ch * ch)
                    one_minus = 1.0 / (1.0 + math.exp(-2.0 * tw))
                    if one_minus > 1e-280:
                        others = a / one_minus
                    else:  # A underflowed: product over the other cores
                        others = 1.0
                        for q in range(n):
                            g = rr[q] - radius[idx[q]]
                            if q != t and g < chi_cutoff * width:
                                others *= 1.0 / (1.0 + math.exp(-2.0 * g / width))
                    coef += others * dchi_dr * mix  # dA/d|x - r_j| = -others dchi_dr
                if coef != 0.0:
                    # d|x - r_j|/dr_j = -(x - r_j)/|x - r_j|; gradient = -coef * unit
                    r = _minimum_image(xyz, positions[j], cell, inv, disp)
                    scale = coef / max(r, 1e-300)
                    for c in range(3):
                        grad_rows[chunk, j, c] += scale * disp[c]
    return energy_rows.sum(axis=0), grad_rows.sum(axis=0)


@njit(**_SERIAL)
def contact_pairs(bins, radius, cutoff):
    """Pairs i < j of cores closer than `cutoff` (minimum image): (i, j, displacement r_j - r_i)."""
    cell, inv, positions = bins[0], bins[1], bins[2]
    n = positions.shape[0]
    pairs_i, pairs_j = [], []
    vectors = []
    scratch = _candidate_scratch(n)
    idx, rr, frac = scratch[0], scratch[1], scratch[2]
    for i in range(n):
        for c in range(3):
            frac[c] = (
                positions[i, 0] * inv[0, c]
                + positions[i, 1] * inv[1, c]
                + positions[i, 2] * inv[2, c]
            ) % 1.0
        m = _gather(cutoff, bins, scratch)
        for t in range(m):
            j = idx[t]
            if j > i and rr[t] < cutoff:
                d = np.empty(3)
                _minimum_image(positions[j], positions[i], cell, inv, d)
                pairs_i.append(i)
                pairs_j.append(j)
                vectors.append(d)
    out = np.empty((len(vectors), 3))
    for k in range(len(vectors)):
        out[k] = vectors[k]
    return np.array(pairs_i, np.int64), np.array(pairs_j, np.int64), out
