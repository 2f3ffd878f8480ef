"""Run a test module in a subprocess with TRITON_INTERPRET=1, which must be set before Triton
is imported, so Triton kernels run on the CPU without touching this process's Triton."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def run_interpreted(
    module: str, expected: str, timeout: int = 600, seed: int | None = None
) -> None:
    """Run `python -m module SEED` under the Triton interpreter and assert it exits 0 and
    prints `expected`. Pass the test's `test_seed` fixture as `seed` so the suite's root
    seed replays the run (without it a fresh seed is drawn and shown on failure)."""
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=str(ROOT))
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**31))
    seed = int(seed) % (2**31)
    result = subprocess.run(
        [sys.executable, "-m", module, str(seed)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"seed {seed}\n{result.stdout}\n{result.stderr[-4000:]}"
    assert expected in result.stdout
