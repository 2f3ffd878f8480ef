"""What per-atom explanations show, measured (issue 16): where the important edges lie (hops
and Euclidean distance from the explained atom, against every atom of its receptive field)
and how many one-dimensional cycles their atoms form (persistent homology of the Rips
complex under minimum-image distances, ripser or gudhi), against random edge sets of the
same size drawn from the same receptive field, with an empirical p-value.

Graphs are pgnfast's: edge e carries senders[e] -> receivers[e]; lengths in the unit of the
positions (Angstrom for glasses). Plain numpy in and out; no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InputError
from ...geometry import check_cell, minimum_image
from ...validation import check_indices, check_positions, check_positive

__all__ = [
    "ReceptiveField",
    "analyse_atom",
    "analyse_explanations",
    "count_h1_cycles",
    "edge_atoms",
    "empirical_p_value",
    "edge_strata",
    "h1_bars",
    "h1_matched_null_counts",
    "h1_null_counts",
    "hop_distances",
    "important_edges",
    "minimum_image_distances",
    "plot_h1",
    "plot_locations",
    "receptive_field",
    "summarise",
]

LIBRARIES = ("ripser", "gudhi")


def _edges(senders, receivers, num_nodes: int):
    senders = check_indices(np.asarray(senders), num_nodes, "senders")
    receivers = check_indices(np.asarray(receivers), num_nodes, "receivers", len(senders))
    return senders, receivers


def hop_distances(senders, receivers, num_nodes: int, source: int, max_hops: int) -> np.ndarray:
    """(num_nodes,) int64: the fewest message-passing steps (edges followed from sender to
    receiver) that carry a node's features to `source`, or -1 beyond max_hops."""
    senders, receivers = _edges(senders, receivers, num_nodes)
    if not 0 <= int(source) < num_nodes:
        raise InputError(f"source atom {source} out of range [0, {num_nodes})")
    if int(max_hops) < 0:
        raise InputError(f"max_hops must be >= 0, got {max_hops}")
    hops = np.full(num_nodes, -1, np.int64)
    hops[source] = 0
    frontier = np.zeros(num_nodes, bool)
    frontier[source] = True
    for step in range(1, int(max_hops) + 1):
        reached = np.zeros(num_nodes, bool)
        reached[senders[frontier[receivers]]] = True
        reached &= hops < 0
        if not reached.any():
            break
        hops[reached] = step
        frontier = reached
    return hops


@dataclass(frozen=True)
class ReceptiveField:
    """What a num_layers message-passing model's output at `atom` can depend on. nodes (M,)
    atoms within num_layers hops (sorted); hops (M,) their hop distances; edges (K,) indices
    of the edges whose receiver lies within num_layers - 1 hops (sorted)."""

    atom: int
    nodes: np.ndarray
    hops: np.ndarray
    edges: np.ndarray


def receptive_field(senders, receivers, num_nodes: int, atom: int, num_layers: int):
    """The ReceptiveField of `atom` for a model of num_layers message-passing layers."""
    if int(num_layers) < 1:
        raise InputError(f"num_layers must be >= 1, got {num_layers}")
    hops = hop_distances(senders, receivers, num_nodes, atom, num_layers)
    nodes = np.flatnonzero(hops >= 0)
    receiver_hops = hops[np.asarray(receivers, np.int64)]
    edges = np.flatnonzero((receiver_hops >= 0) & (receiver_hops < num_layers))
    return ReceptiveField(int(atom), nodes, hops[nodes], edges)


def important_edges(edge_mask, top_k: int) -> np.ndarray:
    """Positions of the top_k largest entries of edge_mask (ties: lower position first)."""
    edge_mask = np.asarray(edge_mask, np.float64)
    if edge_mask.ndim != 1:
        raise InputError(f"edge_mask must have shape (K,), got {edge_mask.shape}")
    if not 1 <= int(top_k) <= len(edge_mask):
        raise InputError(f"top_k must lie in [1, {len(edge_mask)}] (edges given), got {top_k}")
    return np.sort(np.argsort(-edge_mask, kind="stable")[: int(top_k)])


