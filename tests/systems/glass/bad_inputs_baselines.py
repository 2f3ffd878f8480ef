"""Bad inputs of the glass-barrier baselines: graphs with foreign atom types or a missing
label, unknown sampler and layer kinds, descriptor shells that end before they start, an
unfitted ridge model, subgraph centres outside the glass, and a checkpoint of another run."""

from __future__ import annotations

import numpy as np

from pgnfast.errors import InputError, ResumeMismatchError
from tests.bad_inputs import bad_input


def _arrays(rng, n: int = 20):
    box = np.full(3, 8.0)
    return rng.uniform(0.0, 8.0, (n, 3)), rng.integers(0, 2, n), box


@bad_input(
    "pgnfast.systems.glass.baselines.graph_from_arrays",
    "an atom of type 2 (the glasses have 0 = Cu and 1 = Zr)",
    InputError,
    r"types: particle \d+ has type 2, out of range \(there are 2 types",
)
def baseline_graph_foreign_type(rng, tmp_path):
    from pgnfast.systems.glass.baselines import graph_from_arrays

    positions, types, box = _arrays(rng)
    types[3] = 2
    graph_from_arrays(positions, types, box, 4.0)


@bad_input(
    "pgnfast.systems.glass.baselines.glass_graph",
    "a label the glass does not have",
    InputError,
    r"glass train0 has no label 'mobility'",
)
def baseline_graph_unknown_label(rng, tmp_path):
    from pgnfast.systems.glass import glass_from_arrays
    from pgnfast.systems.glass.baselines import glass_graph
    from tests.systems.glass.synthetic import glass_arrays

    glass_graph(glass_from_arrays(glass_arrays(rng), "train0"), 4.0, label="mobility")


@bad_input(
    "pgnfast.systems.glass.baselines.OrthogonalSampler",
    "an unknown sampler mode",
    InputError,
    r"unknown sampler mode 'haar'; choose one of \('equivariant', 'free', 'released'\)",
)
def baseline_sampler_unknown_mode(rng, tmp_path):
    from pgnfast.systems.glass.baselines import OrthogonalSampler

    OrthogonalSampler("haar")


@bad_input(
    "pgnfast.systems.glass.baselines.SymGNN",
    "an attention layer kind other than gat or gatv2",
    InputError,
    r"conv must be 'gat' or 'gatv2', got 'gcn'",
)
def baseline_symgnn_unknown_conv(rng, tmp_path):
    from pgnfast.systems.glass.baselines import SymGNN

    SymGNN(conv="gcn")


@bad_input(
    "pgnfast.systems.glass.baselines.radial_descriptors",
    "descriptor shells with r_max below r_min",
    InputError,
    r"r_max must exceed r_min, got 5\.0, 3\.0",
)
def baseline_descriptor_empty_range(rng, tmp_path):
    from pgnfast.systems.glass.baselines import RadialDescriptor, radial_descriptors

    positions, types, box = _arrays(rng)
    radial_descriptors(positions, types, box, RadialDescriptor(r_min=5.0, r_max=3.0))


@bad_input(
    "pgnfast.systems.glass.baselines.RidgeModel.predict",
    "prediction before the model is fitted",
    InputError,
    r"RidgeModel\.predict before fit",
)
def baseline_ridge_unfitted(rng, tmp_path):
    from pgnfast.systems.glass.baselines import RidgeModel

    RidgeModel(1.0).predict(rng.normal(size=(4, 3)))


@bad_input(
    "pgnfast.systems.glass.baselines.subgraph_around",
    "a centre index past the last atom",
    InputError,
    r"centre indices must lie in \[0, 20\)",
)
def baseline_subgraph_centre_out_of_range(rng, tmp_path):
    from pgnfast.systems.glass.baselines import graph_from_arrays, subgraph_around

    positions, types, box = _arrays(rng)
    subgraph_around(graph_from_arrays(positions, types, box, 4.0), [0, 20], 2)


@bad_input(
    "pgnfast.systems.glass.baselines.fit_model",
    "resuming a checkpoint written with another learning rate",
    ResumeMismatchError,
    r"checkpoint .*symgnn\.pt belongs to another run: learning_rate differ",
)
def baseline_resume_other_config(rng, tmp_path):
    from pgnfast.systems.glass.baselines import (
        SchNetNode,
        TrainConfig,
        fit_model,
        graph_from_arrays,
    )

    positions, types, box = _arrays(rng)
    graph = graph_from_arrays(positions, types, box, 4.0, rng.normal(1.6, 0.3, len(types)))
    model = SchNetNode(hidden=8, filters=8, interactions=1, gaussians=4, cutoff=4.0)
    path = tmp_path / "symgnn.pt"
    fit_model(model, [graph], [graph], TrainConfig(epochs=1), checkpoint=path)
    fit_model(model, [graph], [graph], TrainConfig(epochs=2, learning_rate=0.1), path, True)


@bad_input(
    "pgnfast.systems.glass.baselines.recalibrate_batch_norm",
    "batch-norm statistics asked of no glass",
    InputError,
    r"recalibrate_batch_norm needs at least one glass graph",
)
def baseline_recalibrate_no_glass(rng, tmp_path):
    from pgnfast.systems.glass.baselines import SymGNN, recalibrate_batch_norm

    recalibrate_batch_norm(SymGNN(hidden=8, head_width=2, heads=(2, 1), cutoff=4.0), [])
