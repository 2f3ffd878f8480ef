"""DFT labels are bit-identical for 1 and 2 Numba threads (docs/dft.md: the voxel sums are
split into a fixed number of chunks whatever the thread count).

Numba fixes its thread count per process at first use, so each count runs `solve` in its own
subprocess on the same fresh random configuration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from .dft_helpers import SMALL, place

# Child process: solve the configuration in argv[1] with both dual methods, save to argv[2].
CHILD = """
import json, sys
import numba
import numpy as np
from pgnfast.dft import PGNDesign, solve

data = np.load(sys.argv[1])
design = PGNDesign.from_dict(json.loads(str(data["design"])))
out = {"threads": np.array(numba.get_num_threads())}
for method in ("newton", "anderson"):
    result = solve(
        data["positions"], data["cell"], design, spacing=2.0, check_reach=False, method=method
    )
    out[method + "_energy"] = np.array(result.energy)
    out[method + "_energies"] = result.energies
    out[method + "_forces"] = result.forces
    out[method + "_psi"] = result.psi
np.savez(sys.argv[2], **out)
"""


def _start_solve(configuration, threads: int, out):
    """A child process that labels `configuration` with `threads` Numba threads into `out`."""
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
    command = [sys.executable, "-c", CHILD, str(configuration), str(out)]
    return subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)


def test_labels_are_bit_identical_for_one_and_two_threads(rng, tmp_path):
    cell = np.diag([30.0, 31.5, 28.5])
    positions = place(rng, 6, cell, 5.0)
    configuration = tmp_path / "configuration.npz"
    np.savez(configuration, positions=positions, cell=cell, design=json.dumps(SMALL.to_dict()))
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
