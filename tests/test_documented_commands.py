"""Every command, config and code block in README.md, docs/ and examples/ runs as written,
at tiny sizes: a newcomer following the docs meets no traceback.

Configs are run with only their sizes shrunk (counts, epochs, sweeps); everything else is
read from the file as shipped. Python blocks of the docs run as they are.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pgnfast.cli import COMMANDS, main
from pgnfast.nn.io import load_model

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TINY_SPLIT = {"train": 4, "validation": 2, "test": 2}


def _merge(base: dict, changes: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def shrunk(example: str, changes: dict) -> str:
    """A copy of examples/<example> with `changes` merged in (sizes only), in the cwd."""
    values = yaml.safe_load((ROOT / "examples" / example).read_text())
    target = Path("shrunk") / example
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(_merge(values, changes)))
    return str(target)


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory):
    """A working folder holding a copy of examples/, entered for the module's tests."""
    folder = tmp_path_factory.mktemp("newcomer")
    shutil.copytree(ROOT / "examples", folder / "examples")
    previous = os.getcwd()
    os.chdir(folder)
    yield folder
    os.chdir(previous)


@pytest.fixture(scope="module")
def labeled(newcomer):
    """`pgnfast label` as docs/dft.md writes it, with 8 configurations."""
    args = ["label", "--design", "examples/design.yaml", "--n-particles", "64"]
    args += ["--n-configs", "8", "--kind", "random", "--workers", "1", "--out", "data/pgn_design0"]
    assert main(args) == 0
    # the accuracy benchmark's data set (docs/model.md), same design, other seed
    assert main([*args[:-1], "data/pgn_n64_seed7", "--seed", "7"]) == 0
    return newcomer / "data" / "pgn_design0"


COVERED = {
    "design.yaml": "test_label_train_and_neighbors",
    "train.yaml": "test_label_train_and_neighbors",
    "accuracy.yaml": "test_accuracy_and_finetune",
    "accuracy_finetune.yaml": "test_accuracy_and_finetune",
    "design_bidisperse.yaml": "test_bidisperse_accuracy",
    "accuracy_bidisperse.yaml": "test_bidisperse_accuracy",
    "study.yaml": "test_hyperparameter_study",
    "mc.yaml": "test_monte_carlo",
    "mc_hybrid.yaml": "test_monte_carlo",
    "charges.yaml": "test_charges_training",
    "argon.yaml": (
        "tests/systems/argon/test_command.py::test_argon_command_shrunk_example_and_rerun"
    ),
    "study-pgn/laptop.yaml": "test_study_pgn",
    "study-pgn/workstation.yaml": "test_study_pgn",
    "study-pgn/cluster-gpu.yaml": "test_study_pgn",
    "glass.yaml": (
        "tests/systems/glass/test_train_predict.py::test_convert_train_predict_round_trip"
    ),
}


def test_every_example_is_covered():
    shipped = {
        p.relative_to(ROOT / "examples").as_posix() for p in (ROOT / "examples").rglob("*.yaml")
    }
    assert shipped == set(COVERED), "an example config without a test (or a test without one)"


def test_label_train_and_neighbors(labeled):
    config = shrunk("train.yaml", {"split": TINY_SPLIT, "max_epochs": 1})
    assert main(["train", config, "--no-progress"]) == 0
    frames = sorted(labeled.rglob("*.extxyz"))
    assert frames, "the labeler wrote no extxyz shard"
    assert main(["neighbors", str(frames[0]), "--cutoff", "30"]) == 0


def test_accuracy_and_finetune(labeled):
    tiny = {"split": TINY_SPLIT, "max_epochs": 1}
    assert main(["train", shrunk("accuracy.yaml", tiny), "--no-progress"]) == 0
    assert main(["train", shrunk("accuracy_finetune.yaml", tiny), "--no-progress"]) == 0


