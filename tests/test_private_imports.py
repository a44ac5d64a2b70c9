"""No module reaches into another package's private modules (a `_name` module of ours or of a
library): what a package does not export may change under its callers."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
OURS = {"mpi_store", "mpi_api", "mpi_linker", "mpi_classifier", "mpi_training"}


def _package_of(path: Path) -> str | None:
    parts = path.relative_to(ROOT).parts
    return next((part for part in parts if part in OURS), None)


def _private_imports(path: Path, own: str | None) -> list[str]:
    """Private modules `path` imports outside its own package `own`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            private = any(p.startswith("_") and not p.startswith("__") for p in parts)
            if private and parts[0] != own:
                found.append(module)
    return found


def test_no_module_imports_another_package_s_private_modules():
    sources = [
        path
        for folder in ("services", "training", "benchmarks")
        for path in (ROOT / folder).rglob("*.py")
    ]
    offenders = {
        str(path.relative_to(ROOT)): imports
        for path in sources
        if (imports := _private_imports(path, _package_of(path)))
    }

    assert offenders == {}


def test_a_private_import_is_found(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text(
        "from mpi_linker._internal import x\nimport yaml._private\nfrom mpi_api._own import y\n"
    )

    assert _private_imports(source, "mpi_api") == ["mpi_linker._internal", "yaml._private"]
