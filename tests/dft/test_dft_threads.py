"""DFT labels are bit-identical for 1 and 2 Numba and BLAS threads (docs/dft.md: the voxel
sums are split into a fixed number of chunks whatever the thread count, and the dense dual
solves run on one BLAS thread).

Numba fixes its thread count per process at first use, so each count runs `solve` in its own
subprocess on the same fresh random configuration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from pgnfast.dft import PGNDesign

from .dft_helpers import SMALL, place

# Child process: solve the configuration in argv[1] with both dual methods, save to argv[2].
CHILD = """
import json, sys
import numba
import numpy as np
from pgnfast.dft import PGNDesign, solve

data = np.load(sys.argv[1])
out = {"threads": np.array(numba.get_num_threads())}
for k in range(int(data["count"])):
    design = PGNDesign.from_dict(json.loads(str(data[f"design_{k}"])))
    for method in ("newton", "anderson"):
        result = solve(
            data[f"positions_{k}"], data[f"cell_{k}"], design, spacing=2.0, check_reach=False,
            method=method,
        )
        key = f"{method}_{k}"
        out[key + "_energy"] = np.array(result.energy)
        out[key + "_energies"] = result.energies
        out[key + "_forces"] = result.forces
        out[key + "_psi"] = result.psi
np.savez(sys.argv[2], **out)
"""


def _start_solve(configuration, threads: int, out):
    """A child process that labels `configuration` with `threads` Numba threads into `out`."""
    count = str(threads)
    env = {**os.environ, "NUMBA_NUM_THREADS": count, "OMP_NUM_THREADS": count}
    env.update(OPENBLAS_NUM_THREADS=count, MKL_NUM_THREADS=count)
    command = [sys.executable, "-c", CHILD, str(configuration), str(out)]
    return subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)


def test_labels_are_bit_identical_for_one_and_two_threads(rng, tmp_path):
    # 6 small cores, and 64 of the default design: BLAS threads its long dot products
    default = PGNDesign(
        core_radius=8.0, grafting_density=1.0, chain_length=20, kuhn_length=1.0, segment_volume=0.5
    )
    cells = [np.diag([30.0, 31.5, 28.5]), np.diag([80.0, 78.0, 82.0])]
    positions = [place(rng, 6, cells[0], 5.0), place(rng, 64, cells[1], 8.0)]
    designs = [json.dumps(SMALL.to_dict()), json.dumps(default.to_dict())]
    configuration = tmp_path / "configuration.npz"
    arrays = {"count": np.array(2)}
    for k in range(2):
        arrays.update({f"positions_{k}": positions[k], f"cell_{k}": cells[k]})
        arrays[f"design_{k}"] = designs[k]
    np.savez(configuration, **arrays)
    outputs = {threads: tmp_path / f"labels_{threads}.npz" for threads in (1, 2)}
    # both at once: most of each child's time is importing
    children = {t: _start_solve(configuration, t, out) for t, out in outputs.items()}
    for threads, child in children.items():
        _, errors = child.communicate(timeout=300)
        assert child.returncode == 0, f"the {threads}-thread solve failed:\n{errors}"
    one, two = (np.load(out) for out in outputs.values())
    assert int(one["threads"]) == 1 and int(two["threads"]) == 2
    for key in one.files:
        if key != "threads":
            assert np.array_equal(one[key], two[key]), key
