"""The PGN study pipeline: DFT labels -> NequIP -> parallel tempering -> glass structure.

`pgnfast demo` runs it in miniature (`demo_config()`), `pgnfast study-pgn config.yaml` runs
it for several designs at full size; only the sizes in `PipelineConfig` differ.
"""

from .config import PipelineConfig, StudyConfig, demo_config, demo_design, tiny_config
from .run import Pipeline, run_pipeline

__all__ = [
    "Pipeline",
    "PipelineConfig",
    "StudyConfig",
    "demo_config",
    "demo_design",
    "run_pipeline",
    "tiny_config",
]
