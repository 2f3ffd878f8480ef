"""The glass-barrier baselines (SymGNN, SchNet, ridge on radial densities): they learn a
known function of the local structure on synthetic glasses, their symmetries (exact for
SchNet and ridge, in expectation for SymGNN), the orthogonal sampler, the ridge solve
against numpy's least squares, subgraphs, checkpoints and an explainer over SymGNN."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("torch_geometric")

from pgnfast.errors import FileFormatError  # noqa: E402
from pgnfast.geometry import minimum_image  # noqa: E402
from pgnfast.systems.glass.baselines import (  # noqa: E402
    OrthogonalSampler,
    RadialDescriptor,
    RidgeModel,
    SchNetNode,
    SymGNN,
    TrainConfig,
    batch_graphs,
    design_matrix,
    evaluate_predictions,
    fit_model,
    fit_ridge,
    graph_from_arrays,
    predict,
    radial_descriptors,
    subgraph_around,
)

CUTOFF = 4.0


def jittered_glass(rng, cells: int = 4, spacing: float = 2.7, jitter: float = 0.35):
    """A random two-type packing: a cubic lattice of cells^3 sites, jittered, types drawn
    64:36, in a periodic cubic box (Angstrom). Returns (positions, types, box lengths)."""
    grid = np.stack(np.meshgrid(*[np.arange(cells)] * 3, indexing="ij"), -1).reshape(-1, 3)
    positions = (grid + 0.5) * spacing + rng.normal(0.0, jitter, grid.shape)
    types = (rng.random(len(grid)) < 0.36).astype(np.int64)
    box = np.full(3, cells * spacing)
    return positions % box, types, box


def structure_label(positions, types, box):
    """A known function of local structure (eV): weighted neighbour counts in two shells
    within CUTOFF, Zr neighbours weighing double, plus a small type offset."""
    diff = positions[None, :, :] - positions[:, None, :]
    diff = minimum_image(diff, np.diag(box))
    distance = np.linalg.norm(diff, axis=-1)
    np.fill_diagonal(distance, np.inf)
    weight = 1.0 + types[None, :]
    first = np.exp(-(((distance - 2.6) / 0.35) ** 2)) * weight
    second = np.exp(-(((distance - 3.6) / 0.3) ** 2)) * weight
    return 0.25 * first.sum(1) - 0.15 * second.sum(1) + 0.05 * types


def labelled_graphs(rng, count: int, cells: int = 4):
    graphs = []
    for k in range(count):
        positions, types, box = jittered_glass(rng, cells)
        labels = structure_label(positions, types, box)
        graphs.append(graph_from_arrays(positions, types, box, CUTOFF, labels, f"g{k}"))
    return graphs


def no_structure_r(labels, types) -> float:
    """Pearson r of the best structure-blind predictor (the per-type mean of the labels)."""
    labels, types = np.asarray(labels), np.asarray(types)
    means = np.array([labels[types == t].mean() for t in (0, 1)])
    return float(np.corrcoef(means[types], labels)[0, 1])


def random_orthogonal(rng, proper: bool = False) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if proper and np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def transformed_graph(positions, types, box, rotation, shift, order):
    """The glass rotated (rows of the cell too), translated and permuted, in float64."""
    cell = np.diag(box) @ rotation.T
    moved = (positions @ rotation.T + shift)[order]
    return graph_from_arrays(moved, types[order], cell, CUTOFF, dtype=torch.float64)


# -- ridge -------------------------------------------------------------------------------


def test_ridge_matches_numpy_lstsq(rng):
    n, f = 60, 7
    types = rng.integers(0, 2, n)
    descriptors = rng.normal(size=(n, f)) * rng.uniform(0.1, 10.0, f)
    design, penalised = design_matrix(descriptors, types)
    labels = rng.normal(size=n)
    lam = float(rng.uniform(0.1, 5.0))
    model = RidgeModel(lam).fit(design, labels, penalised)
    # reference: minimise |X w - y|^2 + lam sum_penalised (std_k w_k)^2 by least squares on
    # the augmented system
    scale = np.where(penalised, design.std(axis=0), 0.0)
    augmented = np.vstack([design, np.sqrt(lam) * np.diag(scale)])
    target = np.concatenate([labels, np.zeros(design.shape[1])])
    reference = np.linalg.lstsq(augmented, target, rcond=None)[0]
    np.testing.assert_allclose(model.coefficients, reference, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.predict(design), design @ reference, rtol=1e-8, atol=1e-10)


def test_fit_ridge_chooses_lambda_on_validation_only(rng):
    n, f = 80, 5
    types = rng.integers(0, 2, 2 * n)
    x = rng.normal(size=(2 * n, f))
    y = x @ rng.normal(size=f) + rng.normal(0.0, 1.0, 2 * n)
    design, penalised = design_matrix(x, types)
    lambdas = [0.01, 1.0, 30.0, 1000.0]
    for criterion in ("rmse", "pearson_r"):
        best, scan = fit_ridge(design[:n], y[:n], design[n:], y[n:], penalised, lambdas, criterion)
        rmses = [row["validation_rmse"] for row in scan]
        rs = [row["validation_pearson_r"] for row in scan]
        assert best.lam == lambdas[int(np.argmin(rmses) if criterion == "rmse" else np.argmax(rs))]
        refit = RidgeModel(best.lam).fit(design[:n], y[:n], penalised)
        np.testing.assert_array_equal(best.coefficients, refit.coefficients)


def test_radial_descriptors_match_brute_force_minimum_image(rng):
    positions, types, box = jittered_glass(rng, cells=6)
    settings = RadialDescriptor(r_min=2.0, r_max=5.0, n_centres=7, width=0.5)
    fast = radial_descriptors(positions, types, box, settings)
    diff = minimum_image(positions[None] - positions[:, None], np.diag(box))
    distance = np.linalg.norm(diff, axis=-1)
    np.fill_diagonal(distance, np.inf)
    reach = settings.r_max + 4 * settings.sigma()
    assert box.min() > 2 * reach  # the minimum image is every image within reach
    gauss = np.exp(-0.5 * ((distance[..., None] - settings.centres()) / 0.5) ** 2)
    gauss[distance >= reach] = 0.0
    reference = np.concatenate([gauss[:, types == t].sum(1) for t in (0, 1)], axis=1)
    np.testing.assert_allclose(fast, reference, rtol=1e-10, atol=1e-12)


def test_radial_descriptors_exactly_invariant(rng):
    positions, types, box = jittered_glass(rng, cells=4)
    settings = RadialDescriptor(r_max=5.0, n_centres=9)
    base = radial_descriptors(positions, types, box, settings)
    rotation = random_orthogonal(rng)
    order = rng.permutation(len(types))
    moved = (positions @ rotation.T + rng.normal(0, 5, 3))[order]
    other = radial_descriptors(moved, types[order], np.diag(box) @ rotation.T, settings)
    np.testing.assert_allclose(other, base[order], rtol=1e-9, atol=1e-10)


# -- SchNet and SymGNN symmetries --------------------------------------------------------


def test_schnet_exactly_invariant_and_subgraphs_exact(rng):
    torch.manual_seed(int(rng.integers(2**31)))
    positions, types, box = jittered_glass(rng, cells=3)
    model = SchNetNode(hidden=16, filters=16, interactions=2, gaussians=12, cutoff=CUTOFF)
    model = model.double().eval()
    identity = np.arange(len(types))
    base = predict(model, transformed_graph(positions, types, box, np.eye(3), 0.0, identity))
    rotation = random_orthogonal(rng)  # a reflection half of the time
    order = rng.permutation(len(types))
    graph = transformed_graph(positions, types, box, rotation, rng.normal(0, 3, 3), order)
    np.testing.assert_allclose(predict(model, graph), base[order], rtol=1e-9, atol=1e-10)
    # the receptive-field subgraph predicts its centres exactly as the whole glass
    centres = rng.choice(len(types), 3, replace=False)
    sub = subgraph_around(graph, centres, model.receptive_hops)
    part = predict(model, sub)[sub.centres.numpy()]
    np.testing.assert_allclose(np.sort(part), np.sort(base[order][centres]), rtol=1e-10)


def small_symgnn(**changes) -> SymGNN:
    settings = dict(
        hidden=16, head_width=4, num_samples=1, eval_samples=1, cutoff=CUTOFF, dropout=0.0
    )
    settings.update(changes)
    return SymGNN(**settings)


def test_symgnn_equivariant_sampler_exact_under_rotation_for_the_same_noise(rng):
    torch.manual_seed(int(rng.integers(2**31)))
    positions, types, box = jittered_glass(rng, cells=3)
    model = small_symgnn().double().eval()
    identity = np.arange(len(types))
    base = transformed_graph(positions, types, box, np.eye(3), 0.0, identity)
    moved = transformed_graph(
        positions, types, box, random_orthogonal(rng), rng.normal(0, 3, 3), identity
    )
    # same atom order, same seed: the sampled frames follow the glass, outputs agree
    np.testing.assert_allclose(
        predict(model, moved, seed=7), predict(model, base, seed=7), rtol=1e-8, atol=1e-9
    )


@pytest.mark.parametrize("reflect", [False, True])
def test_symgnn_invariant_in_expectation_not_per_sample(rng, reflect):
    torch.manual_seed(int(rng.integers(2**31)))
    positions, types, box = jittered_glass(rng, cells=3)
    model = small_symgnn(reflections=reflect).double().eval()
    identity = np.arange(len(types))
    order = rng.permutation(len(types))
    rotation = random_orthogonal(rng, proper=not reflect)
    base = transformed_graph(positions, types, box, np.eye(3), 0.0, identity)
    moved = transformed_graph(positions, types, box, rotation, rng.normal(0, 3, 3), order)
    one = np.abs(predict(model, moved, 1, seed=0) - predict(model, base, 1, seed=10**6)[order])
    many = 128
    averaged = np.abs(
        predict(model, moved, many, seed=0) - predict(model, base, many, seed=10**6)[order]
    )
    assert one.mean() > 0  # a single sample is not invariant under the permutation
    # the spread of the sample mean shrinks as 1/sqrt(M): about 1/11 here, asked below 1/4
    assert averaged.mean() < 0.25 * one.mean()


def test_orthogonal_samplers_orthogonal_both_determinants_and_gradients(rng):
    positions, types, box = jittered_glass(rng, cells=3)
    graph = graph_from_arrays(positions, types, box, CUTOFF, dtype=torch.float64)
    direction = torch.as_tensor(rng.normal(size=3))
    for mode in ("equivariant", "free"):
        for reflections in (True, False):
            sampler = OrthogonalSampler(mode, reflections, CUTOFF).double()
            generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
            matrices, weights = sampler.sample(
                64, graph.edge_index, graph.edge_vectors, graph.types, None, 1, generator
            )
            q = matrices[:, 0]
            eye = torch.eye(3, dtype=q.dtype).expand_as(q)
            torch.testing.assert_close(q @ q.transpose(1, 2), eye, rtol=0, atol=1e-10)
            determinants = torch.linalg.det(q)
            torch.testing.assert_close(determinants.abs(), torch.ones_like(determinants))
            signs = set(torch.sign(determinants).round().tolist())
            assert signs == ({-1.0, 1.0} if reflections else {1.0}), (mode, reflections)
            torch.testing.assert_close(weights.sum(), torch.ones((), dtype=weights.dtype))
            loss = (weights * torch.tanh(q @ direction).sum(-1)).sum()
            parameters = list(sampler.parameters())
            gradients = torch.autograd.grad(loss, parameters)
            assert parameters, mode
            for (name, _), gradient in zip(sampler.named_parameters(), gradients):
                assert torch.isfinite(gradient).all(), (mode, reflections, name)
                assert gradient.abs().sum() > 0, (mode, reflections, name)


def test_released_sampler_two_fixed_rotations():
    sampler = OrthogonalSampler("released")
    assert not list(sampler.parameters())
    first, _ = sampler.sample(1)
    second, weights = sampler.sample(5)
    torch.testing.assert_close(first, second)
    assert first.shape == (2, 1, 3, 3) and weights.tolist() == [0.5, 0.5]
    torch.testing.assert_close(first[0, 0], torch.eye(3))
    torch.testing.assert_close(torch.linalg.det(first[:, 0]), torch.ones(2))


# -- learning ------------------------------------------------------------------------------


def test_ridge_learns_local_structure(rng):
    settings = RadialDescriptor(r_min=2.0, r_max=CUTOFF, n_centres=12)
    arrays = [jittered_glass(rng) for _ in range(4)]
    labels = [structure_label(*a) for a in arrays]
    designs = [design_matrix(radial_descriptors(*a, settings), a[1]) for a in arrays]
    penalised = designs[0][1]
    train_x = np.vstack([d for d, _ in designs[:3]])
    train_y = np.concatenate(labels[:3])
    model, _ = fit_ridge(train_x, train_y, designs[3][0], labels[3], penalised, [1e-3, 1e-1, 10])
    metrics = evaluate_predictions([model.predict(designs[3][0])], [labels[3]], ["v"])
    blind = no_structure_r(np.concatenate(labels), np.concatenate([a[1] for a in arrays]))
    assert metrics["pooled"]["pearson_r"] > max(blind + 0.3, 0.8), (metrics, blind)


@pytest.mark.parametrize("kind", ["schnet", "symgnn"])
def test_neural_baselines_learn_local_structure(rng, kind):
    """SchNet: the best validation r beats the structure-blind predictor of the validation
    glasses (per-type means of their own labels) by 0.1. SymGNN generalises slowly at these
    sizes (validation r 0.2-0.5; with 3 training glasses its margin fell below 0.1 about one
    run in thirty, with 6 it still went down to 0.065 over 40 seeds), so for it: the training
    loss (standardised, so the blind predictor's is about 1) falls below 0.5 (at most 0.22
    over 15 seeds), and the best validation r beats the blind one."""
    torch.manual_seed(int(rng.integers(2**31)))
    train_count = 3 if kind == "schnet" else 6
    graphs = labelled_graphs(rng, train_count + 2)
    train, validation = graphs[:train_count], graphs[train_count:]
    if kind == "schnet":
        model = SchNetNode(hidden=32, filters=32, interactions=2, gaussians=16, cutoff=CUTOFF)
        config = TrainConfig(epochs=60, learning_rate=3e-3, seed=int(rng.integers(1000)))
    else:
        model = small_symgnn(heads=(4, 2, 2, 1), num_samples=2, eval_samples=4)
        config = TrainConfig(epochs=120, learning_rate=3e-3, seed=int(rng.integers(1000)))
    history = fit_model(model, train, validation, config)
    best = max(row["validation_pearson_r"] for row in history["history"])
    blind = no_structure_r(
        torch.cat([g.labels for g in validation]).numpy(),
        torch.cat([g.types for g in validation]).numpy(),
    )
    if kind == "schnet":
        assert best > blind + 0.1, (best, blind)
    else:
        assert history["history"][-1]["train_loss"] < 0.5, history["history"][-1]
        assert best > blind, (best, blind)


# -- training machinery, explainer reach ---------------------------------------------------


def test_resumed_training_equals_uninterrupted(rng, tmp_path):
    graphs = labelled_graphs(rng, 2, cells=3)

    def model():
        torch.manual_seed(0)
        return SchNetNode(hidden=8, filters=8, interactions=2, gaussians=6, cutoff=CUTOFF)

    config = TrainConfig(epochs=3, learning_rate=1e-2, centres_per_step=5, seed=3)
    straight = model()
    whole = fit_model(straight, graphs[:1], graphs[1:], config, tmp_path / "a.pt")
    first = model()
    fit_model(
        first,
        graphs[:1],
        graphs[1:],
        TrainConfig(**{**config.__dict__, "epochs": 2}),
        tmp_path / "b.pt",
    )
    resumed = model()
    again = fit_model(resumed, graphs[:1], graphs[1:], config, tmp_path / "b.pt", resume=True)
    assert [row["train_loss"] for row in again["history"]] == [
        row["train_loss"] for row in whole["history"]
    ]
    for key, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, rtol=0, atol=0)


def test_gnn_explainer_reaches_symgnn_attention_layers(rng):
    from torch_geometric.explain import Explainer, GNNExplainer
    from torch_geometric.explain.algorithm.utils import clear_masks, set_masks

    torch.manual_seed(int(rng.integers(2**31)))
    positions, types, box = jittered_glass(rng, cells=3)
    graph = graph_from_arrays(positions, types, box, CUTOFF)
    model = small_symgnn(eval_samples=2).eval()
    explainer = Explainer(
        model=model,
        algorithm=GNNExplainer(epochs=3),
        explanation_type="model",
        node_mask_type=None,
        edge_mask_type="object",
        model_config=dict(mode="regression", task_level="node", return_type="raw"),
    )
    atom = int(rng.integers(len(types)))
    x = torch.nn.functional.one_hot(graph.types, 2).float()  # explainers need (N, F) rows
    torch.testing.assert_close(
        model(x, graph.edge_index, graph.edge_vectors, seed=0),
        model(graph.types, graph.edge_index, graph.edge_vectors, seed=0),
    )
    explanation = explainer(
        x, graph.edge_index, edge_vectors=graph.edge_vectors, seed=0, index=atom
    )
    mask = explanation.edge_mask
    assert mask.shape == (graph.n_edges,)
    assert mask[graph.edge_index[1] == atom].abs().sum() > 0
    # the masks act on the messages: all-zero masks change the prediction
    set_masks(model, torch.full((graph.n_edges,), -30.0), graph.edge_index, apply_sigmoid=True)
    masked = model(graph.types, graph.edge_index, graph.edge_vectors, seed=0)
    clear_masks(model)
    plain = model(graph.types, graph.edge_index, graph.edge_vectors, seed=0)
    assert not torch.allclose(masked, plain)


def test_batched_glasses_predict_as_separate_ones(rng):
    torch.manual_seed(int(rng.integers(2**31)))
    graphs = []
    for _ in range(2):
        positions, types, box = jittered_glass(rng, cells=3)
        graphs.append(graph_from_arrays(positions, types, box, CUTOFF, dtype=torch.float64))
    batched = batch_graphs(graphs)
    assert batched.batch.tolist() == [0] * graphs[0].n_atoms + [1] * graphs[1].n_atoms
    model = SchNetNode(hidden=8, filters=8, interactions=2, gaussians=6, cutoff=CUTOFF)
    model = model.double().eval()
    separate = np.concatenate([predict(model, g) for g in graphs])
    np.testing.assert_allclose(predict(model, batched), separate, rtol=1e-12, atol=1e-12)


def test_symgnn_fixed_frames_make_a_receptive_field_predict_as_the_glass(rng):
    """The equivariant sampler draws its frames from every atom of the graph it sees: a
    subgraph predicts otherwise, unless the whole glass's frames are passed (sample_frames)."""
    torch.manual_seed(int(rng.integers(2**31)))
    positions, types, box = jittered_glass(rng, cells=7)
    graph = graph_from_arrays(positions, types, box, CUTOFF, dtype=torch.float64)
    model = small_symgnn(eval_samples=2, heads=(2, 1)).double().eval()
    seed = int(rng.integers(1000))
    with torch.no_grad():
        frames = model.sample_frames(graph.types, graph.edge_index, graph.edge_vectors, seed=seed)
        whole = model(graph.types, graph.edge_index, graph.edge_vectors, seed=seed)
        fixed = model(graph.types, graph.edge_index, graph.edge_vectors, frames=frames)
        torch.testing.assert_close(fixed, whole, rtol=0, atol=0)  # the same draws
        atom = int(rng.integers(len(types)))
        sub = subgraph_around(graph, torch.tensor([atom]), model.receptive_hops)
        # the atom in the subgraph: subgraph_around keeps atoms in order
        local = int(torch.nonzero(sub.centres)[0, 0])
        with_frames = model(sub.types, sub.edge_index, sub.edge_vectors, frames=frames)
        drawn_again = model(sub.types, sub.edge_index, sub.edge_vectors, seed=seed)
    assert sub.n_atoms < graph.n_atoms
    assert float(with_frames[local]) == pytest.approx(float(whole[atom]), rel=1e-10, abs=1e-12)
    assert float(drawn_again[local]) != pytest.approx(float(whole[atom]), rel=1e-6)


