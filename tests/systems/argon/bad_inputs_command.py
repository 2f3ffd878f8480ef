"""Bad inputs of `pgnfast argon` (pgnfast.systems.argon.config, .run), run by
tests/test_bad_input_table.py."""

from __future__ import annotations

from pgnfast.errors import InputError
from tests.bad_inputs import bad_input


def _from_yaml(tmp_path, text):
    from pgnfast.systems.argon.config import ArgonRunConfig

    path = tmp_path / "argon.yaml"
    path.write_text(text)
    return ArgonRunConfig.from_yaml(path)


@bad_input(
    "pgnfast.systems.argon.config.ArgonRunConfig.from_yaml",
    "a config key that does not exist (vacancy.n_cell)",
    InputError,
    r"argon\.yaml: unknown argon config 'vacancy' keys \['n_cell'\]; expected \['fmax', ",
)
def argon_config_unknown_key(rng, tmp_path):
    _from_yaml(tmp_path, "vacancy:\n  n_cell: 3\n")


@bad_input(
    "pgnfast.systems.argon.config.ArgonRunConfig.from_yaml",
    "an unknown section (phonon instead of phonons)",
    InputError,
    r"argon\.yaml: unknown argon config keys \['phonon'\]",
)
def argon_config_unknown_section(rng, tmp_path):
    _from_yaml(tmp_path, "phonon:\n  n_cells: 2\n")


@bad_input(
    "pgnfast.systems.argon.config.ArgonRunConfig.from_yaml",
    "an unknown lattice (data.lattice: bcc)",
    InputError,
    r"argon\.yaml: lattice must be one of \('fcc',\), got 'bcc'",
)
def argon_config_unknown_lattice(rng, tmp_path):
    _from_yaml(tmp_path, "data:\n  lattice: bcc\n")


@bad_input(
    "pgnfast.systems.argon.config.ArgonRunConfig.from_yaml",
    "the hop runs' lattice constant (set from the exact potential's 0 K relaxation)",
    InputError,
    r"unknown argon config 'hops' keys \['lattice_constant'\]",
)
def argon_config_hops_lattice_constant(rng, tmp_path):
    _from_yaml(tmp_path, "hops:\n  lattice_constant: 5.3\n")


@bad_input(
    "pgnfast.systems.argon.config.ArgonRunConfig.from_yaml",
    "an odd spectra supercell (L needs an even one)",
    InputError,
    r"n_cells must be even \(L is commensurate then\), got 3",
)
def argon_config_odd_spectra_cells(rng, tmp_path):
    _from_yaml(tmp_path, "spectra:\n  n_cells: 3\n")


@bad_input(
    "pgnfast.systems.argon.run.run_argon",
    "a plain dict instead of an ArgonRunConfig",
    InputError,
    r"config must be an ArgonRunConfig, got dict",
)
def argon_run_not_a_config(rng, tmp_path):
    from pgnfast.systems.argon.run import run_argon

    run_argon({"data": {}}, tmp_path / "out")


@bad_input(
    "pgnfast.systems.argon.config.ArgonRunConfig.from_yaml",
    "a model hop run for the exact potential (its hop runs are the hops section's)",
    InputError,
    r"model_hops\.models must list distinct names of \('NequIP', 'direct force'\)",
)
def argon_config_model_hops_exact(rng, tmp_path):
    _from_yaml(tmp_path, "model_hops:\n  models: [exact]\n")


@bad_input(
    "pgnfast.systems.argon.config.ArgonRunConfig.from_yaml",
    "model hop chunks that are not a multiple of the tracking interval",
    InputError,
    r"model_hops\.chunk_steps \(1010\) must be a multiple of hops\.frame_every \(50\)",
)
def argon_config_model_hops_chunks(rng, tmp_path):
    _from_yaml(tmp_path, "model_hops:\n  chunk_steps: 1010\n")
