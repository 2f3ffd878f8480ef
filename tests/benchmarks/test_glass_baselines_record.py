"""benchmarks/glass_baselines.py's record: a rerun of one baseline keeps the others of the
existing record with their own provenance, and the recorded command names no folder."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _script():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(
            "glass_baselines", BENCHMARKS / "glass_baselines.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def test_recorded_command_hides_the_folders(rng):
    script = _script()
    folder = f"/somewhere/{rng.integers(10**6)}"
    arguments = ["--budget", "full", "--out", folder, f"--work={folder}", "--nequip", folder]
    hidden = script._without_paths(arguments)
    assert hidden == ["--budget", "full", "--out", "OUT", "--work=WORK", "--nequip", "NEQUIP"]


def test_a_rerun_keeps_the_other_baselines_with_their_provenance(rng, tmp_path):
    script = _script()
    r = {name: float(rng.uniform(0, 1)) for name in ("ridge", "schnet", "symgnn")}
    record = {
        "date": "2026-12-01T00:00:00+00:00",
        "commit": "abc",
        "command": "python benchmarks/glass_baselines.py DATA_FOLDER --budget full",
        "machine": {"threads": 1},
        "baselines": {name: {"validation": {"pooled": {"pearson_r": r[name]}}} for name in r},
    }
    path = tmp_path / "glass_baselines_full.json"
    path.write_text(json.dumps(record))
    kept = script._kept_baselines(path, {"symgnn"})
    assert sorted(kept) == ["ridge", "schnet"]
    for name, row in kept.items():
        assert row["validation"]["pooled"]["pearson_r"] == r[name]
        assert (row["date"], row["commit"], row["threads"]) == (
            "2026-12-01T00:00:00+00:00",
            "abc",
            1,
        )
    assert script._kept_baselines(tmp_path / "none.json", {"symgnn"}) == {}
