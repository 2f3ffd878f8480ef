"""What the stages of the PGN pipeline share: the read-only view of the configuration that
holds a stage to the fields it declares, the stage key, and the inputs a stage receives.

A stage is a module of this package with

    NAME      its folder under the pipeline's output folder (and its name in stages.json)
    TITLE     what it does, for progress lines
    INPUTS    the stages whose folders or results it reads (their keys enter its key)
    READS     dotted PipelineConfig fields that determine its results (hashed into its key)
    SETTINGS  dotted fields it reads that only choose how or where it runs (not hashed)
    OUTPUTS   files in its folder that must exist for its recorded results to be reused
    PLOTS     files in its folder copied next to report.md
    run(config, folder, inputs) -> dict of JSON-able results

where `config` is a `ConfigView` of READS + SETTINGS (reading any other field raises) and
`inputs` maps each name in INPUTS to a `StageInput` (`TrainedModel` for "train").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pgnfast import _stages
from pgnfast._stages import UndeclaredFieldError, field_value, stage_key  # noqa: F401 (re-exported)
from pgnfast.dft.design import PGNDesign


class ConfigView(_stages.ConfigView):
    """`pgnfast._stages.ConfigView` of a PipelineConfig, with the design as a PGNDesign."""

    def pgn_design(self) -> PGNDesign:
        """The PGNDesign of the `design` field (which the stage must declare)."""
        return PGNDesign.from_dict(self.design)


@dataclass
class StageInput:
    """A stage another stage depends on: its folder and its recorded results (None when
    only its files are used)."""

    folder: Path
    results: dict | None = None


@dataclass
class TrainedModel(StageInput):
    """The train stage as an input: the trained NequIP (best_model.pt, PGN units), loaded
    once per device and shared by the stages of one pipeline run through `models`."""

    models: dict = field(default_factory=dict, repr=False)

    def model(self, device: str = "cpu"):
        """The trained model on `device`, in eval mode."""
        if device not in self.models:
            from pgnfast.nn.io import load_model

            self.models[device] = load_model(
                self.folder / "best_model.pt", units="pgn", map_location=device
            )
        return self.models[device]

    def potential(self, device: str = "cpu", core_exclusion_for: PGNDesign | None = None):
        """The model behind the potential protocol; with a design, wrapped in the DFT's
        hard-core rule (`CoreExclusion`) so Monte Carlo cannot walk into core overlaps."""
        from pgnfast.nn.potential import Potential

        potential = Potential(self.model(device))
        if core_exclusion_for is None:
            return potential
        from pgnfast.dft.core_exclusion import CoreExclusion

        return CoreExclusion(potential, core_exclusion_for)
