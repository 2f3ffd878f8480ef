"""Ridge regression on radial-density descriptors: the cheap baseline that tells how much of
the per-atom barrier the radial structure around an atom explains.

Descriptor of atom i (`radial_descriptors`): for each neighbour type t and each of
`n_centres` Gaussian centres mu_k evenly spaced in [r_min, r_max] (Angstrom; several
coordination shells), the smeared radial density sum over neighbours j of type t of
exp(-(r_ij - mu_k)^2 / (2 width^2)), with r_ij over every periodic image (pgnfast's cell
list; the minimum image whenever the box exceeds twice r_max + 4 width). The ridge design
(`design_matrix`) gives each centre type its own intercept and coefficients.

`RidgeModel.fit` solves (X^T X + lambda D) w = X^T y in closed form, X the standardised design
and D the identity except on the unpenalised intercept columns; `fit_ridge` chooses lambda on
validation data only (highest validation Pearson r, or lowest RMSE).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ....errors import InputError
from ....geometry import check_cell
from ....neighbors import neighbor_list
from ....train.metrics import pearson_r
from ....validation import check_finite, check_positions, check_positive, check_types

__all__ = [
    "RadialDescriptor",
    "RidgeModel",
    "design_matrix",
    "fit_ridge",
    "radial_descriptors",
]

N_TYPES = 2


@dataclass(frozen=True)
class RadialDescriptor:
    """Settings of the radial densities (Angstrom): Gaussian centres from r_min to r_max,
    n_centres of them, width (default: the spacing of the centres)."""

    r_min: float = 2.0
    r_max: float = 8.0
    n_centres: int = 25
    width: float | None = None

    def centres(self) -> np.ndarray:
        return np.linspace(self.r_min, self.r_max, self.n_centres)

    def sigma(self) -> float:
        if self.width is not None:
            return check_positive(self.width, "width")
        return (self.r_max - self.r_min) / max(self.n_centres - 1, 1)

    @property
    def n_features(self) -> int:
        return N_TYPES * self.n_centres


def radial_descriptors(positions, types, cell, settings: RadialDescriptor = RadialDescriptor()):
    """(N, 2 * n_centres) radial densities per neighbour type (Cu columns first), for
    positions (N, 3) Angstrom, types (N,) in {0, 1}, cell (3, 3) or (3,) box lengths
    (periodic). Exactly invariant under rotations, reflections, translations, and
    equivariant under permutations (rows follow the atoms)."""
    positions = check_positions(positions)
    n = positions.shape[0]
    types = check_types(types, n, N_TYPES)
    cell = check_cell(cell)
    check_positive(settings.r_min, "r_min", allow_zero=True)
    if not settings.r_max > settings.r_min:
        raise InputError(f"r_max must exceed r_min, got {settings.r_min}, {settings.r_max}")
    if isinstance(settings.n_centres, bool) or int(settings.n_centres) < 1:
        raise InputError(f"n_centres must be >= 1, got {settings.n_centres!r}")
    centres, sigma = settings.centres(), settings.sigma()
    pairs = neighbor_list(positions, cell, settings.r_max + 4.0 * sigma)
    gauss = np.exp(-0.5 * ((pairs.distances[:, None] - centres[None, :]) / sigma) ** 2)
    slot = pairs.i * N_TYPES + types[pairs.j]  # row of (atom, neighbour type)
    out = np.stack(
        [
            np.bincount(slot, weights=gauss[:, k], minlength=n * N_TYPES)
            for k in range(len(centres))
        ],
        axis=1,
    )
    return out.reshape(n, N_TYPES * len(centres))


def design_matrix(descriptors, types) -> tuple[np.ndarray, np.ndarray]:
    """The ridge design (N, 2 * (1 + F)): for each centre type, an indicator column
    (unpenalised intercept) and the descriptors masked to that type; and the (2 * (1 + F),)
    bool mask of penalised columns."""
    descriptors = np.asarray(descriptors, dtype=np.float64)
    if descriptors.ndim != 2:
        raise InputError(f"descriptors must be (N, F), got shape {descriptors.shape}")
    check_finite(descriptors, "descriptors")
    types = check_types(types, descriptors.shape[0], N_TYPES)
    blocks, penalised = [], []
    for t in range(N_TYPES):
        mask = (types == t)[:, None].astype(np.float64)
        blocks += [mask, descriptors * mask]
        penalised += [False] + [True] * descriptors.shape[1]
    return np.hstack(blocks), np.array(penalised)


@dataclass
class RidgeModel:
    """Closed-form ridge regression with standardised penalised columns and unpenalised
    intercept columns. After `fit`: coefficients (P,) on the raw design, lam."""

    lam: float = 1.0
    coefficients: np.ndarray | None = None
    column_scale: np.ndarray | None = field(default=None, repr=False)

    def fit(self, design, labels, penalised) -> RidgeModel:
        """Fit on design (N, P), labels (N,) eV, penalised (P,) bool. Penalised columns are
        scaled to unit standard deviation (constant ones left as they are) so lambda acts on
        all alike; the intercept columns are not penalised."""
        design, labels, penalised = _check_fit(design, labels, penalised)
        lam = check_positive(self.lam, "lam", allow_zero=True)
        scale = design.std(axis=0)
        scale = np.where(penalised & (scale > 0), scale, 1.0)
        scaled = design / scale
        gram = scaled.T @ scaled + lam * np.diag(penalised.astype(np.float64))
        rhs = scaled.T @ labels
        try:
            solution = np.linalg.solve(gram, rhs)
        except np.linalg.LinAlgError:
            solution = np.linalg.lstsq(gram, rhs, rcond=None)[0]
        self.coefficients = solution / scale
        self.column_scale = scale
        return self

    def predict(self, design) -> np.ndarray:
        """(N,) eV."""
        if self.coefficients is None:
            raise InputError("RidgeModel.predict before fit")
        design = np.asarray(design, dtype=np.float64)
        if design.ndim != 2 or design.shape[1] != self.coefficients.shape[0]:
            raise InputError(
                f"design must have {self.coefficients.shape[0]} columns, got shape {design.shape}"
            )
        return design @ self.coefficients


def _check_fit(design, labels, penalised):
    design = np.asarray(design, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    penalised = np.asarray(penalised, dtype=bool)
    if design.ndim != 2 or labels.shape != (design.shape[0],):
        raise InputError(
            f"design (N, P) and labels (N,) must agree, got {design.shape} and {labels.shape}"
        )
    if penalised.shape != (design.shape[1],):
        raise InputError(f"penalised must have shape ({design.shape[1]},), got {penalised.shape}")
    check_finite(design, "design")
    check_finite(labels, "labels")
    return design, labels, penalised


def fit_ridge(
    train_design,
    train_labels,
    validation_design,
    validation_labels,
    penalised,
    lambdas,
    criterion: str = "pearson_r",
) -> tuple[RidgeModel, list[dict]]:
    """Fit one RidgeModel per lambda on the training rows and keep the best on the
    validation rows (validation data choose lambda; training data fit w): criterion
    "pearson_r" (highest r, the benchmark's measure; insensitive to the offsets between
    glasses' mean barriers) or "rmse" (lowest). Returns (best model, [{"lambda",
    "validation_rmse", "validation_pearson_r"} ...])."""
    if criterion not in ("pearson_r", "rmse"):
        raise InputError(f"criterion must be 'pearson_r' or 'rmse', got {criterion!r}")
    lambdas = [check_positive(x, "lambda", allow_zero=True) for x in lambdas]
    if not lambdas:
        raise InputError("fit_ridge needs at least one lambda")
    validation_labels = np.asarray(validation_labels, dtype=np.float64)
    scan, best, best_score = [], None, -np.inf
    for lam in lambdas:
        model = RidgeModel(lam).fit(train_design, train_labels, penalised)
        predicted = model.predict(validation_design)
        rmse = float(np.sqrt(np.mean((predicted - validation_labels) ** 2)))
        r = pearson_r(predicted, validation_labels)
        scan.append({"lambda": lam, "validation_rmse": rmse, "validation_pearson_r": r})
        score = -rmse if criterion == "rmse" else (r if np.isfinite(r) else -np.inf)
        if best is None or score > best_score:
            best, best_score = model, score
    return best, scan