def edge_atoms(senders, receivers, edges) -> np.ndarray:
    """The atoms (sorted, unique) at either end of the given edges."""
    edges = np.asarray(edges, np.int64)
    return np.unique(np.concatenate([np.asarray(senders)[edges], np.asarray(receivers)[edges]]))


def minimum_image_distances(positions, cell) -> np.ndarray:
    """(n, n) pairwise distances under the minimum image of a fully periodic cell (3, 3);
    cell None: plain Euclidean distances."""
    positions = check_positions(positions)
    vectors = positions[None, :, :] - positions[:, None, :]
    if cell is not None:
        vectors = minimum_image(vectors, check_cell(cell))
    return np.linalg.norm(vectors, axis=-1)


def h1_bars(positions, cell=None, *, library: str = "ripser") -> np.ndarray:
    """(B, 2) births and deaths (length unit) of the one-dimensional persistent homology of
    the Vietoris-Rips filtration of the points under minimum-image distances."""
    if library not in LIBRARIES:
        raise InputError(f"unknown library {library!r}; choose one of {LIBRARIES}")
    distances = minimum_image_distances(positions, cell)
    if len(distances) < 3:
        return np.zeros((0, 2))
    if library == "ripser":
        from ripser import ripser

        bars = ripser(distances, maxdim=1, distance_matrix=True)["dgms"][1]
    else:
        import gudhi

        complex_ = gudhi.RipsComplex(distance_matrix=distances, max_edge_length=np.inf)
        tree = complex_.create_simplex_tree(max_dimension=2)
        tree.compute_persistence()
        bars = tree.persistence_intervals_in_dimension(1)
    bars = np.asarray(bars, np.float64).reshape(-1, 2)
    return bars[np.argsort(bars[:, 0] - bars[:, 1], kind="stable")]


def count_h1_cycles(positions, cell=None, *, min_persistence: float, library="ripser") -> int:
    """Number of one-dimensional cycles of the points: H1 bars that live longer than
    min_persistence (length unit)."""
    check_positive(min_persistence, "min_persistence")
    bars = h1_bars(positions, cell, library=library)
    return int(((bars[:, 1] - bars[:, 0]) > min_persistence).sum())


def empirical_p_value(observed: float, null, alternative: str = "greater") -> float:
    """(1 + #{null values at least as extreme as observed}) / (1 + number of draws):
    "greater" counts null >= observed, "less" null <= observed."""
    null = np.asarray(null, np.float64).ravel()
    if null.size == 0:
        raise InputError("the null distribution holds no draws")
    if alternative == "greater":
        extreme = null >= observed
    elif alternative == "less":
        extreme = null <= observed
    else:
        raise InputError(f"alternative must be 'greater' or 'less', got {alternative!r}")
    return float((1 + extreme.sum()) / (1 + null.size))


def h1_null_counts(
    positions,
    cell,
    senders,
    receivers,
    field_edges,
    size: int,
    draws: int,
    rng: np.random.Generator,
    *,
    min_persistence: float,
    library: str = "ripser",
) -> np.ndarray:
    """(draws,) H1 cycle counts of the atoms of `size` edges drawn uniformly without
    replacement from field_edges (edge indices), one draw at a time from rng."""
    field_edges = np.asarray(field_edges, np.int64)
    if not 1 <= int(size) <= len(field_edges):
        raise InputError(f"size must lie in [1, {len(field_edges)}] (field edges), got {size}")
    if int(draws) < 1:
        raise InputError(f"draws must be >= 1, got {draws}")
    one_stratum = np.zeros(len(field_edges), np.int64)
    return h1_matched_null_counts(
        positions,
        cell,
        senders,
        receivers,
        field_edges,
        one_stratum,
        one_stratum[: int(size)],
        draws,
        rng,
        min_persistence=min_persistence,
        library=library,
    )


