"""The package's front door: the compiled core is present, the CLI prints pgnfast's errors
as one line, and a source tree without its compiled core says so once."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pgnfast.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_compiled_cpu_core_imports():
    # never skipped: a build without the CPU extension must fail the suite
    cpu = importlib.import_module("pgnfast._cpu")
    assert hasattr(cpu, "cell_list_pairs") or dir(cpu), "pgnfast._cpu is empty"


def test_cli_prints_a_pgnfast_error_as_one_line(tmp_path, capsys):
    missing = tmp_path / "no-such-config.yaml"
    assert main(["train", str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("pgnfast train: error:") and str(missing) in err[0]
    assert "--traceback" in err[1] and len(err) == 2


def test_cli_traceback_flag_raises(tmp_path):
    from pgnfast.errors import PGNFastError

    with pytest.raises(PGNFastError):
        main(["train", str(tmp_path / "no-such-config.yaml"), "--traceback"])


def test_source_tree_without_compiled_core_says_so_once(tmp_path):
    tree = tmp_path / "checkout"
    shutil.copytree(ROOT / "pgnfast", tree / "pgnfast", ignore=shutil.ignore_patterns("*.so"))
    (tree / "csrc").mkdir()
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    # -S: no site-packages, so neither an installed pgnfast nor an editable hook can answer
    script = "import pgnfast, importlib; importlib.reload(pgnfast); print(pgnfast.__file__)"
    done = subprocess.run(
        [sys.executable, "-S", "-c", script], cwd=tree, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert str(tree) in done.stdout
    assert done.stderr.count("no compiled core") == 1, done.stderr
    assert "pip install -e ." in done.stderr
