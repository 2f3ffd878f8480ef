"""Bad inputs of the Monte Carlo engine (`pgnfast.mc.ParallelTempering`, its MPI backend,
its checkpoints and `pgnfast mc`): rows of docs/bad-input.md."""

from __future__ import annotations

import numpy as np

from pgnfast.errors import FileFormatError, InputError, ResumeMismatchError
from pgnfast.mc import MonteCarloInputError, ParallelTempering, load_checkpoint, save_checkpoint
from pgnfast.potentials import Harmonic, LennardJones
from tests.bad_inputs import bad_input

ENGINE = "pgnfast.mc.ParallelTempering"
MPI_ENGINE = "pgnfast.mc.mpi.MPIParallelTempering"
RESUME = "pgnfast.mc.ParallelTempering.from_checkpoint"
N, BOX = 16, 4.0


def _start(rng):
    """(positions (N, 3) nm, cell (3, 3) nm) of N random particles in a cubic box."""
    return rng.random((N, 3)) * BOX, np.eye(3) * BOX


def _engine(rng, potential=None, temperatures=(1.0, 2.0), **options):
    positions, cell = _start(rng)
    potential = Harmonic(1.0) if potential is None else potential
    return ParallelTempering(potential, positions, cell, list(temperatures), **options)


class _OneRankComm:
    """The two calls MPIParallelTempering makes before its input checks, for one rank."""

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 1

    def bcast(self, value, root=0):
        return value


# -- item by item: the engine's input --------------------------------------------------------


@bad_input(
    ENGINE,
    "target_acceptance = 1.5",
    MonteCarloInputError,
    r"target_acceptance must lie strictly between 0 and 1, got 1\.5",
)
def engine_target_acceptance_above_one(rng, tmp_path):
    _engine(rng, target_acceptance=1.5)


@bad_input(
    ENGINE,
    "target_acceptance = NaN",
    MonteCarloInputError,
    r"target_acceptance must lie strictly between 0 and 1, got nan",
)
def engine_target_acceptance_nan(rng, tmp_path):
    _engine(rng, target_acceptance=float("nan"))


@bad_input(
    ENGINE, "seed = -1", MonteCarloInputError, r"seed must be a non-negative integer, got -1"
)
def engine_negative_seed(rng, tmp_path):
    _engine(rng, seed=-1)


@bad_input(
    ENGINE, "seed = 2.5", MonteCarloInputError, r"seed must be a non-negative integer, got 2\.5"
)
def engine_fractional_seed(rng, tmp_path):
    _engine(rng, seed=2.5)


@bad_input(
    ENGINE,
    "a type >= the model's number of types",
    MonteCarloInputError,
    r"types: particle \d+ has type 2, out of range \(there are 2 types: 0\.\.1\)",
)
def engine_type_out_of_range_for_the_model(rng, tmp_path):
    from pgnfast.nn.potential import Potential
    from pgnfast.testing import small_model

    types = rng.integers(0, 2, N)
    types[rng.integers(N)] = 2
    _engine(rng, Potential(small_model(num_types=2)), types=types)


@bad_input(
    ENGINE,
    "fractional types",
    MonteCarloInputError,
    r"types must be whole numbers: particle \d+ has type 0\.5",
)
def engine_fractional_types(rng, tmp_path):
    types = rng.integers(0, 2, N).astype(np.float64)
    types[rng.integers(N)] = 0.5
    _engine(rng, types=types)


class _DropsOneEnergy(Harmonic):
    """A broken potential: one energy short of one per particle."""

    def energies(self, positions, cell=None, types=None, pbc=True):
        return super().energies(positions, cell, types, pbc)[:-1]


@bad_input(
    ENGINE,
    "a potential returning N - 1 energies",
    MonteCarloInputError,
    rf"the potential returned {N - 1} energies for {N} particles",
)
def engine_potential_returns_too_few_energies(rng, tmp_path):
    _engine(rng, _DropsOneEnergy())


@bad_input(
    ENGINE,
    "a flat cell (two parallel box vectors)",
    MonteCarloInputError,
    r"cell is singular along its periodic directions",
)
def engine_flat_cell(rng, tmp_path):
    positions, _ = _start(rng)
    side = rng.uniform(3.0, 5.0)
    cell = np.array([[side, 0.0, 0.0], [2 * side, 0.0, 0.0], [0.0, 0.0, side]])
    ParallelTempering(Harmonic(1.0), positions, cell, [1.0])


