"""Wigner-Seitz vacancy tracking on constructed hops (across the periodic boundary, with
transient double occupancy and flicker), crystallinity, and LAMMPS hop runs that resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pgnfast.errors import ResumeMismatchError
from pgnfast.systems.argon import lattice_sites
from pgnfast.systems.argon.hops import (
    HopRunConfig,
    crystalline_fraction,
    run_hops,
    vacancy_sequence,
)
from pgnfast.systems.argon.vacancy import reference_sites

A = 5.3


def _nearest_neighbour_across_the_boundary(sites, cell, vacant):
    """A site at nearest-neighbour distance from `vacant` only through the periodic boundary."""
    direct = np.linalg.norm(sites - sites[vacant], axis=1)
    frac = (sites - sites[vacant]) @ np.linalg.inv(cell)
    image = np.linalg.norm((frac - np.round(frac)) @ cell, axis=1)
    candidates = np.flatnonzero(np.isclose(image, A / np.sqrt(2)) & (direct > A))
    return int(candidates[0])


def _hop_frames(rng, steps=6, n_cells=3):
    """Frames of a vacancy making three hops: the atom on a neighbour site walks into the empty
    site (the first through the periodic boundary, positions wrapped), with thermal jitter."""
    sites, cell = lattice_sites(n_cells, A)
    vacant = 0  # site 0 sits at the origin, on the boundary
    occupant = {s: s for s in range(len(sites))}
    positions = sites.copy()
    frames, expected = [], []
    path = [_nearest_neighbour_across_the_boundary(sites, cell, vacant)]
    for _ in range(2):
        d = np.linalg.norm(sites - sites[path[-1]], axis=1)
        choices = [s for s in np.flatnonzero(np.isclose(d, A / np.sqrt(2))) if s not in path + [0]]
        path.append(int(rng.choice(choices)))
    current = vacant
    for neighbour in path:
        atom = occupant[neighbour]
        start = positions[atom].copy()
        step = sites[current] - start
        step -= np.round(step @ np.linalg.inv(cell)) @ cell
        for k in range(1, steps + 1):
            positions[atom] = start + step * k / steps
            frames.append(positions.copy())
            expected.append(current if k > steps // 2 else neighbour)
        occupant[current], current = atom, neighbour
    frames = np.array(frames)
    frames = np.delete(frames, 0, axis=1)  # atom 0 is the missing one
    frames += rng.normal(0.0, 0.1, frames.shape)
    frames -= np.floor(frames @ np.linalg.inv(cell)) @ cell  # wrapped, as MD writes them
    return frames, cell, vacant, path


def test_tracking_counts_constructed_hops_across_the_boundary(rng):
    frames, cell, vacant, path = _hop_frames(rng)
    before = np.repeat(frames[:1], 3, axis=0)
    sequence, hops = vacancy_sequence(np.concatenate([before, frames]), cell, 3, min_frames=2)
    assert hops == 3
    assert sequence[0] == vacant
    assert sequence[-1] == path[-1]
    visited = [int(s) for k, s in enumerate(sequence) if k == 0 or s != sequence[k - 1]]
    assert visited == [vacant, *path]


def test_transient_double_occupancy_and_flicker_hold_the_site(rng):
    sites, cell = lattice_sites(3, A)
    base = np.delete(sites, 5, axis=0) + rng.normal(0.0, 0.05, (107, 3))
    neighbour = int(np.argsort(np.linalg.norm(sites - sites[5], axis=1))[1])
    atom = neighbour - 1  # the index after deleting site 5
    displaced = base.copy()
    # an atom midway to a far site leaves its own site empty and crowds another: 2 empty sites
    far = int(np.argsort(np.linalg.norm(sites - sites[5], axis=1))[-1])
    displaced[atom] = sites[far] + 0.2
    flicker = base.copy()
    flicker[atom] = sites[5]  # one frame in the vacancy, then back
    frames = np.stack([base, base, displaced, base, flicker, base, base])
    sequence, hops = vacancy_sequence(frames, cell, 3, min_frames=2)
    assert hops == 0
    assert (sequence == 5).all()
    _, hops = vacancy_sequence(frames, cell, 3, min_frames=1)
    assert hops == 2  # without the persistence rule the flicker counts twice


def test_crystalline_fraction_separates_crystal_and_liquid(rng):
    sites, cell = lattice_sites(3, A)
    crystal = np.delete(sites, 0, axis=0) + rng.normal(0.0, 0.15, (107, 3))
    liquid = rng.uniform(0.0, 3 * A, (107, 3))
    assert crystalline_fraction(crystal, cell, 3) > 0.95
    assert crystalline_fraction(liquid, cell, 3) < 0.5
    assert np.allclose(reference_sites(cell * 1.01, 3), sites * 1.01)


def _tiny_config(**overrides):
    fields = dict(
        n_cells=2,
        temperatures=(60.0,),
        chunk_steps=100,
        frame_every=50,
        equilibration_steps=50,
        chunks=1,
        timestep=5.0,
    )
    fields.update(overrides)
    return HopRunConfig(**fields)


def test_lammps_hop_run_resumes_as_one_run(lammps_module, tmp_path):
    whole = run_hops(_tiny_config(chunks=2), 60.0, tmp_path / "whole")
    run_hops(_tiny_config(chunks=1), 60.0, tmp_path / "parts")
    resumed = run_hops(_tiny_config(chunks=2), 60.0, tmp_path / "parts")
    assert resumed["chunks_done"] == whole["chunks_done"] == 2
    assert resumed["time_ps"] == pytest.approx(1.0)
    assert resumed["tracker"] == whole["tracker"]
    assert resumed["lowest_crystalline"] == whole["lowest_crystalline"]
    # the same trajectory: the last frame's mean distance from the sites agrees to rounding
    assert resumed["last_mean_distance"] == pytest.approx(whole["last_mean_distance"], rel=1e-9)
    assert resumed["last_mean_distance"] > 0.01
    assert not resumed["melted"]
    assert sorted(p.name for p in (tmp_path / "parts").glob("restart_*")) == ["restart_00002.lmp"]
    with pytest.raises(ResumeMismatchError, match="other settings"):
        run_hops(_tiny_config(chunks=2, seed=1), 60.0, tmp_path / "parts")
    state = json.loads((tmp_path / "parts" / "state.json").read_text())
    assert state["settings"]["temperature"] == 60.0


def test_hop_study_writes_a_summary_per_temperature(lammps_module, tmp_path):
    from pgnfast.systems.argon.hops import hop_study

    summary = hop_study(_tiny_config(temperatures=(40.0, 50.0)), tmp_path)
    assert set(summary["runs"]) == {"40", "50"}
    assert (tmp_path / "T_40" / "state.json").exists()
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["runs"]["50"]["time_ps"] == pytest.approx(0.5)
    hopped = [t for t, run in summary["runs"].items() if run["hops"] > 0]
    assert (summary["arrhenius"] is None) == (len(hopped) < 2)


def test_short_hop_config_runs_only_the_highest_temperature():
    from pgnfast.systems.argon.hops import short_hop_config

    config = short_hop_config(n_cells=3)
    assert config.temperatures == (max(HopRunConfig().temperatures),)
    assert config.n_cells == 3
    assert config.chunks * config.chunk_steps * config.timestep * 1e-3 == pytest.approx(100.0)


@pytest.fixture
def exact_as_model(monkeypatch, tmp_path):
    """A stand-in model file whose force field is the exact Lennard-Jones: model hop runs
    (fix external) can then be compared with LAMMPS's own lj/cut."""
    import pgnfast.md.calculator as calculator
    from pgnfast.systems.argon import argon_lj

    original = calculator.as_force_field
    path = tmp_path / "exact-lj.model"
    path.write_bytes(b"the exact Lennard-Jones")
    monkeypatch.setattr(
        calculator, "as_force_field", lambda source, **options: original(argon_lj())
    )
    return path