def edge_strata(field: ReceptiveField, senders, receivers) -> np.ndarray:
    """(K,) the locality stratum of each receptive-field edge: its receiver's and its
    sender's hop distances from the explained atom, encoded as one integer."""
    senders = np.asarray(senders, np.int64)[field.edges]
    receivers = np.asarray(receivers, np.int64)[field.edges]
    lookup = np.full(int(max(field.nodes.max(), senders.max(), receivers.max())) + 1, -1)
    lookup[field.nodes] = field.hops
    sender_hops, receiver_hops = lookup[senders], lookup[receivers]
    if (sender_hops < 0).any() or (receiver_hops < 0).any():
        raise InputError("the receptive field's edges must join atoms of the field")
    return receiver_hops * (int(field.hops.max()) + 1) + sender_hops


def h1_matched_null_counts(
    positions,
    cell,
    senders,
    receivers,
    field_edges,
    field_strata,
    chosen_strata,
    draws: int,
    rng: np.random.Generator,
    *,
    min_persistence: float,
    library: str = "ripser",
) -> np.ndarray:
    """(draws,) H1 cycle counts of random edge sets matched in locality: each draw takes,
    for every stratum (field_strata (K,), aligned with field_edges), as many field edges of
    that stratum, uniformly without replacement, as chosen_strata (the important edges'
    strata) holds."""
    field_edges = np.asarray(field_edges, np.int64)
    field_strata = np.asarray(field_strata, np.int64)
    if field_strata.shape != field_edges.shape:
        raise InputError(
            f"field_strata must have one entry per field edge {field_edges.shape}, got "
            f"{field_strata.shape}"
        )
    if int(draws) < 1:
        raise InputError(f"draws must be >= 1, got {draws}")
    wanted = dict(zip(*np.unique(np.asarray(chosen_strata, np.int64), return_counts=True)))
    pools = {int(k): field_edges[field_strata == k] for k in wanted}
    for stratum, count in wanted.items():
        if count > len(pools[int(stratum)]):
            raise InputError(
                f"stratum {stratum} asks for {count} edges but the field holds "
                f"{len(pools[int(stratum)])}"
            )
    counts = np.empty(int(draws), np.int64)
    for k in range(int(draws)):
        chosen = np.concatenate(
            [rng.choice(pools[int(t)], size=int(c), replace=False) for t, c in wanted.items()]
        )
        atoms = edge_atoms(senders, receivers, chosen)
        counts[k] = count_h1_cycles(
            positions[atoms], cell, min_persistence=min_persistence, library=library
        )
    return counts


