"""Minimum-energy paths: nudged elastic band with a climbing image and the simplified string
method, every image of a band evaluated in ONE batched call.

A band function takes positions (M, N, 3) of M images of N particles and returns
(energies (M,), forces (M, N, 3)) in any consistent units (argon: Angstrom, eV,
eV/Angstrom). :func:`potential_band` makes one from a pgnfast potential (a NequIP model or
``pgnfast.Potential``: one batched graph per call; other potentials: a loop) and
:func:`ase_band` from an ASE calculator (a loop). ASE's ``NEB`` asks every image's
calculator separately, so the bands here are pgnfast's own.

Periodic cells: image differences are taken to the minimum image, so endpoints may be
given wrapped. The optimiser is FIRE (Bitzek et al. 2006) on the whole band, with the
step of every particle capped at ``max_step``; :func:`fire_relax` uses it to relax
structures (a band of fixed images is just a batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..geometry import check_cell, check_pbc, minimum_image, wrap
from ..validation import check_finite, check_positions, check_positive


@dataclass(frozen=True)
class FireSettings:
    """FIRE parameters (units of the band: time step in sqrt(mass length^2 / energy) with unit
    masses, max_step in length)."""

    dt: float = 0.1
    dt_max: float = 1.0
    max_step: float = 0.1
    n_min: int = 5
    f_inc: float = 1.1
    f_dec: float = 0.5
    alpha_start: float = 0.1
    f_alpha: float = 0.99

    def __post_init__(self):
        for name in ("dt", "dt_max", "max_step"):
            check_positive(getattr(self, name), name)


@dataclass
class _Fire:
    settings: FireSettings
    velocity: np.ndarray
    dt: float = 0.0
    alpha: float = 0.0
    steps_uphill_free: int = 0

    @classmethod
    def start(cls, shape, settings: FireSettings):
        return cls(settings, np.zeros(shape), settings.dt, settings.alpha_start)

    def step(self, force: np.ndarray) -> np.ndarray:
        """The displacement (same shape as force) of one FIRE step under `force`."""
        s = self.settings
        power = float(np.vdot(force, self.velocity))
        if power > 0:
            f_norm = np.linalg.norm(force)
            v_norm = np.linalg.norm(self.velocity)
            if f_norm > 0:
                self.velocity = (1 - self.alpha) * self.velocity + self.alpha * force * (
                    v_norm / f_norm
                )
            self.steps_uphill_free += 1
            if self.steps_uphill_free > s.n_min:
                self.dt = min(self.dt * s.f_inc, s.dt_max)
                self.alpha *= s.f_alpha
        else:
            self.velocity[:] = 0.0
            self.dt *= s.f_dec
            self.alpha = s.alpha_start
            self.steps_uphill_free = 0
        self.velocity = self.velocity + self.dt * force
        displacement = self.dt * self.velocity
        lengths = np.linalg.norm(displacement, axis=-1)
        largest = float(lengths.max()) if lengths.size else 0.0
        if largest > s.max_step:
            displacement *= s.max_step / largest
        return displacement


@dataclass
class PathResult:
    """A converged (or stopped) band. images (M, N, 3) with the endpoints, energies (M,),
    forces (M, N, 3) (the true forces), climbing_index (NEB: the climbing image; string:
    the highest image), max_force (the largest per-particle norm of the optimised force at
    the end), calls (batched band calls made), steps, converged."""

    method: str
    images: np.ndarray
    energies: np.ndarray
    forces: np.ndarray
    climbing_index: int
    max_force: float
    calls: int
    steps: int
    converged: bool
    cell: np.ndarray | None = None
    history: list = field(default_factory=list)

    @property
    def barrier(self) -> float:
        """Highest image energy minus the initial image's."""
        return float(self.energies.max() - self.energies[0])

    @property
    def interpolated_barrier(self) -> float:
        """Maximum of the cubic (energy and tangential force) interpolation minus E[0]."""
        _, energy = path_profile(self)
        return float(energy.max() - self.energies[0])

    def summary(self) -> dict:
        return {
            "method": self.method,
            "images": int(len(self.images)),
            "barrier": self.barrier,
            "interpolated_barrier": self.interpolated_barrier,
            "reaction_energy": float(self.energies[-1] - self.energies[0]),
            "max_force": self.max_force,
            "calls": self.calls,
            "steps": self.steps,
            "converged": self.converged,
        }


def _differences(images: np.ndarray, cell) -> np.ndarray:
    """Minimum-image differences images[k + 1] - images[k], (M - 1, N, 3)."""
    steps = np.diff(images, axis=0)
    return steps if cell is None else minimum_image(steps, cell)


def unwrap(images, cell=None) -> np.ndarray:
    """Images made continuous: each one the previous plus the minimum-image difference."""
    images = np.asarray(images, np.float64)
    if cell is None:
        return images.copy()
    steps = _differences(images, cell)
    return np.concatenate([images[:1], images[:1] + np.cumsum(steps, axis=0)])


