"""Reusable test helpers: random systems, symmetry and derivative checks, synthetic datasets.

Other packages (and the fused-kernel tests) can call these on any model taking a
:class:`pgnfast.nn.Graph`. Units: nm, kT.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from .nn.graph import Graph, build_graph


def random_positions(num_particles: int, box: float, rng, min_distance: float = 0.0):
    """(N, 3) float64 positions in a cubic box (nm); a jittered lattice when min_distance > 0
    keeps particles at least about min_distance apart."""
    if min_distance <= 0:
        return rng.uniform(0.0, box, (num_particles, 3))
    per_side = int(np.ceil(num_particles ** (1 / 3)))
    spacing = box / per_side
    grid = np.stack(np.meshgrid(*[np.arange(per_side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    chosen = grid[rng.permutation(len(grid))[:num_particles]] * spacing
    jitter = max(0.0, (spacing - min_distance) / 2)
    return chosen + rng.uniform(-jitter, jitter, chosen.shape) + spacing / 2


def random_graph(
    model,
    num_particles: int = 12,
    box: float = 1.5,
    *,
    seed: int = 0,
    num_systems: int = 1,
    pbc=True,
    dtype=torch.float64,
    min_distance: float | None = None,
) -> Graph:
    """A random periodic (triclinic) batch of systems for `model` (its r_max, types,
    descriptors); particles about min_distance (default 0.4 r_max) apart or more."""
    if min_distance is None:
        min_distance = 0.4 * model.r_max
    rng = np.random.default_rng(seed)
    systems = []
    for _ in range(num_systems):
        cell = box * (np.eye(3) + 0.05 * rng.uniform(-1, 1, (3, 3)))
        fractional = random_positions(num_particles, box, rng, min_distance=min_distance) / box
        pos = fractional @ cell
        types = rng.integers(0, model.num_types, num_particles)
        desc = (
            rng.uniform(0, 1, (num_particles, model.node_descriptors))
            if model.node_descriptors
            else None
        )
        systems.append((pos, cell, types, pbc, desc))
    return build_graph(systems, model.r_max, dtype=dtype)


def random_orthogonal(dtype=torch.float64, *, reflect: bool = True, seed: int | None = None):
    """A random 3x3 rotation (times -1, a reflection, if reflect) via e3nn's o3.rand_matrix."""
    from e3nn import o3

    if seed is not None:
        torch.manual_seed(seed)
    rotation = o3.rand_matrix(dtype=dtype)
    return -rotation if reflect else rotation


def transform_graph(graph: Graph, matrix: torch.Tensor, translation=None) -> Graph:
    """Apply r -> r @ matrix.T (+ translation) to positions and cell rows; edges unchanged."""
    matrix = matrix.to(graph.positions.dtype)
    positions = graph.positions @ matrix.T
    if translation is not None:
        positions = positions + torch.as_tensor(translation, dtype=positions.dtype)
    return replace(graph, positions=positions, cell=graph.cell @ matrix.T)


def equivariance_errors(model, graph: Graph, matrix=None, *, stress: bool = True) -> dict:
    """Max abs errors of E invariance, F equivariance (F(Rr) = R F(r)) and stress
    (S(Rr) = R S R^T) under `matrix` (default: random rotation with reflection)."""
    if matrix is None:
        matrix = random_orthogonal(graph.positions.dtype)
    matrix = matrix.to(graph.positions.dtype)
    before = {k: v.detach() for k, v in model(graph, compute_stress=stress).items()}
    after = {
        k: v.detach()
        for k, v in model(transform_graph(graph, matrix), compute_stress=stress).items()
    }
    errors = {
        "energy": float((after["energy"] - before["energy"]).abs().max()),
        "energies": float((after["energies"] - before["energies"]).abs().max()),
        "forces": float((after["forces"] - before["forces"] @ matrix.T).abs().max()),
    }
    if stress:
        rotated = matrix @ before["stress"] @ matrix.T
        errors["stress"] = float((after["stress"] - rotated).abs().max())
    return errors


def assert_equivariant(model, graph: Graph, *, atol: float = 1e-10, trials: int = 3) -> None:
    """Raise AssertionError if any equivariance error exceeds atol for random O(3) elements."""
    for trial in range(trials):
        errors = equivariance_errors(model, graph, random_orthogonal(reflect=trial % 2 == 0))
        bad = {k: v for k, v in errors.items() if not v < atol}
        assert not bad, f"equivariance errors above {atol}: {bad}"