def analyse_atom(
    field: ReceptiveField,
    edge_mask,
    positions,
    cell,
    senders,
    receivers,
    *,
    top_k: int,
    draws: int,
    rng: np.random.Generator,
    distance_bins,
    min_persistence: float,
    library: str = "ripser",
) -> dict:
    """The measurements of one explained atom (JSON-ready). edge_mask (K,) is aligned with
    field.edges; the important edges are its top_k. Hop counts per hop 0..max and distance
    histograms over distance_bins (length unit) of the important edges' atoms and of every
    atom of the receptive field; the H1 cycle count of the important edges' atoms, of
    `draws` random sets of top_k field edges (uniform), and of `draws` random sets matched
    to the important edges' locality (edge_strata: the same number of edges per pair of
    receiver and sender hops), with one-sided p-values (more cycles) against each null."""
    edge_mask = np.asarray(edge_mask, np.float64)
    if edge_mask.shape != field.edges.shape:
        raise InputError(
            f"edge_mask must have one entry per receptive-field edge {field.edges.shape}, got "
            f"{edge_mask.shape}"
        )
    positions = check_positions(positions)
    picked = important_edges(edge_mask, top_k)
    chosen = field.edges[picked]
    strata = edge_strata(field, senders, receivers)
    atoms = edge_atoms(senders, receivers, chosen)
    hop_of = dict(zip(field.nodes.tolist(), field.hops.tolist()))
    max_hop = int(field.hops.max())
    vectors = positions[field.nodes] - positions[field.atom]
    if cell is not None:
        vectors = minimum_image(vectors, check_cell(cell))
    distance_of = dict(zip(field.nodes.tolist(), np.linalg.norm(vectors, axis=1).tolist()))
    important_hops = np.array([hop_of[a] for a in atoms.tolist()])
    important_distances = np.array([distance_of[a] for a in atoms.tolist()])
    observed = count_h1_cycles(
        positions[atoms], cell, min_persistence=min_persistence, library=library
    )
    null = h1_null_counts(
        positions,
        cell,
        senders,
        receivers,
        field.edges,
        len(chosen),
        draws,
        rng,
        min_persistence=min_persistence,
        library=library,
    )
    matched = h1_matched_null_counts(
        positions,
        cell,
        senders,
        receivers,
        field.edges,
        strata,
        strata[picked],
        draws,
        rng,
        min_persistence=min_persistence,
        library=library,
    )
    return {
        "atom": field.atom,
        "field_atoms": len(field.nodes),
        "field_edges": len(field.edges),
        "important_edges": chosen.tolist(),
        "important_atoms": len(atoms),
        "hops_important": np.bincount(important_hops, minlength=max_hop + 1).tolist(),
        "hops_field": np.bincount(field.hops, minlength=max_hop + 1).tolist(),
        "distances_important": np.histogram(important_distances, distance_bins)[0].tolist(),
        "distances_field": np.histogram(list(distance_of.values()), distance_bins)[0].tolist(),
        "mean_hop_important": float(important_hops.mean()),
        "mean_hop_field": float(field.hops.mean()),
        "mean_distance_important": float(important_distances.mean()),
        "mean_distance_field": float(np.mean(list(distance_of.values()))),
        "h1_important": observed,
        "h1_null": null.tolist(),
        "h1_p_value": empirical_p_value(observed, null),
        "h1_null_matched": matched.tolist(),
        "h1_p_value_matched": empirical_p_value(observed, matched),
        "h1_p_value_matched_fewer": empirical_p_value(observed, matched, "less"),
    }


def _fractions(rows, key: str) -> list:
    width = max(len(row[key]) for row in rows)
    total = np.zeros(width)
    for row in rows:
        total[: len(row[key])] += row[key]
    return (total / max(total.sum(), 1)).tolist()


def summarise(rows: list, distance_bins) -> dict:
    """Pooled measurements of analysed atoms (analyse_atom rows, equal draw counts): hop and
    distance fractions of important and of all field atoms, the mean H1 count of the
    important edges against the mean over atoms of each null draw, and its p-value."""
    if not rows:
        raise InputError("no analysed atoms to summarise")
    observed = float(np.mean([row["h1_important"] for row in rows]))
    null_means = np.mean([row["h1_null"] for row in rows], axis=0)
    matched_means = np.mean([row["h1_null_matched"] for row in rows], axis=0)
    return {
        "atoms": len(rows),
        "distance_bins": [float(x) for x in distance_bins],
        "hop_fractions_important": _fractions(rows, "hops_important"),
        "hop_fractions_field": _fractions(rows, "hops_field"),
        "distance_fractions_important": _fractions(rows, "distances_important"),
        "distance_fractions_field": _fractions(rows, "distances_field"),
        "mean_hop_important": float(np.mean([row["mean_hop_important"] for row in rows])),
        "mean_hop_field": float(np.mean([row["mean_hop_field"] for row in rows])),
        "mean_distance_important": float(np.mean([row["mean_distance_important"] for row in rows])),
        "mean_distance_field": float(np.mean([row["mean_distance_field"] for row in rows])),
        "h1_important_mean": observed,
        "h1_null_means": null_means.tolist(),
        "h1_null_mean": float(null_means.mean()),
        "h1_p_value": empirical_p_value(observed, null_means),
        "h1_null_matched_means": matched_means.tolist(),
        "h1_null_matched_mean": float(matched_means.mean()),
        "h1_p_value_matched": empirical_p_value(observed, matched_means),
        "h1_p_value_matched_fewer": empirical_p_value(observed, matched_means, "less"),
    }


