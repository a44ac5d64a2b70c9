"""deploy/docker/Dockerfile: linted by hadolint and parsed by Docker's own parser (dockerfile)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import dockerfile
import pytest

from tests.deploy.commands import http_service

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"


TARGETS = {
    "api": {
        "extras": set(),
        "cmd": http_service("mpi-api", 8000),
    },
    "linker": {
        "extras": {"linker"},
        "cmd": http_service("mpi-linker", 8010),
    },
    "relay": {"extras": {"classifier"}, "cmd": ["mpi-relay"]},
    "worker": {"extras": {"classifier", "ml"}, "cmd": ["mpi-worker"]},
}


@dataclass
class Stage:
    base: str
    commands: list[dockerfile.Command] = field(default_factory=list)


def stages() -> dict[str, Stage]:
    parsed: dict[str, Stage] = {}
    current = None
    for command in dockerfile.parse_file(str(DOCKERFILE)):
        if command.cmd == "FROM":
            current = Stage(base=command.value[0])
            parsed[command.value[-1]] = current
        elif current is not None:
            current.commands.append(command)
    return parsed


def chain(name: str) -> list[Stage]:
    """The stage and its ancestors inside this Dockerfile, base first."""
    all_stages = stages()
    lineage = [all_stages[name]]
    while lineage[0].base in all_stages:
        lineage.insert(0, all_stages[lineage[0].base])
    return lineage


def instructions(name: str, cmd: str) -> list[dockerfile.Command]:
    return [c for stage in chain(name) for c in stage.commands if c.cmd == cmd]


def test_hadolint_finds_nothing():
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_each_image_runs_its_process_as_a_non_root_user_on_python_slim(target):
    users = instructions(target, "USER")

    assert chain(target)[0].base == "${PYTHON_IMAGE}"
    assert dockerfile.parse_file(str(DOCKERFILE))[0].value == ("PYTHON_IMAGE=python:3.11-slim",)
    assert users[-1].value[0].split(":")[0] not in {"0", "root"}
    assert list(instructions(target, "CMD")[-1].value) == TARGETS[target]["cmd"]
    assert instructions(target, "HEALTHCHECK"), target


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_each_image_installs_only_its_extras(target):
    (copy,) = [c for c in instructions(target, "COPY") if c.flags]
    build_stage = copy.flags[0].removeprefix("--from=")
    (install,) = [
        c.value[0] for c in instructions(build_stage, "RUN") if "pip install" in c.value[0]
    ]
    requirement = shlex.split(install)[-1]
    match = re.fullmatch(r"\.(?:\[([a-z,]+)\])?", requirement)

    assert match, requirement
    assert set(filter(None, (match.group(1) or "").split(","))) == TARGETS[target]["extras"]
    assert "-c constraints.txt" in install


def test_the_images_extras_exist():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = set(pyproject["project"]["optional-dependencies"])

    assert set().union(*(t["extras"] for t in TARGETS.values())) <= extras


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_no_secret_or_index_setting_reaches_a_runtime_image(target):
    # The target's chain holds its runtime stages only: build stages are reached by COPY --from.
    runtime = [c for stage in chain(target) for c in stage.commands]
    names = [c.value[0].split("=")[0] for c in runtime if c.cmd == "ARG"]
    names += [c.value[i] for c in runtime if c.cmd == "ENV" for i in range(0, len(c.value), 2)]

    assert not [n for n in names if re.search(r"PASSWORD|SECRET|TOKEN|KEY|INDEX|_URL", n)]
    # Runtime stages copy only the built virtualenv, never files from the build context.
    assert all(c.flags for c in runtime if c.cmd == "COPY")


def test_dockerignore_admits_exactly_what_the_build_copies():
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    copied = {
        source.rstrip("/")
        for stage in stages().values()
        for c in stage.commands
        if c.cmd == "COPY" and not c.flags
        for source in c.value[:-1]
    }

    assert patterns[0] == "*"  # an allowlist: nothing enters the context by accident
    assert {p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")} == copied


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_each_image_runs_an_entry_point_of_its_own(target):
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    scripts = pyproject["project"]["scripts"]

    assert TARGETS[target]["cmd"][0] == f"mpi-{target}"
    assert f"mpi-{target}" in scripts


# The modules each image's process imports, and packages its extras do not install.
PROCESS_IMPORTS = {
    "api": (
        ("mpi_api.serve", "mpi_api.app", "mpi_api.cli"),
        ("splink", "duckdb", "torch", "transformers", "celery", "rapidfuzz", "pgserver"),
    ),
    "linker": (
        ("mpi_linker.serve", "mpi_linker.app", "mpi_linker.cli"),
        ("torch", "transformers", "celery", "pgserver"),
    ),
    "relay": (
        ("mpi_classifier.cli", "mpi_classifier.relay"),
        ("splink", "duckdb", "rapidfuzz", "torch", "transformers", "pgserver"),
    ),
    "worker": (
        ("mpi_classifier.cli", "mpi_classifier.worker", "mpi_classifier.tasks"),
        ("splink", "duckdb", "rapidfuzz", "pgserver"),
    ),
}


@pytest.mark.parametrize("target", sorted(PROCESS_IMPORTS))
def test_each_process_needs_nothing_its_image_leaves_out(target):
    """Imported with those packages made unimportable, as in the image."""
    modules, absent = PROCESS_IMPORTS[target]
    script = f"""
import importlib, importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {absent!r}:
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Absent())
for module in {modules!r}:
    importlib.import_module(module)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
