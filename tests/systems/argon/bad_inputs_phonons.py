"""Bad inputs of argon's phonons at 0 K and finite temperature
(pgnfast.systems.argon.phonons, pgnfast.systems.argon.spectra)."""

from __future__ import annotations

import numpy as np

from pgnfast.errors import InputError, ResumeMismatchError
from tests.bad_inputs import bad_input


def _forces_only(positions, cell):
    return np.zeros_like(positions)


@bad_input(
    "pgnfast.systems.argon.phonons.phonon_model",
    "a forces-only model asked for an autograd Hessian",
    InputError,
    r"has no energy to differentiate: an autograd Hessian needs a model with an energy",
)
def autograd_hessian_without_energy(rng, tmp_path):
    from pgnfast.systems.argon.phonons import phonon_model

    phonon_model(_forces_only, f"direct forces {rng.integers(10)}", hessian_method="autograd")


@bad_input(
    "pgnfast.systems.argon.phonons.phonon_model",
    "an analytic Hessian asked of a model that is not Lennard-Jones",
    InputError,
    r"an analytic Hessian exists for LennardJones only",
)
def analytic_hessian_of_other_model(rng, tmp_path):
    from pgnfast.systems.argon.phonons import phonon_model

    phonon_model(_forces_only, hessian_method="analytic", step=float(rng.uniform(1e-4, 1e-2)))


@bad_input(
    "pgnfast.systems.argon.phonons.phonon_model",
    "a model that is neither a potential, a calculator nor a forces callable",
    InputError,
    r"model must be a LennardJones, a NequIP module, an ASE calculator or a callable",
)
def model_of_unknown_kind(rng, tmp_path):
    from pgnfast.systems.argon.phonons import phonon_model

    phonon_model(rng.normal(size=3))


@bad_input(
    "pgnfast.systems.argon.phonons.phonon_model",
    "forces of the wrong shape",
    InputError,
    r"the model's forces must have shape \(32, 3\), got \(32,\)",
)
def forces_of_wrong_shape(rng, tmp_path):
    from pgnfast.systems.argon.phonons import fcc_supercell, phonon_model

    model = phonon_model(lambda positions, cell: np.zeros(len(positions)))
    model.forces(*fcc_supercell(float(rng.uniform(5, 6)), 2))


@bad_input(
    "pgnfast.systems.argon.phonons.relax_lattice_constant",
    "a forces-only model without a lattice constant",
    InputError,
    r"gives forces only \(no energy or stress\): its lattice constant cannot be relaxed",
)
def relax_forces_only(rng, tmp_path):
    from pgnfast.systems.argon.phonons import phonon_model, relax_lattice_constant

    relax_lattice_constant(phonon_model(_forces_only), n_cells=int(rng.integers(1, 3)))


@bad_input(
    "pgnfast.systems.argon.phonons.relax_lattice_constant",
    "bounds that do not hold the energy minimum",
    InputError,
    r"the energy minimum is at a bound of",
)
def relax_minimum_outside_bounds(rng, tmp_path):
    from pgnfast.systems.argon.phonons import phonon_model, relax_lattice_constant

    low = float(rng.uniform(5.5, 5.8))
    relax_lattice_constant(phonon_model(), n_cells=1, bounds=(low, low + 0.3))


@bad_input(
    "pgnfast.systems.argon.phonons.reduced_qpoint",
    "an unknown high-symmetry point",
    InputError,
    r"q point must be one of \('Gamma', 'X', 'W', 'K', 'L'\)",
)
def unknown_point(rng, tmp_path):
    from pgnfast.systems.argon.phonons import reduced_qpoint

    reduced_qpoint(str(rng.choice(["U", "M", "H"])))


@bad_input(
    "pgnfast.systems.argon.spectra.SpectraConfig",
    "an odd number of cells (L not commensurate)",
    InputError,
    r"n_cells must be even",
)
def spectra_odd_cells(rng, tmp_path):
    from pgnfast.systems.argon.spectra import SpectraConfig

    SpectraConfig(n_cells=int(rng.choice([3, 5])))


@bad_input(
    "pgnfast.systems.argon.spectra.SpectraConfig",
    "a correlation window longer than the production run",
    InputError,
    r"window_size must be below the production frames \(500\)",
)
def spectra_window_too_long(rng, tmp_path):
    from pgnfast.systems.argon.spectra import SpectraConfig

    SpectraConfig(production_steps=1000, sample_every=2, window_size=int(rng.integers(500, 900)))


@bad_input(
    "pgnfast.systems.argon.spectra.vibrational_dos",
    "velocities of shape (T, N)",
    InputError,
    r"velocities must have shape \(T >= 4, N, 3\)",
)
def dos_wrong_shape(rng, tmp_path):
    from pgnfast.systems.argon.spectra import vibrational_dos

    vibrational_dos(rng.normal(size=(16, 8)), 5.0)


@bad_input(
    "pgnfast.systems.argon.spectra.fit_peak",
    "a spectrum with no peak near the guess",
    InputError,
    r"no peak to fit near",
)
def fit_without_peak(rng, tmp_path):
    from pgnfast.systems.argon.spectra import fit_peak

    frequencies = np.linspace(0, 4, 200)
    fit_peak(frequencies, -rng.uniform(0.1, 1, size=200), guess=1.5)


@bad_input(
    "pgnfast.systems.argon.spectra.run_spectra",
    "a checkpoint folder of another run",
    ResumeMismatchError,
    r"exact_10K\.npz was made by another run",
)
def spectra_foreign_checkpoint(rng, tmp_path):
    from pgnfast.systems.argon.spectra import SpectraConfig, run_spectra

    (tmp_path / "md").mkdir()
    np.savez(tmp_path / "md" / "exact_10K.npz", stamp=f"another run {rng.integers(100)}")
    config = SpectraConfig(temperatures=(10.0,), n_cells=2, production_steps=20, window_size=5)
    run_spectra({"exact": (None, 5.27)}, config, tmp_path, progress=False)
