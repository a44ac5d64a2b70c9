"""The `mpi` command's plugins: a missing extra says so; a broken plugin is not hidden."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest
import typer
from typer.testing import CliRunner

from mpi_api import cli


def _plugins(monkeypatch, *entries: tuple[str, str]) -> typer.Typer:
    app = typer.Typer()
    app.command("noop")(lambda: None)
    monkeypatch.setattr(cli, "app", app)
    found = [EntryPoint(name, value, "mpi.commands") for name, value in entries]
    monkeypatch.setattr(cli, "entry_points", lambda group: found)
    cli._load_plugins()
    return app


def test_a_plugin_whose_extra_is_missing_names_it(monkeypatch):
    app = _plugins(monkeypatch, ("fuzzy", "rapidfuzz_is_not_here.cli:app"))

    result = CliRunner().invoke(app, ["fuzzy", "--any", "argument"])

    assert result.exit_code == 2
    assert "mpi fuzzy needs rapidfuzz_is_not_here, which is not installed" in result.output
    assert "fuzzy" in CliRunner().invoke(app, ["--help"]).output


def test_the_hint_names_the_extra_that_brings_the_package():
    assert cli._extra_of("splink") == "pip install -c constraints.txt '.[linker]'"
    assert cli._extra_of("celery") == "pip install -c constraints.txt '.[classifier]'"


def test_a_plugin_of_the_project_that_fails_to_import_is_raised(monkeypatch):
    with pytest.raises(ModuleNotFoundError, match="mpi_no_such_module"):
        _plugins(monkeypatch, ("broken", "mpi_no_such_module.cli:app"))


def test_a_plugin_with_a_broken_import_is_raised(monkeypatch, tmp_path):
    (tmp_path / "half_written_plugin.py").write_text("from json import no_such_name\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.raises(ImportError, match="no_such_name"):
        _plugins(monkeypatch, ("half", "half_written_plugin:app"))


@pytest.mark.parametrize("command", ["linker", "relay", "worker", "data", "train"])
def test_every_installed_plugin_loads(command):
    result = subprocess.run(
        [sys.executable, "-m", "mpi_api.cli", command, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert "Not installed here" not in result.stdout