def finite_difference_forces(model, graph: Graph, particles, *, step: float = 1e-5):
    """Central-difference -dE/dr (kT/nm) for the listed particle indices: (len, 3) float64."""
    forces = np.zeros((len(particles), 3))
    for row, index in enumerate(particles):
        for axis in range(3):
            energies = []
            for sign in (1.0, -1.0):
                positions = graph.positions.detach().clone()
                positions[index, axis] += sign * step
                out = model(replace(graph, positions=positions), compute_forces=False)
                energies.append(float(out["energy"].detach().sum()))
            forces[row, axis] = -(energies[0] - energies[1]) / (2 * step)
    return forces


def finite_difference_stress(model, graph: Graph, *, step: float = 1e-5) -> np.ndarray:
    """Central-difference stress (1/V) dE/d(strain) (kT/nm^3) of a single-system graph, by
    applying symmetric strains to positions and cell (the edge list is unchanged)."""
    volume = abs(float(torch.linalg.det(graph.cell[0])))
    stress = np.zeros((3, 3))
    for a in range(3):
        for b in range(a, 3):
            energies = []
            for sign in (1.0, -1.0):
                strain = torch.zeros(3, 3, dtype=graph.positions.dtype)
                strain[a, b] += 0.5 * sign * step
                strain[b, a] += 0.5 * sign * step
                deform = torch.eye(3, dtype=strain.dtype) + strain
                out = model(
                    replace(graph, positions=graph.positions @ deform, cell=graph.cell @ deform),
                    compute_forces=False,
                )
                energies.append(float(out["energy"].detach().sum()))
            stress[a, b] = stress[b, a] = (energies[0] - energies[1]) / (2 * step) / volume
    return stress


# -- a synthetic labeled dataset (stand-in for the DFT labels) -----------------------------


def analytic_many_body_energies(
    positions, cell, *, cutoff: float = 1.0, sigma: float = 0.35, pbc=True
):
    """Per-particle energies (N,) kT of an embedded-density model with a soft pair repulsion:
    E_i = sum_j 2 exp(-4 (r/sigma - 1)) f(r) / 2 - 1.5 sqrt(rho_i), rho_i = sum_j exp(-2 r /
    sigma) f(r), f a smooth cutoff. torch float64 in and out (differentiable)."""
    from .neighbors import neighbor_list

    nl = neighbor_list(positions.detach().numpy(), cell.detach().numpy(), cutoff, pbc=pbc)
    i = torch.as_tensor(nl.i)
    j = torch.as_tensor(nl.j)
    shifts = torch.as_tensor(nl.shifts, dtype=positions.dtype)
    vectors = positions[j] - positions[i] + shifts @ cell
    r = torch.linalg.norm(vectors, dim=1)
    x = r / cutoff
    smooth = (1 - x**2) ** 3
    pair = 2.0 * torch.exp(-4.0 * (r / sigma - 1.0)) * smooth
    density = torch.zeros(len(positions), dtype=positions.dtype).index_add(
        0, i, torch.exp(-2.0 * r / sigma) * smooth
    )
    repulsion = torch.zeros(len(positions), dtype=positions.dtype).index_add(0, i, 0.5 * pair)
    return repulsion - 1.5 * torch.sqrt(density + 1e-3)


def write_synthetic_dataset(
    path,
    num_configs: int = 40,
    num_particles: int = 16,
    *,
    box: float = 1.6,
    seed: int = 0,
    design=None,
) -> None:
    """Write an extxyz file of random configurations labeled by analytic_many_body_energies:
    info["energy"] (kT), arrays["forces"] (kT/nm) and arrays["energies"] (kT), positions and
    cell in nm, and design parameters in info (same fields as the DFT labeler writes)."""
    import ase
    import ase.io

    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(num_configs):
        pos = torch.tensor(
            random_positions(num_particles, box, rng, min_distance=0.25), requires_grad=True
        )
        cell = torch.tensor(box * np.eye(3))
        energies = analytic_many_body_energies(pos, cell)
        energy = energies.sum()
        (grad,) = torch.autograd.grad(energy, pos)
        atoms = ase.Atoms(
            symbols=["X"] * num_particles,
            positions=pos.detach().numpy(),
            cell=cell.numpy(),
            pbc=True,
        )
        atoms.info["energy"] = float(energy.detach())
        atoms.arrays["forces"] = -grad.numpy()
        atoms.arrays["energies"] = energies.detach().numpy()
        for key, value in (design or {"core_radius": 0.2, "grafting_density": 1.0}).items():
            atoms.info[key] = value
        frames.append(atoms)
    ase.io.write(str(path), frames, format="extxyz")