def _setup(initial, final, cell, pbc):
    initial = check_positions(initial, "initial").astype(np.float64)
    final = check_positions(final, "final").astype(np.float64)
    if initial.shape != final.shape:
        raise InputError(f"initial {initial.shape} and final {final.shape} differ in shape")
    periodic = check_pbc(pbc)
    if cell is None or not any(periodic):
        return initial, final, None
    if not all(periodic):
        raise InputError("paths need a fully periodic cell or none (pbc=False)")
    return initial, final, check_cell(cell, periodic)


def interpolate(initial, final, n_images: int, cell=None, pbc=True) -> np.ndarray:
    """n_images (>= 3, endpoints included) linearly interpolated images (M, N, 3) from
    `initial` to `final` (N, 3), the difference taken to the minimum image in a periodic
    `cell` (rows, length unit)."""
    initial, final, cell = _setup(initial, final, cell, pbc)
    n_images = _count(n_images, "n_images", 3)
    step = final - initial if cell is None else minimum_image(final - initial, cell)
    fractions = np.linspace(0.0, 1.0, n_images)[:, None, None]
    return initial[None] + fractions * step[None]


def _count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _call(band, positions: np.ndarray):
    energies, forces = band(positions)
    energies = np.asarray(energies, np.float64).reshape(-1)
    forces = np.asarray(forces, np.float64)
    if energies.shape != (len(positions),) or forces.shape != positions.shape:
        raise InputError(
            f"the band function must return energies ({len(positions)},) and forces "
            f"{positions.shape}, got {energies.shape} and {forces.shape}"
        )
    check_finite(energies, "band energies")
    check_finite(forces, "band forces")
    return energies, forces


def _tangents(images, energies, cell) -> np.ndarray:
    """Unit tangents (M, N, 3) of the band: Henkelman-Jonsson improved tangents inside,
    one-sided at the ends."""
    steps = _differences(images, cell)
    m = len(images)
    tangents = np.empty_like(images)
    tangents[0], tangents[-1] = steps[0], steps[-1]
    for k in range(1, m - 1):
        plus, minus = steps[k], steps[k - 1]
        up, down = energies[k + 1] - energies[k], energies[k] - energies[k - 1]
        if up > 0 and down > 0:
            tangents[k] = plus
        elif up < 0 and down < 0:
            tangents[k] = minus
        else:
            big = max(abs(up), abs(down))
            small = min(abs(up), abs(down))
            if energies[k + 1] > energies[k - 1]:
                tangents[k] = plus * big + minus * small
            else:
                tangents[k] = plus * small + minus * big
    norms = np.linalg.norm(tangents.reshape(m, -1), axis=1)
    return tangents / np.where(norms > 0, norms, 1.0)[:, None, None]


def _along(vectors, tangents):
    return np.einsum("mnk,mnk->m", vectors, tangents)


def _max_atom_force(force):
    return float(np.linalg.norm(force, axis=-1).max()) if force.size else 0.0


def _check_band_inputs(n_images, fmax, max_steps, spring=1.0):
    check_positive(fmax, "fmax")
    check_positive(spring, "spring")
    return _count(n_images, "n_images", 3), _count(max_steps, "max_steps", 1)


def neb(
    band,
    initial,
    final,
    n_images: int = 7,
    *,
    cell=None,
    pbc=True,
    spring: float = 0.1,
    climb: bool = True,
    climb_after: float | None = None,
    fmax: float = 0.01,
    max_steps: int = 2000,
    fire: FireSettings | None = None,
    images=None,
) -> PathResult:
    """Nudged elastic band (improved tangents; climbing image once the band's largest force
    is below `climb_after`, default 5 fmax) from `initial` to `final` (N, 3), fixed
    endpoints, n_images in all. band: (M, N, 3) -> (energies (M,), forces (M, N, 3)), called
    once with all images, then once per step with the M - 2 moving ones. spring: energy /
    length^2; fmax: convergence on the largest per-particle NEB force (energy / length);
    images: a starting band (M, N, 3) instead of the linear interpolation."""
    n_images, max_steps = _check_band_inputs(n_images, fmax, max_steps, spring)
    climb_after = 5.0 * fmax if climb_after is None else check_positive(climb_after, "climb")
    climbing = [False]

    def neb_force(band_images, energies, forces, cell):
        tangents = _tangents(band_images, energies, cell)[1:-1]
        steps = np.linalg.norm(_differences(band_images, cell).reshape(n_images - 1, -1), axis=1)
        parallel = _along(forces[1:-1], tangents)
        result = forces[1:-1] - parallel[:, None, None] * tangents
        result += (spring * (steps[1:] - steps[:-1]))[:, None, None] * tangents
        climbing[0] = climbing[0] or (climb and _max_atom_force(result) < climb_after)
        if climbing[0]:
            top = int(np.argmax(energies[1:-1]))
            result[top] = forces[top + 1] - 2.0 * parallel[top] * tangents[top]
        return result, climbing[0] or not climb

    return _optimise_band("neb", band, initial, final, n_images, cell, pbc, images, fmax,
                          max_steps, fire, neb_force, None)  # fmt: skip


