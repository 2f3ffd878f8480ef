"""Resumable stages, shared by the systems' staged commands (`pgnfast demo`, `pgnfast argon`):
stage keys, the read-only configuration view a stage gets, and the stage runner.

A stage's outputs live in its own folder, keyed by a hash of the configuration fields it
reads and of its inputs' keys (`stage_key`). `stages.json` records every finished stage
(key, results, wall and CPU seconds). A stage whose record has the current key and whose
output files exist is reused without running. Otherwise it runs; if its folder was started
with the same key (an interrupted run), the stage's own resumable parts (label shards,
training and Monte Carlo checkpoints) pick up where it stopped, and a folder with another
key is cleared first.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import resource
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ._atomic import write_json

KEY_FILE = ".stage_key"


def field_value(config, dotted: str):
    """The value of a dotted field ("seed", "analysis.rdf_bins") of a configuration."""
    value = config
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def stage_key(config, reads, input_keys: dict) -> str:
    """sha256 (16 hex digits) of the fields `reads` of `config` and of the inputs' keys."""
    payload = {
        "reads": {dotted: field_value(config, dotted) for dotted in sorted(reads)},
        "inputs": dict(sorted(input_keys.items())),
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class UndeclaredFieldError(AttributeError):
    """A stage read a configuration field it does not declare in READS or SETTINGS."""


class ConfigView:
    """Read-only view of a configuration showing only the dotted fields `allowed`.

    Sections are views themselves; a declared field is returned as a copy, so a stage can
    neither change the configuration nor read a field its key leaves out.
    """

    def __init__(self, config, allowed, stage: str, prefix: str = ""):
        object.__setattr__(self, "_config", config)
        object.__setattr__(self, "_allowed", frozenset(allowed))
        object.__setattr__(self, "_stage", stage)
        object.__setattr__(self, "_prefix", prefix)

    def __getattr__(self, name: str):
        dotted = self._prefix + name
        if dotted in self._allowed:
            return copy.deepcopy(getattr(self._config, name))
        if any(allowed.startswith(dotted + ".") for allowed in self._allowed):
            return type(self)(getattr(self._config, name), self._allowed, self._stage, dotted + ".")
        raise UndeclaredFieldError(
            f"stage {self._stage!r} reads config field {dotted!r}, which it does not declare "
            f"in READS or SETTINGS (declared: {sorted(self._allowed)})"
        )

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"stage {self._stage!r} cannot change config field {name!r}")


def process_rank() -> int:
    """This process's rank when launched by torchrun (RANK), else 0. Only rank 0 clears
    folders and writes records; the other ranks only join the training stage."""
    return int(os.environ.get("RANK", "0")) if int(os.environ.get("WORLD_SIZE", "1")) > 1 else 0


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished child processes."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


@dataclass
class StageOutcome:
    """What a stage returned and how it was obtained: status "ran", "resumed" or "reused";
    wall_s and cpu_s are the seconds of the run that produced the results."""

    results: dict
    status: str
    wall_s: float
    cpu_s: float


class StageRunner:
    """Runs named stages in `root`, skipping those already done with the same key."""

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.record_path = self.root / "stages.json"
        self.records = json.loads(self.record_path.read_text()) if self.record_path.exists() else {}
        self.outcomes: dict[str, StageOutcome] = {}

    def folder(self, name: str) -> Path:
        return self.root / name

    def recorded(self, name: str, key: str) -> dict | None:
        """The results recorded for stage `name` with `key`, else None."""
        record = self.records.get(name)
        if record is None or record.get("key") != key:
            return None
        self.outcomes[name] = StageOutcome(
            record["results"], "reused", record["wall_s"], record["cpu_s"]
        )
        return record["results"]

    def run(self, name: str, key: str, function, outputs=()) -> dict:
        """Results of stage `name`: reused when recorded with `key` and every path in
        `outputs` (relative to the stage folder) exists; else `function(folder, resuming)`
        is called and must return a JSON-able dict."""
        folder = self.folder(name)
        record = self.records.get(name)
        if (
            record is not None
            and record.get("key") == key
            and all((folder / path).exists() for path in outputs)
        ):
            outcome = StageOutcome(record["results"], "reused", record["wall_s"], record["cpu_s"])
            self.outcomes[name] = outcome
            return outcome.results
        key_file = folder / KEY_FILE
        if process_rank() > 0:  # torchrun: wait for rank 0 to prepare the folder, then join
            while not (key_file.exists() and key_file.read_text().strip() == key):
                time.sleep(0.5)
            return function(folder, True)
        resuming = key_file.exists() and key_file.read_text().strip() == key
        if folder.exists() and not resuming:
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        key_file.write_text(key)
        self.records.pop(name, None)
        self._save()
        wall, cpu = time.perf_counter(), cpu_seconds()
        results = function(folder, resuming)
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        status = "resumed" if resuming else "ran"
        self.records[name] = {
            "key": key,
            "results": results,
            "wall_s": wall,
            "cpu_s": cpu,
            "status": status,
        }
        self._save()
        self.outcomes[name] = StageOutcome(results, status, wall, cpu)
        return results

    def _save(self) -> None:
        write_json(self.record_path, self.records)


__all__ = [
    "KEY_FILE",
    "ConfigView",
    "StageOutcome",
    "StageRunner",
    "UndeclaredFieldError",
    "cpu_seconds",
    "field_value",
    "process_rank",
    "stage_key",
]
