"""Numerical settings of the PGN classical DFT solver, in one place (units: nm, kT).

Change them here (or by monkeypatching in tests), never inside the kernels.
"""

from __future__ import annotations

import os

# Numba flags of every kernel. fastmath stays off: the labels are compared with the dense
# oracle at 1e-10 and finite-difference forces at 1e-6, which reassociated sums would spoil.
NUMBA_FLAGS = {
    "parallel": True,
    "cache": os.environ.get("PGNFAST_NUMBA_CACHE", "1") != "0",
    "fastmath": False,
    "nogil": True,
}

# A particle's chains enter a voxel only while c_j(x) - min_k c_k(x) < TRUNCATION_KT (kT).
TRUNCATION_KT = 50.0
# A core's occupancy chi_i is kept while |x - r_i| - a_i < CHI_CUTOFF_WIDTHS * w: beyond it
# chi < exp(-24) ~ 4e-11 relative to 1, below the dual stopping tolerance, so dropping it
# moves E by at most ~1e-9 kT. The same radius enters the box check (interaction reach).
# (The float64 limit, 18.4 w, would demand boxes of ~14 core radii: w = h is wide.)
CHI_CUTOFF_WIDTHS = 12.0

# Dual solver: "newton" (Newton on the dual Hessian, a weighted graph Laplacian, with a
# backtracking line search on G) or "anderson" (Sinkhorn with Anderson acceleration). Newton
# took 4 iterations where Anderson took 47-122 sweeps and was faster in wall time at
# N = 64 and 1024 (docs/dft.md), so it is the default; above NEWTON_DENSE_LIMIT particles
# the dense Hessian is too big and the solver uses Anderson.
DEFAULT_METHOD = "newton"
ANDERSON_MEMORY = 8
MAX_ITERATIONS = 5000
NEWTON_DENSE_LIMIT = 2048
# Largest Newton step, kT per particle: for small chain sizes the territories are hard, the
# Hessian nearly singular, and an uncapped step overflows exp(psi).
NEWTON_MAX_STEP_KT = 50.0
# Voxel sums are split into this many chunks whatever the thread count (Hessian: fewer,
# it is N x N per chunk), so a label is bit-identical on 1 or 16 threads, any executor
# (the solver also runs its dense linear algebra on one BLAS thread).
VOXEL_CHUNKS = 64
HESSIAN_CHUNKS = 4

# Input checks.
MAX_CORE_OVERLAP = 0.5  # refuse r_ij < a_i + a_j - MAX_CORE_OVERLAP * min(a_i, a_j)
MIN_VOXELS_PER_AXIS = 4  # refuse grids coarser than this along any cell vector
MAX_SPACING_OVER_RADIUS = 1.0  # refuse h > a_min: the cores would not be resolved
CONTACT_STIFFNESS = 1000.0  # k_c = CONTACT_STIFFNESS / a_mean^2, kT/nm^2