def test_explain_symgnn_glass_end_to_end(rng):
    from pgnfast.systems.glass.explain import GROUP_BANDS, explain_symgnn_glass

    torch.manual_seed(int(rng.integers(2**31)))
    positions, types, box = jittered_glass(rng, cells=6)
    model = small_symgnn(eval_samples=2, heads=(2, 1)).double().eval()
    result = explain_symgnn_glass(
        model, positions, np.diag(box), types, per_group=1, epochs=3, seed=int(rng.integers(99))
    )
    assert set(result.groups) == set(GROUP_BANDS)
    assert result.num_layers == model.receptive_hops
    for explanation in result.explanations:
        assert explanation.prediction == result.predictions[explanation.atom]
        assert explanation.edge_mask.shape == explanation.field.edges.shape
        assert np.all((explanation.edge_mask >= 0) & (explanation.edge_mask <= 1))


@pytest.mark.parametrize("kind", ["symgnn", "schnet"])
def test_load_baseline_gives_the_best_epoch_model(rng, tmp_path, kind):
    from pgnfast.systems.glass.baselines import load_baseline

    graphs = labelled_graphs(rng, 2, cells=3)
    torch.manual_seed(int(rng.integers(2**31)))
    model = (
        small_symgnn(heads=(2, 1))
        if kind == "symgnn"
        else SchNetNode(hidden=8, filters=8, interactions=2, gaussians=6, cutoff=CUTOFF)
    )
    config = TrainConfig(epochs=2, learning_rate=1e-2, centres_per_step=5, seed=3)
    fit_model(model, graphs[:1], graphs[1:], config, tmp_path / "run.pt")  # leaves the best
    loaded = load_baseline(tmp_path / "run.pt")
    assert loaded.config == model.config and not loaded.training
    graph = graphs[1]
    np.testing.assert_array_equal(predict(loaded, graph, seed=5), predict(model, graph, seed=5))
    (tmp_path / "other.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(FileFormatError, match="cannot be read|not a glass-baseline"):
        load_baseline(tmp_path / "other.pt")


def test_batch_norm_statistics_recalibrated_to_the_glasses_as_predicted(rng, tmp_path):
    """After fit_model, each batch-norm layer's running mean and variance are the equal-weight
    means over the training glasses of its input's batch statistics in prediction mode (no
    dropout, evaluation samples, the seeds 0, 1, ...), recomputed here from hooked inputs;
    the checkpoint's best model carries them."""
    from pgnfast.systems.glass.baselines import load_baseline

    graphs = labelled_graphs(rng, 3, cells=3)
    torch.manual_seed(int(rng.integers(2**31)))
    model = small_symgnn(heads=(2, 1), num_samples=1, eval_samples=3, dropout=0.3)
    config = TrainConfig(epochs=2, learning_rate=1e-2, seed=int(rng.integers(1000)))
    fit_model(model, graphs[:2], graphs[2:], config, tmp_path / "run.pt")
    norms = {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm1d)}
    assert len(norms) >= 2
    inputs = {name: [] for name in norms}
    probe = load_baseline(tmp_path / "run.pt")
    hooks = [
        m.register_forward_hook(lambda m, args, out, name=n: inputs[name].append(args[0]))
        for n, m in probe.named_modules()
        if n in norms
    ]
    for m in probe.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.train()  # normalise each glass by its own statistics, as during recalibration
    with torch.no_grad():
        for k, graph in enumerate(graphs[:2]):
            probe(graph.types, graph.edge_index, graph.edge_vectors, graph.batch, k)
    for hook in hooks:
        hook.remove()
    loaded = load_baseline(tmp_path / "run.pt").state_dict()
    for name, norm in norms.items():
        seen = [x.double().numpy() for x in inputs[name]]
        mean = np.mean([x.mean(axis=0) for x in seen], axis=0)
        variance = np.mean([x.var(axis=0, ddof=1) for x in seen], axis=0)
        close = dict(rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(norm.running_mean.double().numpy(), mean, **close)
        np.testing.assert_allclose(norm.running_var.double().numpy(), variance, **close)
        torch.testing.assert_close(loaded[f"{name}.running_mean"], norm.running_mean)
        torch.testing.assert_close(loaded[f"{name}.running_var"], norm.running_var)
