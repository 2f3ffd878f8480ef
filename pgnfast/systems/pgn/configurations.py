"""Out-of-equilibrium configurations of PGN cores (units: nm). The box always follows from
the design: a cube of the solvent-free melt volume sum_i (4/3 pi a_i^3 + Omega0_i) (sheared
packings keep that volume in a tilted cell).

Kinds: "random" (random sequential placement of non-overlapping cores), "compressed" (a
random packing squeezed by 2-8 % along one axis at constant volume: more would bring the
thin axis below twice the DFT's interaction reach at N = 64), "sheared" (a random packing in
a cell tilted by a simple shear of 0.1-0.3), "fcc" / "bcc" (lattices with random vacancies, thermal
jitter), "icosahedral" (13-core icosahedral clusters in a random matrix), "mixed" (each
configuration draws one of the above).
"""

from __future__ import annotations

import ase
import numpy as np

from pgnfast.dft.design import PGNDesign
from pgnfast.geometry import minimum_image

KINDS = ("random", "compressed", "sheared", "fcc", "bcc", "icosahedral")
CONTACT_GAP = 0.02  # nm: placed cores keep centre distances >= a_i + a_j + CONTACT_GAP


def _types(design: PGNDesign, n: int, fractions, rng) -> np.ndarray:
    if design.n_types == 1:
        return np.zeros(n, np.int64)
    fr = (
        np.full(design.n_types, 1 / design.n_types)
        if fractions is None
        else np.asarray(fractions, float) / np.sum(fractions)
    )
    counts = np.floor(fr * n).astype(int)
    counts[: n - counts.sum()] += 1
    kinds = np.repeat(np.arange(design.n_types), counts)
    return rng.permutation(kinds)


def _place(rng, cell, radius, fixed=None, fixed_radius=None, max_tries=20000):
    """Random sequential placement of cores with `radius`, avoiding `fixed` ones."""
    inv = np.linalg.inv(cell)
    placed = [] if fixed is None else list(fixed)
    radii = [] if fixed_radius is None else list(fixed_radius)
    for a in radius:
        for _ in range(max_tries):
            p = rng.random(3) @ cell
            if placed:
                d = np.linalg.norm(minimum_image(np.asarray(placed) - p, cell, inv), axis=1)
                if (d < np.asarray(radii) + a + CONTACT_GAP).any():
                    continue
            placed.append(p)
            radii.append(a)
            break
        else:
            raise RuntimeError(
                f"could not place {len(radius)} cores without overlap: the "
                "design's core volume fraction is too high for random placement"
            )
    return np.asarray(placed)


def _lattice(rng, cell, radius, basis):
    """Sites of a cubic lattice with `basis` filling the cell, random vacancies, jitter."""
    n = len(radius)
    per_axis = int(np.ceil((n / len(basis)) ** (1 / 3)))
    grid = np.stack(np.meshgrid(*[np.arange(per_axis)] * 3, indexing="ij"), -1).reshape(-1, 3)
    frac = ((grid[:, None, :] + np.asarray(basis)[None]) / per_axis).reshape(-1, 3)
    frac = frac[rng.choice(len(frac), n, replace=False)]
    spacing = np.linalg.norm(cell[0]) / per_axis
    return _jitter(rng, frac @ cell, cell, radius, 0.03 * spacing)


