"""The range measurements of pgnfast.systems.pgn.diagnostics on fresh random systems."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.neighborlist import neighbor_list

from pgnfast.systems.pgn.diagnostics import force_range, pair_force_residual
from tests.dft.dft_helpers import SMALL, place


def test_force_range_is_zero_when_nothing_moves_and_grows_as_r_shrinks(rng):
    cell = np.diag([30.0, 31.0, 29.0])
    pos = place(rng, 6, cell, 5.0)
    options = dict(spacing=1.0, check_reach=False)
    far = force_range(
        pos,
        cell,
        SMALL,
        [0.0, 1e3],
        amplitude=0.3,
        particles=3,
        seed=int(rng.integers(1 << 30)),
        **options,
    )
    assert far[1e3] < 1e-9  # nothing lies farther than 1 um: only the re-solve's roundoff
    assert far[0.0] > 1e-3  # every other core moved: the forces change


def _pair_labeled_frames(rng, count, knots, inner, cutoff):
    """Random frames whose forces come from a pair force that is a linear spline on the
    same knots as the fit (so the fit can be exact)."""
    grid = np.linspace(inner, cutoff, knots)
    values = rng.normal(size=knots)
    values[-1] = 0.0
    frames = []
    for _ in range(count):
        cell = np.diag(rng.uniform(9.0, 11.0, 3))
        atoms = Atoms("H12", positions=rng.random((12, 3)) @ cell, cell=cell, pbc=True)
        i, d, vec = neighbor_list("idD", atoms, cutoff)
        magnitude = np.interp(d, grid, values, left=values[0], right=0.0)
        forces = np.zeros((12, 3))
        np.add.at(forces, i, magnitude[:, None] * -vec / d[:, None])
        atoms.calc = SinglePointCalculator(atoms, forces=forces)
        frames.append(atoms)
    return frames


def test_pair_force_residual_vanishes_for_a_pair_force_and_not_below_its_range(rng):
    frames = _pair_labeled_frames(rng, 20, knots=12, inner=0.0, cutoff=4.0)
    out = pair_force_residual(frames, [2.5, 4.0], inner=0.0, knots=12)
    # exact on the fitted frames (on held-out ones, knots that only rare close pairs touch
    # are poorly determined)
    assert out[4.0]["fit"] < 1e-10 and np.isfinite(out[4.0]["held-out"])
    assert out[2.5]["fit"] > 0.05  # the force beyond 2.5 cannot be fitted


def test_range_report_on_a_small_labeled_dataset(rng, tmp_path):
    import json

    from pgnfast.data.io import labeled_frame, write_extxyz
    from pgnfast.dft import solve
    from pgnfast.systems.pgn.diagnostics import range_report

    cell = np.diag([30.0, 30.0, 30.0])
    frames = []
    for index in range(6):
        atoms = Atoms("H5", positions=place(rng, 5, cell, 5.0), cell=cell, pbc=True)
        result = solve(atoms.positions, cell, SMALL, spacing=1.0, check_reach=False)
        frames.append(labeled_frame(atoms, result, SMALL, content_hash=str(index)))
    write_extxyz(tmp_path / "small.extxyz", frames)
    report = range_report(
        str(tmp_path / "small.extxyz"),
        tmp_path / "out",
        cutoffs=(12.0, 20.0),
        radii=(0.0, 1e3),
        amplitudes=(0.3,),
        configurations=1,
        seed=int(rng.integers(1 << 30)),
        spacing=1.0,
        check_reach=False,
    )
    assert json.loads((tmp_path / "out" / "range.json").read_text()) == report
    assert (tmp_path / "out" / "range.png").stat().st_size > 0
    floors = report["force_range"]["0.3"]
    assert floors["1000.0"] < 1e-9 < 1e-3 < floors["0.0"]
    for residual in report["pair_force_residual"].values():
        # least squares is never worse than the zero force on the frames it was fitted to;
        # the one held-out frame of six may be fitted arbitrarily badly
        assert 0 < residual["fit"] <= 1 + 1e-12 and np.isfinite(residual["held-out"])