@bad_input(
    ENGINE, "NaN in positions", MonteCarloInputError, r"positions contain NaN .*particle \d+"
)
def engine_nan_position(rng, tmp_path):
    positions, cell = _start(rng)
    positions[rng.integers(N), rng.integers(3)] = np.nan
    ParallelTempering(Harmonic(1.0), positions, cell, [1.0])


@bad_input(ENGINE, "positions of shape (N, 2)", MonteCarloInputError, r"positions must be \(N, 3\)")
def engine_positions_wrong_shape(rng, tmp_path):
    positions, cell = _start(rng)
    ParallelTempering(Harmonic(1.0), positions[:, :2], cell, [1.0])


@bad_input(
    ENGINE,
    "a temperature <= 0",
    MonteCarloInputError,
    r"temperatures must be finite and positive: temperatures\[0\] = -",
)
def engine_negative_temperature(rng, tmp_path):
    _engine(rng, temperatures=(-rng.uniform(0.1, 1.0), 1.0))


@bad_input(
    ENGINE,
    "a NaN temperature",
    MonteCarloInputError,
    r"temperatures must be finite and positive: temperatures\[1\] = nan",
)
def engine_nan_temperature(rng, tmp_path):
    _engine(rng, temperatures=(1.0, float("nan"), 3.0))


@bad_input(
    MPI_ENGINE,
    "a NaN temperature (the serial engine's checks)",
    MonteCarloInputError,
    r"temperatures must be finite and positive: temperatures\[1\] = nan",
)
def mpi_engine_nan_temperature(rng, tmp_path):
    from pgnfast.mc.mpi import MPIParallelTempering

    positions, cell = _start(rng)
    MPIParallelTempering(Harmonic(1.0), positions, cell, [1.0, float("nan")], comm=_OneRankComm())


@bad_input(
    MPI_ENGINE,
    "target_acceptance = 0",
    MonteCarloInputError,
    r"target_acceptance must lie strictly between 0 and 1, got 0",
)
def mpi_engine_target_acceptance_zero(rng, tmp_path):
    from pgnfast.mc.mpi import MPIParallelTempering

    positions, cell = _start(rng)
    MPIParallelTempering(
        Harmonic(1.0), positions, cell, [1.0], target_acceptance=0, comm=_OneRankComm()
    )


@bad_input(
    "pgnfast.mc.ParallelTempering.run",
    "n_sweeps = -1",
    MonteCarloInputError,
    r"n_sweeps must be >= 0",
)
def run_negative_sweeps(rng, tmp_path):
    _engine(rng).run(-1)


# -- resuming: the same run only -------------------------------------------------------------


def _checkpoint(rng, tmp_path, potential=None):
    """A checkpoint of two sweeps of N LJ particles (cutoff 1.2 nm) at T = 1, 2."""
    engine = _engine(rng, potential or LennardJones(sigma=0.5, cutoff=1.2), equilibration_sweeps=1)
    path = tmp_path / "state.npz"
    engine.run(2, checkpoint=path, quench_lowest=False)
    return path


@bad_input(
    RESUME,
    "another potential (other parameters)",
    ResumeMismatchError,
    r"written with another potential: epsilon: 1\.0 recorded, 2\.0 now",
)
def resume_under_another_potential(rng, tmp_path):
    path = _checkpoint(rng, tmp_path)
    ParallelTempering.from_checkpoint(path, LennardJones(epsilon=2.0, sigma=0.5, cutoff=1.2))


@bad_input(
    MPI_ENGINE + ".from_checkpoint",
    "another potential (another class)",
    ResumeMismatchError,
    r"class pgnfast\.potentials\.pair\.LennardJones recorded, .*Harmonic now",
)
def mpi_resume_under_another_potential(rng, tmp_path):
    from pgnfast.mc.mpi import MPIParallelTempering

    path = _checkpoint(rng, tmp_path)
    MPIParallelTempering.from_checkpoint(path, Harmonic(1.0), comm=_OneRankComm())


