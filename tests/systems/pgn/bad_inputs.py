"""Bad inputs of the PGN study configuration (`PipelineConfig`, `StudyConfig`) and pipeline."""

from __future__ import annotations

from pgnfast.errors import FileFormatError, InputError
from pgnfast.systems.pgn import Pipeline, PipelineConfig, StudyConfig, demo_design, tiny_config
from tests.bad_inputs import bad_input


def _design(rng, name: str) -> dict:
    return {"name": name, **demo_design(), "grafting_density": float(rng.uniform(0.5, 1.5))}


@bad_input(
    "pgnfast.systems.pgn.PipelineConfig.from_dict",
    "an unknown top-level key",
    InputError,
    r"unknown pipeline keys \['sizes'\]",
)
def pipeline_unknown_key(rng, tmp_path):
    PipelineConfig.from_dict({"seed": int(rng.integers(100)), "sizes": {}})


@bad_input(
    "pgnfast.systems.pgn.PipelineConfig.from_dict",
    "an unknown key in a section (mc)",
    InputError,
    r"unknown pipeline\.mc keys \['swepes'\]",
)
def pipeline_unknown_section_key(rng, tmp_path):
    PipelineConfig.from_dict({"mc": {"swepes": int(rng.integers(1, 100))}})


@bad_input(
    "pgnfast.systems.pgn.PipelineConfig.from_dict",
    "a train key the pipeline sets itself (seed)",
    InputError,
    r"pipeline\.train keys \['seed'\] are set by the pipeline",
)
def pipeline_train_key_set_by_pipeline(rng, tmp_path):
    PipelineConfig.from_dict({"train": {"seed": int(rng.integers(100))}})


@bad_input(
    "pgnfast.systems.pgn.PipelineConfig.from_yaml",
    "a file with an unknown section key",
    InputError,
    r"pipeline\.yaml: unknown pipeline\.analysis keys \['rdf_bin'\]",
)
def pipeline_file_unknown_section_key(rng, tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text(f"analysis: {{rdf_bin: {int(rng.integers(10, 100))}}}\n")
    PipelineConfig.from_yaml(path)


@bad_input(
    "pgnfast.systems.pgn.StudyConfig.from_dict",
    "no designs",
    InputError,
    r"a study needs at least one entry under designs",
)
def study_without_designs(rng, tmp_path):
    StudyConfig.from_dict({"output": str(tmp_path), "designs": []})


@bad_input(
    "pgnfast.systems.pgn.StudyConfig.from_dict",
    "two designs with the same name",
    InputError,
    r"distinct name: designs\[1\] has name 'same'",
)
def study_duplicate_design_names(rng, tmp_path):
    StudyConfig.from_dict({"designs": [_design(rng, "same"), _design(rng, "same")]})


@bad_input(
    "pgnfast.systems.pgn.StudyConfig.from_yaml",
    "a file that is not a mapping (a list)",
    FileFormatError,
    r"study\.yaml must hold a mapping, got list",
)
def study_file_not_a_mapping(rng, tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("".join(f"- design{k}\n" for k in range(int(rng.integers(1, 4)))))
    StudyConfig.from_yaml(path)


@bad_input(
    "pgnfast.systems.pgn.Pipeline.run",
    "an unknown stage name",
    InputError,
    r"unknown stages \['relabel'\]",
)
def pipeline_unknown_stage(rng, tmp_path):
    Pipeline(tiny_config(seed=int(rng.integers(100))), tmp_path).run(stages=["labels", "relabel"])


@bad_input(
    "pgnfast.systems.pgn.Pipeline.run",
    "a stage whose input stage is not done (--stages analysis first)",
    InputError,
    r"stage 'analysis' needs stage 'mc', which is not done",
)
def pipeline_stage_before_its_input(rng, tmp_path):
    Pipeline(tiny_config(seed=int(rng.integers(100))), tmp_path).run(stages=["analysis"])