def test_model_hop_run_with_the_exact_forces_follows_lj_cut(
    lammps_module, tmp_path, exact_as_model
):
    native = run_hops(_tiny_config(chunks=2), 60.0, tmp_path / "native")
    external = run_hops(_tiny_config(chunks=2), 60.0, tmp_path / "external", model=exact_as_model)
    assert external["tracker"] == native["tracker"]
    assert external["last_mean_distance"] == pytest.approx(native["last_mean_distance"], rel=1e-6)
    assert external["lowest_crystalline"] == pytest.approx(native["lowest_crystalline"])
    assert external["steps_per_second"] > 0 and external["md_seconds"] > 0
    state = json.loads((tmp_path / "external" / "state.json").read_text())
    assert state["settings"]["model"]["skin"] == 1.0
    assert len(state["settings"]["model"]["model_sha256"]) == 64


def test_model_hop_run_resumes_as_one_run_and_refuses_another_model(
    lammps_module, tmp_path, exact_as_model
):
    whole = run_hops(_tiny_config(chunks=2), 60.0, tmp_path / "whole", model=exact_as_model)
    run_hops(_tiny_config(chunks=1), 60.0, tmp_path / "parts", model=exact_as_model)
    resumed = run_hops(_tiny_config(chunks=2), 60.0, tmp_path / "parts", model=exact_as_model)
    assert resumed["chunks_done"] == 2 and resumed["tracker"] == whole["tracker"]
    assert resumed["last_mean_distance"] == pytest.approx(whole["last_mean_distance"], rel=1e-9)
    other = tmp_path / "other.model"
    other.write_bytes(b"another model")
    with pytest.raises(ResumeMismatchError, match="other settings"):
        run_hops(_tiny_config(chunks=3), 60.0, tmp_path / "parts", model=other)
    with pytest.raises(ResumeMismatchError, match="other settings"):
        run_hops(_tiny_config(chunks=3), 60.0, tmp_path / "parts", model=exact_as_model, skin=0.5)
    with pytest.raises(ResumeMismatchError, match="other settings"):  # the exact run's folder
        run_hops(_tiny_config(chunks=3), 60.0, tmp_path / "parts")


def test_model_hop_run_with_a_trained_model_file(lammps_module, tmp_path, test_seed):
    """A real (untrained) NequIP file through fix external: hops counted, finite speed; a
    missing file is named."""
    import torch

    from pgnfast.errors import InputError
    from pgnfast.nn.io import save_model
    from pgnfast.nn.model import NequIP
    from pgnfast.units import ATOMISTIC

    torch.manual_seed(test_seed)
    model = NequIP(r_max=4.5, num_layers=1, l_max=1, num_features=4, num_types=1).double()
    model.units = dict(ATOMISTIC)
    path = tmp_path / "nequip.pt"
    save_model(model, path)
    result = run_hops(_tiny_config(chunks=1), 60.0, tmp_path / "run", model=path)
    assert result["chunks_done"] == 1 and result["time_ps"] == pytest.approx(0.5)
    assert result["steps_per_second"] > 0
    with pytest.raises(InputError, match="does not exist"):
        run_hops(_tiny_config(), 60.0, tmp_path / "run2", model=tmp_path / "missing.pt")