@bad_input(
    RESUME,
    "a checkpoint from before potential fingerprints",
    ResumeMismatchError,
    r"predates potential fingerprints",
)
def resume_checkpoint_without_fingerprint(rng, tmp_path):
    path = _checkpoint(rng, tmp_path)
    arrays, meta = load_checkpoint(path)
    del meta["potential_fingerprint"]
    save_checkpoint(path, arrays, meta)
    ParallelTempering.from_checkpoint(path, LennardJones(sigma=0.5, cutoff=1.2))


@bad_input(
    RESUME,
    "num_particles other than the checkpoint's",
    ResumeMismatchError,
    rf"holds {N} particles, but {N + 1} were asked for",
)
def resume_other_number_of_particles(rng, tmp_path):
    path = _checkpoint(rng, tmp_path)
    potential = LennardJones(sigma=0.5, cutoff=1.2)
    ParallelTempering.from_checkpoint(path, potential, num_particles=N + 1)


@bad_input(
    RESUME,
    "temperatures other than the checkpoint's",
    ResumeMismatchError,
    r"was run at temperatures \[1\.0, 2\.0\], but \[1\.0, 2\.0, 4\.0\] were asked for",
)
def resume_other_temperatures(rng, tmp_path):
    path = _checkpoint(rng, tmp_path)
    potential = LennardJones(sigma=0.5, cutoff=1.2)
    ParallelTempering.from_checkpoint(path, potential, temperatures=[1.0, 2.0, 4.0])


class _TwoTypeHarmonic(Harmonic):
    """Harmonic tethers of two particle types (num_types tells the engine)."""

    num_types = 2


@bad_input(
    RESUME,
    "a checkpoint with particle types the potential lacks",
    ResumeMismatchError,
    r"has particle type 5, but the potential has 2 types",
)
def resume_types_beyond_the_potential(rng, tmp_path):
    potential = _TwoTypeHarmonic(1.0, centers=rng.random((2, 3)) * BOX)
    path = _checkpoint(rng, tmp_path, potential)
    arrays, meta = load_checkpoint(path)
    arrays["types"] = np.full(N, 5)
    meta["has_types"] = True
    save_checkpoint(path, arrays, meta)
    ParallelTempering.from_checkpoint(path, potential)


@bad_input(
    RESUME, "a truncated checkpoint", FileFormatError, r"cannot read checkpoint .*state\.npz"
)
def resume_truncated_checkpoint(rng, tmp_path):
    path = _checkpoint(rng, tmp_path)
    content = path.read_bytes()
    path.write_bytes(content[: int(rng.integers(0, len(content) - 100))])
    ParallelTempering.from_checkpoint(path, LennardJones(sigma=0.5, cutoff=1.2))


@bad_input(
    RESUME, "a file that is not a checkpoint", FileFormatError, r"not\.npz is not a checkpoint"
)
def resume_not_a_checkpoint(rng, tmp_path):
    path = tmp_path / "not.npz"
    np.save(path.with_suffix(".npy"), rng.random(5))
    path.write_bytes(path.with_suffix(".npy").read_bytes())
    ParallelTempering.from_checkpoint(path, LennardJones(sigma=0.5, cutoff=1.2))


# -- `pgnfast mc`: a PGN model needs the design of its core exclusion -------------------------


@bad_input(
    "pgnfast.mc.cli.with_core_exclusion",
    "a PGN model file with no recorded design, no `design:`",
    InputError,
    r"records no design .*add `design: .*`core_exclusion: false`",
)
def cli_pgn_model_without_design(rng, tmp_path):
    from pgnfast.mc.cli import with_core_exclusion
    from pgnfast.nn.potential import Potential
    from pgnfast.testing import small_model

    model = small_model(seed=int(rng.integers(2**31)), num_types=1)
    model.metadata = {}
    with_core_exclusion(Potential(model))


@bad_input(
    "pgnfast mc (pgnfast.mc.cli.run)",
    "an unknown key in the config",
    InputError,
    r"unknown mc config keys \['sweep'\]",
)
def cli_unknown_key(rng, tmp_path):
    import argparse

    from pgnfast.mc import cli

    config = tmp_path / "mc.yaml"
    config.write_text(
        "potential: {kind: lennard_jones}\nnum_particles: 8\nbox: 4.0\n"
        f"temperatures: [1.0]\nsweep: {int(rng.integers(1, 9))}\noutput: {tmp_path / 'out'}\n"
    )
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    cli.run(parser.parse_args([str(config), "--no-progress"]))
