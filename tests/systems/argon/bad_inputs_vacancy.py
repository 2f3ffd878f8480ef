"""Bad inputs of the argon vacancy and hop runs (pgnfast.systems.argon.vacancy, .hops), run
by tests/test_bad_input_table.py."""

from __future__ import annotations

import json

from pgnfast.errors import InputError, ResumeMismatchError
from tests.bad_inputs import bad_input


@bad_input(
    "pgnfast.systems.argon.vacancy.find_vacancy",
    "a structure without a vacancy (the perfect crystal)",
    InputError,
    r"the structure has no vacancy: its 32 atoms fill every one of the 32 sites of 2\^3 fcc",
)
def vacancy_perfect_crystal(rng, tmp_path):
    from pgnfast.systems.argon import lattice_sites
    from pgnfast.systems.argon.vacancy import find_vacancy

    positions, cell = lattice_sites(2, 5.26)
    find_vacancy(positions + rng.normal(0.0, 0.05, positions.shape), cell, 2)


@bad_input(
    "pgnfast.systems.argon.vacancy.vacancy_supercell",
    "an unknown lattice",
    InputError,
    r"lattice must be one of \('fcc',\), got 'bcc'",
)
def vacancy_unknown_lattice(rng, tmp_path):
    from pgnfast.systems.argon.vacancy import vacancy_supercell

    vacancy_supercell(2, 5.26, "bcc")


@bad_input(
    "pgnfast.systems.argon.vacancy.vacancy_study",
    "an unknown lattice",
    InputError,
    r"lattice must be one of \('fcc',\), got 'hcp'",
)
def vacancy_study_unknown_lattice(rng, tmp_path):
    from pgnfast.systems.argon import argon_lj
    from pgnfast.systems.argon.vacancy import vacancy_study

    vacancy_study(argon_lj(), 2, 5.26, "hcp")


@bad_input(
    "pgnfast.systems.argon.hops.HopRunConfig",
    "chunk_steps not a multiple of frame_every",
    InputError,
    r"chunk_steps \(1001\) must be a multiple of frame_every \(50\)",
)
def hops_chunk_not_multiple(rng, tmp_path):
    from pgnfast.systems.argon.hops import HopRunConfig

    HopRunConfig(chunk_steps=1001, frame_every=50)


@bad_input(
    "pgnfast.systems.argon.hops.run_hops",
    "resuming a folder that holds a hop run with other settings",
    ResumeMismatchError,
    r"state\.json belongs to a hop run with other settings",
)
def hops_resume_other_settings(rng, tmp_path):
    from pgnfast.systems.argon.hops import HopRunConfig, run_hops

    config = HopRunConfig(n_cells=2)
    foreign = {**config.settings(80.0), "seed": int(rng.integers(1, 1000))}
    (tmp_path / "state.json").write_text(json.dumps({"settings": foreign}))
    run_hops(config, 80.0, tmp_path)


@bad_input(
    "pgnfast.systems.argon.hops.run_hops",
    "a model hop run with a model file that does not exist",
    InputError,
    r"model file '.*missing\.pt' does not exist",
)
def hops_missing_model_file(rng, tmp_path):
    from pgnfast.systems.argon.hops import HopRunConfig, run_hops

    run_hops(HopRunConfig(n_cells=2), 80.0, tmp_path, model=tmp_path / "missing.pt")


@bad_input(
    "pgnfast.systems.argon.hops.run_hops",
    "a model hop run with a Verlet skin of zero",
    InputError,
    r"skin \(Angstrom\) must be",
)
def hops_zero_skin(rng, tmp_path):
    from pgnfast.systems.argon.hops import HopRunConfig, run_hops

    path = tmp_path / "model.pt"
    path.write_bytes(rng.bytes(16))
    run_hops(HopRunConfig(n_cells=2), 80.0, tmp_path / "run", model=path, skin=0.0)
