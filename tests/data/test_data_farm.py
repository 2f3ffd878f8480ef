"""Configuration generators, extxyz datasets and the labeling farm (nm, kT)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from pgnfast.data import label, read_dataset, write_extxyz
from pgnfast.dft import PGNDesign, default_design
from pgnfast.systems.pgn import KINDS, random_configurations
from pgnfast.units import PGN

DESIGN = default_design()


@pytest.mark.parametrize("kind", KINDS)
def test_configurations_fill_the_melt_box_without_overlap(kind, test_seed):
    seed = test_seed % 2**32
    (atoms,) = random_configurations(DESIGN, 64, 1, seed=seed, kind=kind)
    assert abs(atoms.get_volume() - DESIGN.box_volume([64])) < 1e-6 * atoms.get_volume()
    d = atoms.get_all_distances(mic=True) + np.eye(64) * 1e9
    assert d.min() >= 2 * DESIGN.radii[0], seed
    assert atoms.info["kind"] == kind


def test_bidisperse_configurations_follow_the_design():
    design = PGNDesign(
        core_radius=(6.0, 8.0),
        grafting_density=1.0,
        chain_length=20,
        kuhn_length=1.0,
        segment_volume=0.5,
    )
    (atoms,) = random_configurations(design, 40, 1, seed=2, kind="random", fractions=(3, 1))
    types = atoms.arrays["type"]
    assert np.bincount(types).tolist() == [30, 10]
    assert abs(atoms.get_volume() - design.box_volume([30, 10])) < 1e-6 * atoms.get_volume()
    with pytest.raises(ValueError, match="kind"):
        random_configurations(design, 8, 1, seed=0, kind="hcp")


def test_extxyz_roundtrip(tmp_path):
    (atoms,) = random_configurations(DESIGN, 8, 1, seed=1, kind="random")
    write_extxyz(tmp_path / "a.extxyz", [atoms])
    (back,) = read_dataset(tmp_path / "a.extxyz")
    assert np.allclose(back.positions, atoms.positions)
    assert [p.name for p in tmp_path.iterdir()] == ["a.extxyz"]  # no temp file left


def _labels(path):
    return {
        f.info["hash"]: (f.get_potential_energy(), f.get_forces(), f.calc.results["energies"])
        for f in read_dataset(path)
    }


def test_label_writes_a_dataset_and_skips_finished_work(tmp_path):
    configs = random_configurations(DESIGN, 64, 2, seed=5, kind="random")
    bad = configs[0].copy()
    bad.positions[1] = bad.positions[0] + [1.0, 0, 0]  # cores overlap beyond contact
    with pytest.warns(RuntimeWarning, match="not labeled"):
        out = label(configs + [bad], DESIGN, tmp_path / "ds", workers=1, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["shards"]) == 2 and len(manifest["failures"]) == 1
    assert manifest["units"] == PGN  # the labeler records its units (nm, kT)
    assert "overlap" in manifest["failures"][0]["reason"]
    frames = read_dataset(out)
    assert len(frames) == 2 and all(f.info["converged"] for f in frames)
    for f in frames:
        assert abs(f.calc.results["energies"].sum() - f.get_potential_energy()) < 1e-6 * abs(
            f.get_potential_energy()
        )
    stamps = {p: p.stat().st_mtime_ns for p in (out / "shards").iterdir()}
    label(configs, DESIGN, out, workers=1, progress=False)  # nothing left to do
    assert {p: p.stat().st_mtime_ns for p in (out / "shards").iterdir()} == stamps


def test_farm_resumes_after_a_worker_is_killed(tmp_path):
    configs = random_configurations(DESIGN, 64, 6, seed=11, kind="mixed")
    out = tmp_path / "ds"
    pool = ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"))
    failure = {}

    def run():
        try:
            label(configs, DESIGN, out, executor=pool, progress=False)
        except Exception as err:  # the broken pool surfaces here
            failure["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.time() + 240
    while (
        time.time() < deadline
        and thread.is_alive()
        and len(list((out / "shards").glob("*.extxyz"))) < 1
    ):
        time.sleep(0.05)
    assert thread.is_alive(), failure
    victim = next(iter(pool._processes))
    os.kill(victim, signal.SIGKILL)
    thread.join(300)
    pool.shutdown(wait=False, cancel_futures=True)
    assert "error" in failure, "killing a worker must surface as an error"
    done = {p.name: p.stat().st_mtime_ns for p in (out / "shards").glob("*.extxyz")}
    assert 1 <= len(done) < len(configs)
    label(configs, DESIGN, out, workers=2, progress=False)
    after = {p.name: p.stat().st_mtime_ns for p in (out / "shards").glob("*.extxyz")}
    assert len(after) == len(configs)
    assert all(after[name] == stamp for name, stamp in done.items())  # nothing relabeled
    assert len(read_dataset(out)) == len(configs)


def test_dask_cluster_gives_identical_labels(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    configs = random_configurations(DESIGN, 64, 2, seed=21, kind="random")
    local = label(configs, DESIGN, tmp_path / "local", workers=1, progress=False)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = label(
            configs, DESIGN, tmp_path / "dask", executor=client.get_executor(), progress=False
        )
    a, b = _labels(local), _labels(remote)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key][0] == b[key][0]
        assert np.array_equal(a[key][1], b[key][1])


def test_cli_label(tmp_path):
    design = tmp_path / "design.yaml"
    design.write_text((Path(__file__).parents[2] / "examples" / "design.yaml").read_text())
    cmd = [
        sys.executable,
        "-m",
        "pgnfast.cli",
        "label",
        "--design",
        str(design),
        "--n-particles",
        "64",
        "--n-configs",
        "1",
        "--out",
        str(tmp_path / "ds"),
        "--workers",
        "1",
        "--kind",
        "fcc",
    ]
    subprocess.run(cmd, check=True, timeout=300, cwd=Path(__file__).parents[2])
    assert len(read_dataset(tmp_path / "ds")) == 1


def test_mc_snapshots_move_the_cores_without_overlaps(monkeypatch, test_seed):
    from pgnfast.geometry import minimum_image
    from pgnfast.mc import ParallelTempering
    from pgnfast.neighbors import neighbor_list
    from pgnfast.potentials import CoreRepulsion

    design = PGNDesign(
        core_radius=5.0, grafting_density=0.5, chain_length=40, kuhn_length=1.0, segment_volume=0.2
    )
    potential = CoreRepulsion(epsilon=2.0, diameter=10.0, cutoff=14.0)
    options = dict(kind="mc", potential=potential, temperature=5.0, sweeps=5)
    seed = test_seed % 2**32
    snapshots = random_configurations(design, 16, 2, seed=seed, **options)
    again = random_configurations(design, 16, 2, seed=seed, **options)
    # the starts of the same stream: the same call with a Monte Carlo run that never moves
    with monkeypatch.context() as patch:
        patch.setattr(ParallelTempering, "run", lambda self, *args, **kwargs: None)
        starts = random_configurations(design, 16, 2, seed=seed, **options)
    for snap, same, start in zip(snapshots, again, starts):
        assert snap.info["kind"] == "mc" and snap.info["mc_sweeps"] == 5
        np.testing.assert_array_equal(snap.positions, same.positions)  # seeded
        np.testing.assert_array_equal(snap.cell[:], start.cell[:])
        np.testing.assert_array_equal(snap.arrays["type"], start.arrays["type"])
        assert np.linalg.det(snap.cell) == pytest.approx(design.box_volume([16]), rel=1e-9)
        pairs = neighbor_list(snap.positions, np.asarray(snap.cell), 10.0)
        assert len(pairs) == 0, "cores overlap after the Monte Carlo snapshot"
        moved = np.linalg.norm(
            minimum_image(snap.positions - start.positions, np.asarray(snap.cell)), axis=1
        )
        assert (moved > 1e-6).sum() >= len(moved) // 2, f"too few cores moved: {moved}, {seed}"
    with pytest.raises(ValueError, match="needs a potential"):
        random_configurations(design, 16, 1, seed=0, kind="mc")
