"""The stages of the PGN pipeline, one module each (see `base` for what a stage declares),
and the resumable stage runner (`runner`).

1. labels    configurations at the DFT's N, labeled by the PGN DFT.
2. train     a NequIP model on the labels.
3. cost      DFT and model cost per configuration at the same N.
4. mc        parallel tempering driven by the model at a larger N.
5. pair_mc   the best pair potential fitted to the labels, and the same tempering with it.
6. compare   model- against DFT-driven Monte Carlo at the DFT's N.
7. analysis  g(r), S(q) and icosahedral order of the Monte Carlo frames (model and pair).

A stage's key is a hash of the configuration fields it READS and of its INPUTS' keys, so a
changed field reruns exactly the stages that read it and those that depend on them.
"""

from __future__ import annotations

from . import analysis, compare, cost, labels, mc, pair_mc, train
from .base import ConfigView, StageInput, TrainedModel, UndeclaredFieldError, stage_key
from .runner import KEY_FILE, StageOutcome, StageRunner, cpu_seconds, process_rank

MODULES = (labels, train, cost, mc, pair_mc, compare, analysis)
STAGES = tuple(module.NAME for module in MODULES)
BY_NAME = {module.NAME: module for module in MODULES}


def stage_keys(config) -> dict[str, str]:
    """Stage name -> key (16 hex digits) of a PipelineConfig, in pipeline order."""
    keys: dict[str, str] = {}
    for module in MODULES:
        inputs = {name: keys[name] for name in module.INPUTS}
        keys[module.NAME] = stage_key(config, module.READS, inputs)
    return keys


__all__ = [
    "BY_NAME",
    "KEY_FILE",
    "MODULES",
    "STAGES",
    "ConfigView",
    "StageInput",
    "StageOutcome",
    "StageRunner",
    "TrainedModel",
    "UndeclaredFieldError",
    "cpu_seconds",
    "process_rank",
    "stage_key",
    "stage_keys",
]
