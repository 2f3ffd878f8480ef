"""Resumable stages: each stage's outputs live in its own folder, keyed by a hash of the
configuration fields it reads and of its inputs' keys (`pgnfast.systems.pgn.stages.stage_keys`).

`stages.json` records every finished stage (key, results, wall and CPU seconds). A stage
whose record has the current key and whose output files exist is reused without running.
Otherwise it runs; if its folder was started with the same key (an interrupted run), the
stage's own resumable parts (label shards, training and Monte Carlo checkpoints) pick up
where it stopped, and a folder with another key is cleared first.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from pgnfast._atomic import write_json

KEY_FILE = ".stage_key"


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
