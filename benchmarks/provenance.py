"""Where a benchmark result came from: the commit it was measured at."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_commit() -> str:
    """Short hash of HEAD of the repository holding the benchmarks, with "-dirty" when
    tracked files differ from it (the run used uncommitted code); "unknown" outside git."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
        )
        changes = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
        )
    except OSError:
        return "unknown"
    commit = result.stdout.strip()
    if not commit:
        return "unknown"
    return commit + ("-dirty" if changes.returncode == 0 and changes.stdout.strip() else "")