def _optimise_band(method, band, initial, final, n_images, cell, pbc, images, fmax, max_steps,
                   fire, band_force, after_step) -> PathResult:  # fmt: skip
    """The FIRE loop shared by NEB and the string: one batched call for the whole band, then
    one per step for the moving images."""
    first, last, cell = _setup(initial, final, cell, pbc)
    band_images = _start(images, first, last, n_images, cell, pbc)
    energies, forces = _call(band, band_images)
    fire_state = _Fire.start(band_images[1:-1].shape, fire or FireSettings())
    calls, converged, history = 1, False, []
    for step in range(max_steps + 1):
        force, may_stop = band_force(band_images, energies, forces, cell)
        history.append(_max_atom_force(force))
        if history[-1] < fmax and may_stop:
            converged = True
            break
        if step == max_steps:
            break
        band_images[1:-1] += after_step[0](force) if after_step else fire_state.step(force)
        if after_step:
            band_images = after_step[1](band_images, cell)
        energies[1:-1], forces[1:-1] = _call(band, band_images[1:-1])
        calls += 1
    top = int(np.argmax(energies[1:-1])) + 1
    return PathResult(method, band_images, energies, forces, top, history[-1], calls, step,
                      converged, cell, history)  # fmt: skip


def _start(images, first, last, n_images, cell, pbc):
    if images is None:
        return interpolate(first, last, n_images, cell, pbc if cell is not None else False)
    images = np.array(images, dtype=np.float64)
    if images.shape != (n_images, *first.shape):
        raise InputError(f"images must have shape {(n_images, *first.shape)}, got {images.shape}")
    check_finite(images, "images")
    images[0], images[-1] = first, last
    return images


def reparametrise(images, cell=None) -> np.ndarray:
    """Images (M, N, 3) redistributed at equal arc length along the cubic spline through them
    (arc length from chord lengths, minimum image in a periodic cell); endpoints kept."""
    from scipy.interpolate import CubicSpline

    continuous = unwrap(images, cell)
    m = len(continuous)
    chords = np.linalg.norm(np.diff(continuous, axis=0).reshape(m - 1, -1), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(chords)])
    if arc[-1] == 0 or np.any(chords == 0):
        return continuous
    spline = CubicSpline(arc, continuous.reshape(m, -1), axis=0, bc_type="natural")
    moved = spline(np.linspace(0.0, arc[-1], m)).reshape(continuous.shape)
    moved[0], moved[-1] = continuous[0], continuous[-1]
    return moved


def string_method(
    band,
    initial,
    final,
    n_images: int = 11,
    *,
    cell=None,
    pbc=True,
    fmax: float = 0.01,
    max_steps: int = 2000,
    fire: FireSettings | None = None,
    optimizer: str = "fire",
    step_size: float = 0.01,
    images=None,
) -> PathResult:
    """Simplified string method (E, Ren and Vanden-Eijnden 2007) from `initial` to `final`:
    the moving images follow the force perpendicular to the string (FIRE, or steepest descent
    with `step_size` length^2 / energy for optimizer="sd"), then the string is reparametrised
    to equal arc length; endpoints fixed. One batched band call per step. Converged when the
    largest per-particle perpendicular force is below `fmax`. The images do not sit on the
    saddle: :attr:`PathResult.interpolated_barrier` estimates its energy."""
    n_images, max_steps = _check_band_inputs(n_images, fmax, max_steps)
    if optimizer not in ("fire", "sd"):
        raise InputError(f"optimizer must be 'fire' or 'sd', got {optimizer!r}")
    step_size = check_positive(step_size, "step_size")
    fire_state = _Fire.start((n_images - 2, *np.shape(initial)), fire or FireSettings())

    def perpendicular_force(band_images, energies, forces, cell):
        tangents = _tangents(band_images, energies, cell)[1:-1]
        inner = forces[1:-1]
        return inner - _along(inner, tangents)[:, None, None] * tangents, True

    def move(force):
        return fire_state.step(force) if optimizer == "fire" else step_size * force

    return _optimise_band("string", band, initial, final, n_images, cell, pbc, images, fmax,
                          max_steps, fire, perpendicular_force, (move, reparametrise))  # fmt: skip