def small_model(dtype=torch.float64, seed: int = 0, **overrides):
    """A small NequIP (two types, l_max 2, 4 features, 2 layers, r_max 0.6 nm) with a
    nonzero per-type scale/shift, for fast tests; overrides change any hyperparameter."""
    from .nn.model import NequIP

    torch.manual_seed(seed)
    hyper = dict(
        r_max=0.6,
        num_layers=2,
        l_max=2,
        num_features=4,
        num_bessel=6,
        radial_mlp_width=8,
        num_types=2,
        avg_num_neighbors=8.0,
        backend="reference",
    )
    hyper.update(overrides)
    model = NequIP(**hyper).to(dtype)
    model.set_energy_scale_shift(
        [1.3, 0.7][: model.num_types] + [1.0] * (model.num_types - 2),
        [-0.4, 0.2][: model.num_types] + [0.0] * (model.num_types - 2),
    )
    return model


# -- a charged teacher system (NequIP-LR; Angstrom, eV, e) ---------------------------

CHARGED_TEACHER_ELECTRONEGATIVITY = {"Na": 0.0, "Cl": 4.0}  # eV/e
CHARGED_TEACHER_HARDNESS = {"Na": 6.0, "Cl": 8.0}  # eV/e^2
CHARGED_TEACHER_REPULSION, CHARGED_TEACHER_DECAY = (
    300.0,
    0.35,
)  # eV, Angstrom: A exp(-r / decay) per pair


def charged_teacher(symbols, positions, cell, periodic: bool, total_charge: float):
    """Energy (eV), forces (N, 3) eV/Angstrom and charges (N,) e of the teacher: Qeq with
    Gaussian charges (covalent-radius widths) plus a pair repulsion (minimum image)."""
    from .nn.nequip_lr import covalent_radii
    from .nn.qeq import qeq

    x = torch.tensor(positions, dtype=torch.float64, requires_grad=True)
    box = torch.tensor(cell, dtype=torch.float64)
    chi = torch.tensor([CHARGED_TEACHER_ELECTRONEGATIVITY[s] for s in symbols], dtype=torch.float64)
    hardness = torch.tensor([CHARGED_TEACHER_HARDNESS[s] for s in symbols], dtype=torch.float64)
    widths = torch.tensor(covalent_radii(symbols), dtype=torch.float64)
    result = qeq(
        chi,
        hardness,
        x,
        widths,
        total_charge=float(total_charge),
        cell=box if periodic else None,
        pbc=(periodic,) * 3,
    )
    i, j = np.triu_indices(len(symbols), 1)
    d = x[j] - x[i]
    if periodic:
        fractional = d @ torch.linalg.inv(box)
        d = (fractional - torch.round(fractional)) @ box
    repulsion = (
        CHARGED_TEACHER_REPULSION * torch.exp(-d.norm(dim=1) / CHARGED_TEACHER_DECAY)
    ).sum()
    energy = result.energy.sum() + repulsion
    (gradient,) = torch.autograd.grad(energy, x)
    return float(energy.detach()), (-gradient).numpy(), result.charges.detach().numpy()


def _separated_positions(rng, count, box, periodic, minimum=2.2):
    """`count` random positions at least `minimum` Angstrom apart (minimum image if
    periodic), in a cluster of about 3.5 Angstrom radius or anywhere in a cubic box."""
    points = []
    while len(points) < count:
        if periodic:
            candidate = rng.uniform(0, box, 3)
        else:
            candidate = box / 2 + rng.uniform(-3.5, 3.5, 3)
        d = np.array(points) - candidate if points else np.zeros((0, 3))
        if periodic:
            d -= box * np.round(d / box)
        if not len(d) or np.linalg.norm(d, axis=1).min() >= minimum:
            points.append(candidate)
    return np.array(points)


def write_charged_teacher_dataset(folder, frames: int, seed: int = 0) -> Path:
    """`frames` labeled Na/Cl frames (4-6 atoms; every third periodic in a 7.5 Angstrom
    cube, the others free in a 20 Angstrom box; every fourth charged +-1 e) in
    folder/nacl.extxyz, with per-atom `charges` and info `total_charge` (units Angstrom,
    eV, e): the data of examples/charges.yaml. Returns the file."""
    import ase
    import ase.io
    from ase.calculators.singlepoint import SinglePointCalculator

    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index in range(frames):
        periodic = index % 3 == 2
        box = 7.5 if periodic else 20.0
        count = int(rng.integers(4, 7))
        symbols = list(rng.choice(["Na", "Cl"], size=count))
        positions = _separated_positions(rng, count, box, periodic)
        total = float(rng.choice([-1.0, 1.0])) if index % 4 == 1 else 0.0
        cell = np.eye(3) * box
        energy, forces, charges = charged_teacher(symbols, positions, cell, periodic, total)
        atoms = ase.Atoms(symbols, positions=positions, cell=cell, pbc=periodic)
        atoms.info["total_charge"] = total
        atoms.arrays["charges"] = charges
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
        written.append(atoms)
    ase.io.write(folder / "nacl.extxyz", written, format="extxyz")
    return folder / "nacl.extxyz"