def _icosahedral(rng, cell, radius):
    """Icosahedral 13-clusters (about half the cores) in a random matrix."""
    n, a = len(radius), radius.max()
    golden = (1 + 5**0.5) / 2
    vertices = np.array([(0, s1, s2 * golden) for s1 in (-1, 1) for s2 in (-1, 1)], float)
    vertices = np.concatenate([np.roll(vertices, k, axis=1) for k in range(3)])
    vertices /= np.linalg.norm(vertices[0])
    n_clusters = max(1, n // 26)
    centres = _place(rng, cell, np.full(n_clusters, 2 * a * 1.05 + a))
    pos = []
    for c in centres:
        rot, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        shell = c + (vertices @ rot.T) * (2 * a * 1.06)  # touching the centre, not each other
        pos.extend([c, *shell])
    pos = np.asarray(pos)[:n]
    rest = _place(rng, cell, radius[len(pos) :], fixed=pos, fixed_radius=radius[: len(pos)])
    return rest


def _jitter(rng, pos, cell, radius, amplitude, tries=50):
    """Gaussian displacements of `amplitude` nm, shrunk where they would make cores overlap."""
    inv = np.linalg.inv(cell)
    for _ in range(tries):
        trial = pos + rng.normal(scale=amplitude, size=pos.shape)
        d = minimum_image(trial[:, None] - trial[None], cell, inv)
        dist = np.linalg.norm(d, axis=-1) + np.eye(len(pos)) * 1e9
        if (dist >= radius[:, None] + radius[None] + CONTACT_GAP).all():
            return trial
        amplitude *= 0.7
    return pos


def _deform(rng, cell, radius, kind):
    """A random packing in a deformed cell of the same volume (affine, then overlaps removed)."""
    strain = rng.uniform(0.1, 0.3) if kind == "sheared" else rng.uniform(0.02, 0.08)
    if kind == "compressed":
        deformation = np.diag([(1 - strain) ** -0.5, (1 - strain) ** -0.5, 1 - strain])
    else:
        deformation = np.eye(3)
        deformation[2, 0] = strain  # shear: z vector tilts along x
    new_cell = cell @ deformation
    pos = _place(rng, cell, radius) @ deformation
    return _relax_overlaps(pos, new_cell, radius), new_cell


def _relax_overlaps(pos, cell, radius, sweeps=200):
    inv = np.linalg.inv(cell)
    pos = pos.copy()
    for _ in range(sweeps):
        d = minimum_image(pos[:, None] - pos[None], cell, inv)
        dist = np.linalg.norm(d, axis=-1) + np.eye(len(pos)) * 1e9
        overlap = np.maximum(radius[:, None] + radius[None] + CONTACT_GAP - dist, 0)
        if not overlap.any():
            return pos
        pos += 0.55 * (overlap / dist)[..., None].__mul__(d).sum(axis=1)
    return pos


def random_configurations(
    design: PGNDesign,
    n_particles: int,
    n_configs: int,
    *,
    seed,
    kind: str = "mixed",
    fractions=None,
    potential=None,
    temperature: float = 5.0,
    sweeps: int = 20,
) -> list[ase.Atoms]:
    """`n_configs` configurations of `n_particles` cores in the design's melt box (nm).

    kind: one of KINDS, "mixed" (a random kind per configuration) or "mc": short
    high-temperature Monte Carlo snapshots, each `sweeps` sweeps at `temperature` (kT units)
    from a random placement, driven by `potential` (anything with the potential protocol of
    pgnfast.potentials.base, typically a first trained model, pgnfast.Potential).
    fractions: share of each particle type (bidisperse designs; default equal). Returns
    ase.Atoms with positions (nm), cell (nm), pbc, the per-particle `type` array and
    info["kind"].
    """
    if kind == "mc":
        return _mc_snapshots(
            design,
            n_particles,
            n_configs,
            seed=seed,
            fractions=fractions,
            potential=potential,
            temperature=temperature,
            sweeps=sweeps,
        )
    if kind != "mixed" and kind not in KINDS:
        raise ValueError(f"kind must be 'mixed', 'mc' or one of {KINDS}, got {kind!r}")
    if int(n_particles) < 2 or int(n_configs) < 0:
        raise ValueError(
            f"need n_particles >= 2 and n_configs >= 0, got {n_particles}, {n_configs}"
        )
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(int(n_configs)):
        this_kind = rng.choice(KINDS) if kind == "mixed" else kind
        types = _types(design, int(n_particles), fractions, rng)
        radius = design.radii[types]
        counts = np.bincount(types, minlength=design.n_types)
        cell = np.eye(3) * design.box_volume(counts) ** (1 / 3)
        if this_kind == "random":
            pos = _place(rng, cell, radius)
        elif this_kind in ("compressed", "sheared"):
            pos, cell = _deform(rng, cell, radius, this_kind)
        elif this_kind == "fcc":
            pos = _lattice(
                rng, cell, radius, [(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)]
            )
        elif this_kind == "bcc":
            pos = _lattice(rng, cell, radius, [(0, 0, 0), (0.5, 0.5, 0.5)])
        else:
            pos = _icosahedral(rng, cell, radius)
        atoms = ase.Atoms(numbers=np.ones(len(pos), int), positions=pos, cell=cell, pbc=True)
        atoms.wrap()
        atoms.new_array("type", types.astype(np.int64))
        atoms.info["kind"] = str(this_kind)
        out.append(atoms)
    return out


def _mc_snapshots(
    design, n_particles, n_configs, *, seed, fractions, potential, temperature, sweeps
) -> list[ase.Atoms]:
    """Random placements, each then run `sweeps` Monte Carlo sweeps at `temperature`."""
    from pgnfast.mc import ParallelTempering

    if potential is None:
        raise ValueError(
            "kind='mc' needs a potential (for example a first trained model, "
            "pgnfast.Potential(model)) to drive the Monte Carlo snapshots"
        )
    if not (temperature > 0) or int(sweeps) < 1:
        raise ValueError(f"need temperature > 0 and sweeps >= 1, got {temperature}, {sweeps}")
    rng = np.random.default_rng(seed)
    starts = random_configurations(
        design, n_particles, n_configs, seed=rng.integers(2**63), kind="random", fractions=fractions
    )
    out = []
    for atoms in starts:
        types = atoms.arrays["type"]
        engine = ParallelTempering(
            potential,
            atoms.positions,
            np.asarray(atoms.cell),
            [float(temperature)],
            types=types,
            seed=int(rng.integers(2**31)),
            equilibration_sweeps=int(sweeps),
        )
        engine.run(int(sweeps), progress=False, quench_lowest=False)
        snapshot = atoms.copy()
        snapshot.positions = engine.positions_by_temperature()[0]
        snapshot.wrap()
        snapshot.info["kind"] = "mc"
        snapshot.info["mc_temperature"] = float(temperature)
        snapshot.info["mc_sweeps"] = int(sweeps)
        out.append(snapshot)
    return out
