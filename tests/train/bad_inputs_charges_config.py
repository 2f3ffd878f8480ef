"""Bad inputs of NequIP-LR training (model.kind nequip_lr, charges and total charges)."""

from __future__ import annotations

from pgnfast.errors import FileFormatError, InputError
from tests.bad_inputs import bad_input

TINY_LR = dict(
    kind="nequip_lr",
    r_max=4.0,
    charge_layers=1,
    energy_layers=1,
    l_max=0,
    num_features=2,
    num_bessel=4,
    radial_mlp_width=4,
    charge_embedding_size=2,
)


def _charged_config(data, run_dir, **overrides) -> dict:
    values = dict(
        data=str(data),
        run_dir=str(run_dir),
        units="atomistic",
        dtype="float64",
        model=dict(TINY_LR),
        batch_size=2,
        max_epochs=1,
        progress=False,
        plots=False,
        split={"train": 2, "validation": 1, "test": 1},
    )
    values.update(overrides)
    return values


def _nacl_frames(path, rng, *, charges=True, total_charge=0.0):
    """Four free NaCl dimers (energy, forces; per-atom charges when `charges`), frame 1
    with info total_charge = total_charge, written to the extxyz `path`."""
    import ase
    import ase.io
    import numpy as np
    from ase.calculators.singlepoint import SinglePointCalculator

    frames = []
    for index in range(4):
        distance = float(rng.uniform(2.2, 3.0))
        atoms = ase.Atoms("NaCl", positions=[[0, 0, 0], [distance, 0, 0]], cell=np.eye(3) * 20.0)
        atoms.calc = SinglePointCalculator(
            atoms, energy=float(rng.normal()), forces=rng.normal(size=(2, 3))
        )
        if charges:
            atoms.arrays["charges"] = np.array([0.7, -0.7])
        if index == 1:
            atoms.info["total_charge"] = total_charge
        frames.append(atoms)
    ase.io.write(path, frames, format="extxyz")
    return path


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "a model key that NequIP-LR does not take (model.kind nequip_lr)",
    InputError,
    r"unknown nequip_lr model keys \['charge_layer'\]",
)
def charges_unknown_nequip_lr_key(rng, tmp_path):
    from pgnfast.train import TrainConfig

    model = dict(TINY_LR, charge_layer=2)
    TrainConfig.from_dict(_charged_config(tmp_path / "d.extxyz", tmp_path / "run", model=model))


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "a NequIP-LR model key under model.kind nequip",
    InputError,
    r"model keys \['charge_layers'\] belong to NequIP-LR: set model.kind: nequip_lr",
)
def charges_lr_key_with_kind_nequip(rng, tmp_path):
    from pgnfast.train import TrainConfig

    model = dict(kind="nequip", r_max=4.0, num_layers=1, charge_layers=2)
    TrainConfig.from_dict(_charged_config(tmp_path / "d.extxyz", tmp_path / "run", model=model))


@bad_input(
    "pgnfast.train.fit",
    "charge_weight > 0 with data that hold no reference charges",
    InputError,
    r"charge_weight 1\.0 needs reference charges, but no frame .* has the per-atom column "
    r"'charges'",
)
def charges_weight_without_reference_charges(rng, tmp_path):
    from pgnfast.train import fit

    data = _nacl_frames(tmp_path / "nacl.extxyz", rng, charges=False)
    fit(_charged_config(data, tmp_path / "run", charge_weight=1.0))


@bad_input(
    "pgnfast.train.fit",
    "a frame whose info total_charge is not finite",
    FileFormatError,
    r"nacl\.extxyz frame 1: info total_charge must be finite, got nan",
)
def charges_non_finite_total_charge(rng, tmp_path):
    from pgnfast.train import fit

    data = _nacl_frames(tmp_path / "nacl.extxyz", rng, total_charge=float("nan"))
    fit(_charged_config(data, tmp_path / "run", charge_weight=1.0))


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "charge_weight > 0 for a NequIP model (model.kind nequip predicts no charges)",
    InputError,
    r"charge_weight 0\.5 needs model.kind: nequip_lr",
)
def charges_weight_with_kind_nequip(rng, tmp_path):
    from pgnfast.train import TrainConfig

    model = dict(r_max=4.0, num_layers=1)
    TrainConfig.from_dict(
        _charged_config(tmp_path / "d.extxyz", tmp_path / "run", model=model, charge_weight=0.5)
    )


@bad_input(
    "pgnfast.train.TrainConfig.from_dict",
    "model.kind nequip_lr in PGN units (NequIP-LR is Angstrom and eV only)",
    InputError,
    r"model.kind nequip_lr works in atomistic units",
)
def charges_nequip_lr_in_pgn_units(rng, tmp_path):
    from pgnfast.train import TrainConfig

    TrainConfig.from_dict(_charged_config(tmp_path / "d.extxyz", tmp_path / "run", units="pgn"))