def test_bidisperse_accuracy(newcomer):
    """The structure study's labels and accurate model (docs/study.md, part 3), shrunk."""
    args = ["label", "--design", "examples/design_bidisperse.yaml", "--n-particles", "64"]
    args += ["--n-configs", "10", "--workers", "1", "--seed", "11"]
    assert main([*args, "--out", "data/pgn_bidisperse_n64_seed11"]) == 0
    tiny = {"split": TINY_SPLIT, "max_epochs": 1}
    assert main(["train", shrunk("accuracy_bidisperse.yaml", tiny), "--no-progress"]) == 0
    model = load_model("runs/accuracy_bidisperse_n64/best_model.pt", units="pgn")
    assert model.num_types == 2


def test_hyperparameter_study(labeled):
    config = shrunk(
        "study.yaml",
        {
            "grid": {"r_max": [30.0], "l_max": [0, 1], "num_layers": [1]},
            "base": {"split": TINY_SPLIT, "max_epochs": 1},
        },
    )
    assert main(["study", config]) == 0


def test_monte_carlo(newcomer):
    config = shrunk("mc.yaml", {"num_particles": 27, "sweeps": 4, "equilibration_sweeps": 2})
    assert main(["mc", config, "--no-progress"]) == 0
    config = shrunk("mc_hybrid.yaml", {"sweeps": 4, "equilibration_sweeps": 2})
    assert main(["mc", config, "--no-progress"]) == 0


def test_charges_training(newcomer):
    from pgnfast.testing import write_charged_teacher_dataset
    from tests.train.test_train_nequip_lr import TINY_LR

    # the data command of the example's comment, with 12 frames
    write_charged_teacher_dataset("data/nacl_charges", 12)
    config = shrunk(
        "charges.yaml",
        {"model": TINY_LR, "split": {"train": 8, "validation": 2, "test": 2}, "max_epochs": 1,
         "batch_size": 2},
    )  # fmt: skip
    assert main(["train", config, "--no-progress"]) == 0


def test_study_pgn(newcomer):
    from pgnfast.systems.pgn import StudyConfig, tiny_config

    for name in ("laptop.yaml", "workstation.yaml", "cluster-gpu.yaml"):
        study = StudyConfig.from_yaml(ROOT / "examples" / "study-pgn" / name)
        assert study.pipelines(), name
    tiny = tiny_config().to_dict()
    sizes = {key: tiny[key] for key in ("labels", "train", "mc", "compare", "cost", "analysis")}
    config = shrunk("study-pgn/laptop.yaml", {"pipeline": sizes})
    first = StudyConfig.from_yaml(config).designs[0]["name"]
    assert main(["study-pgn", config, "--designs", first, "--no-progress"]) == 0


def _blocks(language: str):
    for document in DOCUMENTS:
        text = document.read_text()
        for number, match in enumerate(re.finditer(rf"```{language}\n(.*?)```", text, re.S)):
            yield pytest.param(match.group(1), id=f"{document.name}-{number}")


@pytest.mark.parametrize("code", list(_blocks("python")))
def test_python_blocks_run(code, tmp_path):
    # as a user runs it: a script of its own, in a folder holding a copy of examples/
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (tmp_path / "block.py").write_text(code)
    done = subprocess.run(
        [sys.executable, "block.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _mentions(pattern: str):
    found = set()
    for document in [*DOCUMENTS, *sorted((ROOT / "examples").rglob("*.yaml"))]:
        text = document.read_text()
        found |= {(document.name, m) for m in re.findall(pattern, text, re.M)}
    return sorted(found)


# `pgnfast CMD` in inline code, at the start of a line of a code block or after `&&`
@pytest.mark.parametrize("document,command", _mentions(r"(?:`|^|&& )pgnfast ([a-z][a-z-]*)"))
def test_documented_pgnfast_commands_exist(document, command):
    assert command in COMMANDS, f"{document} documents `pgnfast {command}`, which is no command"


@pytest.mark.parametrize("document,module", _mentions(r"python -m (pgnfast[\w.]*)"))
def test_documented_modules_exist(document, module):
    assert importlib.util.find_spec(module) is not None, f"{document}: no module {module}"


@pytest.mark.parametrize("document,path", _mentions(r"\b(examples/[\w./-]+\.yaml)"))
def test_documented_example_files_exist(document, path):
    assert (ROOT / path).exists(), f"{document} names {path}, which does not exist"
