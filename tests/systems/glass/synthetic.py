"""Small synthetic glasses in the released files' format (a pickled dict of numpy arrays,
MATLAB-style header keys, positions centred on 0, file types 1/2, float32 labels)."""

from __future__ import annotations

import pickle

import numpy as np


def glass_arrays(rng, n: int = 40) -> dict:
    """A random glass dict: n atoms of Cu (1) and Zr (2) in a box of about 10 Angstrom."""
    box = rng.uniform(8.0, 12.0, 3).astype(np.float32)
    return {
        "__header__": b"MATLAB 5.0 MAT-file, synthetic",
        "__version__": "1.0",
        "__globals__": [],
        "box": box,
        "pos": rng.permutation(np.arange(1, n + 1)).astype(np.uint16).reshape(n, 1),
        "positions": rng.uniform(-0.5, 0.5, (n, 3)) * box.astype(np.float64),
        "pot": rng.normal(-4.5, 1.0, n).astype(np.float32),
        "press": rng.normal(0.0, 0.3, n).astype(np.float32),
        "trajectory_start_velocities": rng.normal(1.6, 0.3, n).astype(np.float32),
        "types": rng.choice(np.array([1, 2], np.int32), n, p=[0.64, 0.36]),
        "von": rng.uniform(0.1, 0.5, n).astype(np.float32),
    }


def write_glass(path, arrays):
    """Pickle `arrays` to `path` as the released files are (protocol 4)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(arrays, protocol=4))
    return path
