"""Checkpoints load safely and resume only the run that wrote them.

Damaged files (truncated, bytes overwritten) raise a pgnfast error naming the file, never
another exception; a checkpoint resumes only under the potential whose fingerprint it
recorded; checkpoints from before fingerprints are refused.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pgnfast.mc as mc
from pgnfast.errors import FileFormatError, PGNFastError, ResumeMismatchError
from pgnfast.potentials import CoreRepulsion, Harmonic, LennardJones
from pgnfast.potentials.base import PotentialBase
from pgnfast.potentials.fingerprint import fingerprint_differences, potential_fingerprint

N, BOX = 12, 3.0


def _engine(potential, seed: int):
    positions = np.random.default_rng(seed).random((N, 3)) * BOX
    return mc.ParallelTempering(
        potential, positions, np.eye(3) * BOX, [1.0, 2.0], seed=seed, equilibration_sweeps=1
    )


@pytest.fixture(scope="module")
def intact(tmp_path_factory, request):
    """(checkpoint bytes, potential, engine resumed from the intact file)."""
    from tests.conftest import derived_seed

    seed = derived_seed(request.config.pgnfast_root_seed, request.node.nodeid) % 2**31
    potential = Harmonic(1.5, centers=np.random.default_rng(seed).random((N, 3)) * BOX)
    engine = mc.ParallelTempering(
        potential,
        potential.centers,
        np.eye(3) * BOX,
        [1.0, 2.0],
        types=np.arange(N),
        seed=seed,
        equilibration_sweeps=1,
    )
    path = tmp_path_factory.mktemp("intact") / "state.npz"
    engine.run(3, checkpoint=path, quench_lowest=False)
    resumed = mc.ParallelTempering.from_checkpoint(path, potential)
    return path.read_bytes(), potential, resumed


def _same_state(a, b) -> bool:
    return (
        all(
            np.array_equal(x.positions, y.positions) and np.array_equal(x.energies, y.energies)
            for x, y in zip(a.replicas, b.replicas)
        )
        and a.sweeps_done == b.sweeps_done
        and [g.bit_generator.state for g in a.replica_rngs]
        == [g.bit_generator.state for g in b.replica_rngs]
    )


def _resume_damaged(tmp_path, content: bytes, potential, reference) -> None:
    path = tmp_path / "damaged.npz"
    path.write_bytes(content)
    try:
        engine = mc.ParallelTempering.from_checkpoint(path, potential)
    except FileFormatError as error:
        assert str(path) in str(error)
    except PGNFastError:
        pass
    else:  # a byte no reader looks at (a zip timestamp): the same state as the intact file
        assert _same_state(engine, reference)


@settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_truncated_checkpoint_raises_a_pgnfast_error(tmp_path, intact, data):
    content, potential, reference = intact
    cut = data.draw(st.integers(0, len(content) - 1), label="cut")
    _resume_damaged(tmp_path, content[:cut], potential, reference)


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_corrupted_checkpoint_raises_a_pgnfast_error(tmp_path, intact, data):
    content, potential, reference = intact
    damaged = bytearray(content)
    for _ in range(data.draw(st.integers(1, 4), label="corruptions")):
        where = data.draw(st.integers(0, len(content) - 1), label="offset")
        damaged[where] = data.draw(st.integers(0, 255), label="byte")
    _resume_damaged(tmp_path, bytes(damaged), potential, reference)


def test_intact_checkpoint_resumes_equal(intact):
    _, _, reference = intact
    assert reference.sweeps_done == 3


def test_checkpoint_holds_no_pickles(intact, tmp_path):
    content, _, _ = intact
    path = tmp_path / "state.npz"
    path.write_bytes(content)
    with np.load(path, allow_pickle=False) as data:  # raises on any object array
        assert all(data[name].dtype.kind in "biuf" for name in data.files)


def test_metadata_of_another_kind_is_refused(tmp_path, intact):
    content, potential, _ = intact
    path = tmp_path / "state.npz"
    path.write_bytes(content)
    arrays, meta = mc.load_checkpoint(path)
    broken = dict(meta, replica_rngs=meta["replica_rngs"][:1])
    mc.save_checkpoint(tmp_path / "rngs.npz", arrays, broken)
    with pytest.raises(FileFormatError, match=r"rngs\.npz: 1 replica random streams for 2"):
        mc.ParallelTempering.from_checkpoint(tmp_path / "rngs.npz", potential)
    mc.save_checkpoint(
        tmp_path / "shape.npz", dict(arrays, energies=arrays["energies"][:, :3]), meta
    )
    with pytest.raises(FileFormatError, match="array 'energies'"):
        mc.ParallelTempering.from_checkpoint(tmp_path / "shape.npz", potential)
    mc.save_checkpoint(tmp_path / "mode.npz", arrays, dict(meta, mode="sideways"))
    with pytest.raises(FileFormatError, match="unknown mode 'sideways'"):
        mc.ParallelTempering.from_checkpoint(tmp_path / "mode.npz", potential)


def test_missing_checkpoint_names_both_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.npz.*nope\.npz\.prev"):
        mc.load_checkpoint(tmp_path / "nope.npz")


# -- fingerprints --------------------------------------------------------------------------


def test_resume_under_another_potential_names_the_difference(tmp_path, test_seed):
    path = tmp_path / "state.npz"
    _engine(LennardJones(cutoff=1.2), test_seed).run(2, checkpoint=path, quench_lowest=False)
    with pytest.raises(ResumeMismatchError, match=r"epsilon: 1\.0 recorded, 2\.0 now"):
        mc.ParallelTempering.from_checkpoint(path, LennardJones(epsilon=2.0, cutoff=1.2))
    with pytest.raises(ResumeMismatchError, match="class .*LennardJones recorded, .*Harmonic"):
        mc.ParallelTempering.from_checkpoint(path, Harmonic())
    resumed = mc.ParallelTempering.from_checkpoint(path, LennardJones(cutoff=1.2))
    assert resumed.sweeps_done == 2


def test_checkpoint_without_fingerprint_is_refused(tmp_path, test_seed):
    path = tmp_path / "state.npz"
    _engine(LennardJones(cutoff=1.2), test_seed).run(1, checkpoint=path, quench_lowest=False)
    arrays, meta = mc.load_checkpoint(path)
    del meta["potential_fingerprint"]
    mc.save_checkpoint(tmp_path / "old.npz", arrays, meta)
    with pytest.raises(ResumeMismatchError, match="predates potential fingerprints"):
        mc.ParallelTempering.from_checkpoint(tmp_path / "old.npz", LennardJones(cutoff=1.2))


def test_resume_with_other_particles_or_ladder_is_refused(tmp_path, test_seed):
    path = tmp_path / "state.npz"
    potential = LennardJones(cutoff=1.2)
    _engine(potential, test_seed).run(1, checkpoint=path, quench_lowest=False)
    with pytest.raises(ResumeMismatchError, match=f"holds {N} particles, but {N + 1}"):
        mc.ParallelTempering.from_checkpoint(path, potential, num_particles=N + 1)
    with pytest.raises(ResumeMismatchError, match="was run at temperatures"):
        mc.ParallelTempering.from_checkpoint(path, potential, temperatures=[1.0, 2.0, 3.0])
    engine = mc.ParallelTempering.from_checkpoint(
        path, potential, num_particles=N, temperatures=[1.0, 2.0]
    )
    assert engine.num_particles == N


class _Wrapper(PotentialBase):
    """A wrapper holding an inner potential, like pgnfast.dft.CoreExclusion."""

    def __init__(self, potential, scale: float):
        self.potential, self.scale = potential, scale
        self.last_energies = None  # a cache: not part of the fingerprint

    @property
    def receptive_field(self):
        return self.potential.receptive_field

    def energies(self, positions, cell, types=None, pbc=True):
        self.last_energies = self.scale * self.potential.energies(positions, cell, types, pbc)
        return self.last_energies


def test_fingerprint_follows_parameters_inner_potentials_and_models(rng):
    inner = CoreRepulsion(diameter=0.5, cutoff=1.0)
    a = _Wrapper(inner, 2.0)
    before = a.fingerprint()
    a.energies(rng.random((5, 3)) * 3, np.eye(3) * 3)  # caches do not count
    assert a.fingerprint() == before
    other = _Wrapper(CoreRepulsion(diameter=0.6, cutoff=1.0), 2.0).fingerprint()
    assert fingerprint_differences(before, other) == [
        "potential.core_diameter: 0.5 recorded, 0.6 now",
        "potential.diameter: 0.5 recorded, 0.6 now",
    ]
    centers = rng.random((40, 3))
    moved = centers.copy()
    moved[7, 1] += 1e-12
    assert Harmonic(centers=centers).fingerprint() == Harmonic(centers=centers.copy()).fingerprint()
    assert fingerprint_differences(
        Harmonic(centers=centers).fingerprint(), Harmonic(centers=moved).fingerprint()
    )[0].startswith('centers: "sha256:')


def test_fingerprint_of_a_model_hashes_its_weights(test_seed):
    torch = pytest.importorskip("torch")
    pytest.importorskip("e3nn")
    from pgnfast.testing import small_model

    class ModelPotential:  # the protocol without PotentialBase
        receptive_field = 1.2

        def __init__(self, model):
            self.model = model

        def energies_batch(self, systems):
            raise NotImplementedError

    model = small_model(seed=test_seed % 2**31)
    same = small_model(seed=test_seed % 2**31)
    first = potential_fingerprint(ModelPotential(model))
    assert first == potential_fingerprint(ModelPotential(same))
    with torch.no_grad():
        next(same.parameters()).view(-1)[0] += 1e-6
    differences = fingerprint_differences(first, potential_fingerprint(ModelPotential(same)))
    assert len(differences) == 1 and differences[0].startswith('model: "sha256:')
