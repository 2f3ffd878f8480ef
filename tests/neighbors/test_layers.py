"""pgnfast.triton is a pure kernel layer: no module of it imports pgnfast.neighbors or
pgnfast.ops, eagerly or lazily (inside a function), absolutely or relatively."""

import ast
import pathlib

import pgnfast

TRITON = pathlib.Path(pgnfast.__file__).parent / "triton"
FORBIDDEN = ("pgnfast.neighbors", "pgnfast.ops")


def _imported_modules(path: pathlib.Path) -> list[str]:
    """Every module an import statement anywhere in the file names, made absolute."""
    package = "pgnfast.triton"
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.append(module)
            names.extend(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_triton_package_imports_neither_neighbors_nor_ops():
    files = sorted(TRITON.glob("*.py"))
    assert any(f.name == "cell_list.py" for f in files)
    for path in files:
        for module in _imported_modules(path):
            assert not module.startswith(FORBIDDEN), f"{path.name} imports {module}"


def test_the_layer_check_sees_relative_and_lazy_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from ..neighbors import binning\n    from .. import ops\n")
    found = _imported_modules(sample)
    assert "pgnfast.neighbors" in found and "pgnfast.ops" in found
