"""Splink's internals are reached from one module, on the version it was written against."""

from __future__ import annotations

import ast
import tomllib
from importlib.metadata import version
from pathlib import Path

from mpi_linker import splink_adapter

ROOT = Path(__file__).parents[2]
ADAPTER = ROOT / "services" / "linker" / "src" / "mpi_linker" / "splink_adapter.py"


def _internal_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
        found += [name for name in names if name.startswith("splink.internals")]
    return found


def test_splink_is_the_pinned_version():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = [
        pin for extra in pyproject["project"]["optional-dependencies"].values() for pin in extra
    ]
    assert f"splink=={splink_adapter.SPLINK_VERSION}" in pins
    assert version("splink") == splink_adapter.SPLINK_VERSION


def test_only_the_adapter_imports_splink_internals():
    sources = [
        path
        for folder in ("services", "training", "benchmarks", "tests")
        for path in (ROOT / folder).rglob("*.py")
    ]
    offenders = {
        str(path.relative_to(ROOT)): imports
        for path in sources
        if path != ADAPTER and (imports := _internal_imports(path))
    }
    assert offenders == {}
    assert _internal_imports(ADAPTER)


def test_a_source_importing_internals_is_caught(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("import splink.internals.linker\nfrom splink.internals import x\n")
    assert _internal_imports(source) == ["splink.internals.linker", "splink.internals"]
