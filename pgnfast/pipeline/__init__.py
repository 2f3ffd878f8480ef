"""Former home of the PGN study pipeline, kept as an alias: use `pgnfast.systems.pgn`.

The moved modules stay importable under their old names (`pgnfast.pipeline.run`,
`.config`, `.stages`, `.report`, `.study_cli`, and `.core_exclusion`, now in `pgnfast.dft`).
"""

import importlib
import sys

from pgnfast.systems.pgn import (
    Pipeline,
    PipelineConfig,
    StudyConfig,
    demo_config,
    demo_design,
    run_pipeline,
    tiny_config,
)

_MOVED = {
    "config": "pgnfast.systems.pgn.config",
    "run": "pgnfast.systems.pgn.run",
    "stages": "pgnfast.systems.pgn.stages",
    "report": "pgnfast.systems.pgn.report",
    "study_cli": "pgnfast.systems.pgn.study_cli",
    "core_exclusion": "pgnfast.dft.core_exclusion",
}
for _name, _target in _MOVED.items():
    sys.modules[f"{__name__}.{_name}"] = globals()[_name] = importlib.import_module(_target)

__all__ = [
    "Pipeline",
    "PipelineConfig",
    "StudyConfig",
    "demo_config",
    "demo_design",
    "run_pipeline",
    "tiny_config",
]
