"""The resumable stage runner of the PGN pipeline: `pgnfast._stages`, shared with the other
systems' staged commands."""

from pgnfast._stages import KEY_FILE, StageOutcome, StageRunner, cpu_seconds, process_rank

__all__ = ["KEY_FILE", "StageOutcome", "StageRunner", "cpu_seconds", "process_rank"]
