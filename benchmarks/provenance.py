"""Where a benchmark result came from: the commit it was measured at."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_commit() -> str:
    """Short hash of HEAD of the repository holding the benchmarks ("unknown" outside git)."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
        )
    except OSError:
        return "unknown"
    return result.stdout.strip() or "unknown"
