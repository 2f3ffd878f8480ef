"""The PGN system (units: nm, kT): configurations of PGN melts, the study pipeline (DFT
labels -> NequIP -> parallel tempering -> glass structure), the demo and the label
diagnostics that fit models to the labels.

`pgnfast demo` runs the pipeline in miniature (`demo_config()`), `pgnfast study-pgn
config.yaml` runs it for several designs at full size; only the sizes in `PipelineConfig`
differ.
"""

from .config import PipelineConfig, StudyConfig, demo_config, demo_design, tiny_config
from .configurations import KINDS, random_configurations
from .run import Pipeline, run_pipeline

__all__ = [
    "KINDS",
    "Pipeline",
    "PipelineConfig",
    "StudyConfig",
    "demo_config",
    "demo_design",
    "random_configurations",
    "run_pipeline",
    "tiny_config",
]