def analyse_explanations(
    explanations,
    positions,
    cell,
    senders,
    receivers,
    *,
    top_k: int,
    draws: int,
    distance_bins,
    min_persistence: float,
    seed: int = 0,
    library: str = "ripser",
    progress: bool = False,
) -> tuple[list, dict]:
    """(rows, summary): analyse_atom for each explanation (anything with .field, a
    ReceptiveField, and .edge_mask aligned with its edges; top_k capped at the field's
    edges; null draws from a generator seeded by (seed, atom)) and their summarise."""
    rows = []
    iterator = explanations
    if progress:
        from tqdm import tqdm

        iterator = tqdm(explanations, desc="topology of explanations")
    for explanation in iterator:
        field = explanation.field
        rng = np.random.default_rng([int(seed), int(field.atom)])
        rows.append(
            analyse_atom(
                field,
                explanation.edge_mask,
                positions,
                cell,
                senders,
                receivers,
                top_k=min(int(top_k), len(field.edges)),
                draws=draws,
                rng=rng,
                distance_bins=distance_bins,
                min_persistence=min_persistence,
                library=library,
            )
        )
    return rows, summarise(rows, distance_bins)


def plot_locations(summary: dict, path, length_unit: str = "Angstrom") -> None:
    """PNG: fractions of important and of all receptive-field atoms per hop and per
    distance bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    hops = np.arange(len(summary["hop_fractions_field"]))
    left.bar(hops - 0.2, summary["hop_fractions_field"], 0.4, label="receptive field")
    left.bar(hops + 0.2, summary["hop_fractions_important"], 0.4, label="important edges' atoms")
    left.set(xlabel="hops from the explained atom", ylabel="fraction of atoms", xticks=hops)
    left.legend()
    bins = np.asarray(summary["distance_bins"])
    for key, label in (("field", "receptive field"), ("important", "important edges' atoms")):
        right.stairs(summary[f"distance_fractions_{key}"], bins, label=label)
    right.set(xlabel=f"distance from the explained atom ({length_unit})", ylabel="fraction")
    right.legend()
    figure.suptitle(f"where the important edges lie ({summary['atoms']} explained atoms)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_h1(rows: list, summary: dict, path) -> None:
    """PNG: H1 cycle counts of each atom's important edges against its random edge sets,
    and the pooled mean against the null distribution of the mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    index = np.arange(len(rows))
    for key, offset, label in (
        ("h1_null", -0.15, "random edge sets, uniform (mean, std)"),
        ("h1_null_matched", 0.15, "random edge sets, locality-matched (mean, std)"),
    ):
        nulls = [np.asarray(row[key]) for row in rows]
        left.errorbar(
            index + offset,
            [n.mean() for n in nulls],
            yerr=[n.std() for n in nulls],
            fmt="o",
            label=label,
        )
    left.plot(index, [row["h1_important"] for row in rows], "r*", label="important edges")
    left.set(xlabel="explained atom", ylabel="H1 cycles", xticks=index)
    left.legend(fontsize=7)
    right.hist(summary["h1_null_means"], bins=20, alpha=0.6, label="uniform null")
    right.hist(summary["h1_null_matched_means"], bins=20, alpha=0.6, label="locality-matched null")
    right.axvline(summary["h1_important_mean"], color="r", label="important edges")
    right.set(
        xlabel="mean H1 cycles per atom (per draw, over atoms)",
        ylabel="draws",
        title=f"p (more cycles): uniform {summary['h1_p_value']:.3g}, "
        f"matched {summary['h1_p_value_matched']:.3g}",
    )
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