def path_profile(result: PathResult, points_per_segment: int = 50):
    """(arc length (K,), energy (K,)) along the band by cubic Hermite interpolation between
    images from their energies and tangential forces (dE/ds = -F . tau)."""
    images, energies, cell = result.images, result.energies, result.cell
    tangents = _tangents(images, energies, cell)
    slopes = -_along(result.forces, tangents)
    lengths = np.linalg.norm(_differences(images, cell).reshape(len(images) - 1, -1), axis=1)
    t = np.linspace(0.0, 1.0, points_per_segment, endpoint=False)
    h00, h10 = 2 * t**3 - 3 * t**2 + 1, t**3 - 2 * t**2 + t
    h01, h11 = -2 * t**3 + 3 * t**2, t**3 - t**2
    arcs, values, start = [], [], 0.0
    for k, d in enumerate(lengths):
        values.append(
            h00 * energies[k]
            + h10 * d * slopes[k]
            + h01 * energies[k + 1]
            + h11 * d * slopes[k + 1]
        )
        arcs.append(start + t * d)
        start += d
    arcs.append([start])
    values.append([energies[-1]])
    return np.concatenate(arcs), np.concatenate(values)


def fire_relax(band, positions, *, fmax: float = 1e-3, max_steps: int = 5000, fire=None, mask=None):
    """Relax each structure of a batch positions (M, N, 3) (or one (N, 3)) with FIRE under
    the band function (one call per step for the whole batch) until the largest
    per-particle force is below fmax. mask: (N,) bools, True for particles held fixed.
    Returns (positions, energies (M,), forces, converged)."""
    check_positive(fmax, "fmax")
    max_steps = _count(max_steps, "max_steps", 1)
    x = np.array(positions, dtype=np.float64)
    single = x.ndim == 2
    if single:
        x = x[None]
    if x.ndim != 3 or x.shape[-1] != 3:
        raise InputError(f"positions must have shape (N, 3) or (M, N, 3), got {x.shape}")
    check_finite(x, "positions")
    free = np.ones(x.shape[1], bool) if mask is None else ~np.asarray(mask, bool)
    state = _Fire.start(x.shape, fire or FireSettings())
    energies, forces = _call(band, x)
    converged = False
    for _ in range(max_steps):
        moving = forces * free[None, :, None]
        if _max_atom_force(moving) < fmax:
            converged = True
            break
        x += state.step(moving)
        energies, forces = _call(band, x)
    converged = converged or _max_atom_force(forces * free[None, :, None]) < fmax
    if single:
        return x[0], energies, forces[0], converged
    return x, energies, forces, converged


def potential_band(potential, cell=None, types=None, pbc=True):
    """A band function of a pgnfast potential for systems sharing `cell`, `types`, `pbc`: a
    NequIP model (or ``pgnfast.Potential`` wrapping one) evaluates every image in one
    batched graph; any other potential with ``energy_forces`` is called image by image."""
    model = getattr(potential, "model", potential)
    if hasattr(model, "r_max") and hasattr(model, "num_types"):
        from ..nn.graph import build_graph

        device = next(model.parameters()).device
        backend = getattr(potential, "neighbor_backend", "auto")

        def batched(positions):
            if cell is not None:  # wrapped first: the CPU cell list misses pairs of atoms a
                positions = np.stack([wrap(x, cell, pbc)[0] for x in positions])  # hair outside
            systems = [(x, cell, types, pbc) for x in positions]
            graph = build_graph(
                systems,
                model.r_max,
                dtype=model.dtype,
                device=device,
                neighbor_backend=backend,
                num_types=model.num_types,
            )
            out = model(graph, compute_forces=True, create_graph=False)
            forces = out["forces"].detach().cpu().double().numpy().reshape(positions.shape)
            return out["energy"].detach().cpu().double().numpy(), forces

        batched.batched = True
        return batched
    if not hasattr(potential, "energy_forces"):
        raise InputError(f"{type(potential).__name__} has no energy_forces: not a potential")

    def looped(positions):
        results = [potential.energy_forces(x, cell, types, pbc) for x in positions]
        return np.array([e for e, _ in results]), np.stack([np.asarray(f) for _, f in results])

    looped.batched = False
    return looped


def ase_band(calculator, atoms):
    """A band function from an ASE `calculator` on copies of `atoms` (cell, pbc, numbers
    kept; positions replaced): one calculation per image (ASE has no batched call)."""
    template = atoms.copy()

    def looped(positions):
        energies, forces = [], []
        for x in positions:
            frame = template.copy()
            frame.positions = x
            frame.calc = calculator
            energies.append(frame.get_potential_energy())
            forces.append(frame.get_forces())
        return np.array(energies), np.stack(forces)

    looped.batched = False
    return looped


__all__ = [
    "FireSettings",
    "PathResult",
    "ase_band",
    "fire_relax",
    "interpolate",
    "neb",
    "path_profile",
    "potential_band",
    "reparametrise",
    "string_method",
    "unwrap",
]
