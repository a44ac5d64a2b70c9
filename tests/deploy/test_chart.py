"""The Helm chart, rendered and linted by a real Helm v4 engine (helm-python-sdk) and every
rendered object validated against the Kubernetes JSON schemas (kubernetes-validate)."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from tests.deploy.commands import http_service

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "mpi"
RELEASE = "mpi"
FULLNAME = "mpi"  # the release name already contains the chart's name
# The oldest minor the chart's Chart.yaml admits that the CI schemas cover, and the newest.
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]

# What an operator passes to `helm install`. The passwords are markers: only a Secret may hold
# them.
DB_PASSWORD = "db-pass-7f3a"
REDIS_PASSWORD = "redis-pass-91c2"
CONNECTIONS = {
    "secrets": {
        "databaseUrl": f"postgresql://mpi:{DB_PASSWORD}@db.internal:5432/mpi",
        "redisUrl": f"rediss://:{REDIS_PASSWORD}@redis.internal:6380/0",
    }
}
GPU = yaml.safe_load((CHART / "values-gpu.yaml").read_text(encoding="utf-8"))
EVERY_OPTION = {
    "secrets": {"existingSecret": "mpi-managed"},
    "image": {"registry": "registry.example.org/mpi", "tag": "1.2.3"},
    "imagePullSecrets": [{"name": "registry-credentials"}],
    "serviceAccountName": "mpi",
    "api": {"autoscaling": {"enabled": False}},
    "linker": {"model": {"configMap": "linker-model-v2"}},
    "classifier": {"modelCard": {"configMap": "classifier-card-v3"}},
    "worker": {
        "keda": {
            "enabled": True,
            "address": "redis.internal:6380",
            "enableTLS": True,
            "passwordSecret": {"name": "redis-auth", "key": "password"},
        }
    },
    "vllm": {"runtimeClassName": "nvidia", "model": {"existingClaim": "classifier-models"}},
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "host": "mpi.example.org",
        "tlsSecretName": "mpi-tls",
        "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "1m"},
    },
    "networkPolicy": {
        "apiFrom": [{"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}}],
        "metricsFrom": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}],
        "egress": {
            "enabled": True,
            "extraRules": [
                {
                    "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
                    "ports": [{"port": 5432, "protocol": "TCP"}, {"port": 6380, "protocol": "TCP"}],
                }
            ],
        },
    },
}
MODEL_FROM_IMAGE = {
    "vllm": {
        "model": {
            "source": "image",
            "image": {"repository": "registry.example.org/mpi-classifier-model", "tag": "v3"},
        }
    }
}


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge like Helm merges several values files: maps merge, anything else is replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def values(*layers: dict[str, Any]) -> dict[str, Any]:
    """The connection strings, then each layer on top (`--set ... -f a.yaml -f b.yaml`)."""
    return functools.reduce(merge, layers, CONNECTIONS)


SCENARIOS = {
    "default": values(),
    "gpu": values(GPU),
    "every-option": values(GPU, EVERY_OPTION),
    "model-from-image": values(GPU, MODEL_FROM_IMAGE),
}


def render(user_values: dict[str, Any]) -> list[dict[str, Any]]:
    """The chart's Kubernetes objects for these values (NOTES.txt left out)."""
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(values=user_values, name=RELEASE, namespace=RELEASE)
    return [
        document
        for path, text in sorted(manifests.items())
        if path.endswith(".yaml")
        for document in yaml.safe_load_all(text)
        if document
    ]


@functools.cache
def scenario(name: str) -> tuple[dict[str, Any], ...]:
    return tuple(render(SCENARIOS[name]))


def of_kind(objects, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def component(obj: dict[str, Any]) -> str:
    return obj["metadata"]["labels"]["app.kubernetes.io/component"]


def workloads(objects) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in {"Deployment", "Job"}]


def pod(objects, deployment: str) -> dict[str, Any]:
    """The pod spec of a Deployment."""
    return of_kind(objects, "Deployment")[deployment]["spec"]["template"]["spec"]


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = workload["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in container.get("env", [])}


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a LabelSelector (matchLabels, matchExpressions with In) selects these labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", "extend this helper for other operators"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


# --- the engines' verdicts -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["default", "gpu"])
def test_helm_lint_strict_finds_nothing(name):
    report = helm.lint(CHART, SCENARIOS[name], strict=True)

    assert report["errors"] == []
    # Severity 1 is Helm's "info" (Chart.yaml has no icon); 2 and 3 are warnings and errors.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_object_is_valid_for_kubernetes(name, version):
    objects = scenario(name)
    checked = 0
    for obj in objects:
        if obj["apiVersion"].startswith("keda.sh/"):
            continue  # KEDA's CRDs are not in the Kubernetes schemas; see the KEDA test
        kubernetes_validate.validate(obj, version, strict=True)
        checked += 1

    assert checked >= 20


def test_the_kubernetes_check_catches_a_misspelt_field():
    deployment = copy.deepcopy(of_kind(scenario("default"), "Deployment")["mpi-api"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbes"] = container.pop("readinessProbe")

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_install_without_connection_strings_says_what_is_missing():
    with pytest.raises(helm.HelmRenderError, match=r"secrets\.databaseUrl"):
        render({})


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"api": {"config": {"MPI_DATABASE_URL": "postgresql://x"}}}, "MPI_DATABASE_URL"),
        ({"classifier": {"config": {"MPI_DEV_API_KEY": "k"}}}, "MPI_DEV_API_KEY"),
        ({"api": {"replicas": 3}}, "replicas"),
        ({"linker": {"resources": {"limits": None}}}, "limits"),
        ({"secrets": {"redisUrl": "redis.internal:6379"}}, "redisUrl"),
    ],
    ids=["database-url-in-config", "api-key-in-config", "unknown-key", "no-limits", "bad-url"],
)
def test_values_schema_refuses(override, complaint):
    with pytest.raises(helm.HelmValuesError, match=complaint):
        render(values(override))


# --- what the cluster will run ---------------------------------------------------------------


def test_the_agreed_processes_run_with_their_commands():
    deployments = of_kind(scenario("gpu"), "Deployment")
    commands = {
        name: d["spec"]["template"]["spec"]["containers"][0]["command"]
        for name, d in deployments.items()
    }

    assert commands == {
        "mpi-api": http_service("mpi-api", 8000),
        "mpi-linker": http_service("mpi-linker", 8010),
        "mpi-relay": ["mpi-relay"],
        "mpi-worker": ["mpi-worker", "--concurrency", str(GPU["worker"]["concurrency"])],
        "mpi-vllm": ["python3", "-m", "vllm.entrypoints.openai.api_server"],
    }
    args = pod(scenario("gpu"), "mpi-vllm")["containers"][0]["args"]
    assert args[:12] == [
        "--model",
        "/models/mpi-classifier",
        "--served-model-name",
        "mpi-classifier",
        "--runner",
        "pooling",
        "--hf-overrides",
        '{"architectures":["Gemma3ForSequenceClassification"]}',
        "--max-model-len",
        "2048",
        "--port",
        "8001",
    ]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_only_vllm_asks_for_a_gpu(name):
    gpu_users = {
        f"{component(w)}/{c['name']}"
        for w in workloads(scenario(name))
        for c in containers(w)
        for kind in ("requests", "limits")
        if "nvidia.com/gpu" in c["resources"].get(kind, {})
    }

    assert gpu_users == (set() if name == "default" else {"vllm/vllm"})


def test_vllm_has_a_whole_gpu_on_a_gpu_node_from_values():
    vllm = pod(scenario("gpu"), "mpi-vllm")
    container = vllm["containers"][0]

    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert vllm["nodeSelector"] == GPU["vllm"]["nodeSelector"]
    assert vllm["tolerations"] == GPU["vllm"]["tolerations"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_container_has_resources_and_every_server_probes(name):
    for workload in workloads(scenario(name)):
        for container in containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), where
        # Long-running containers only: Kubernetes refuses probes on init containers, and the
        # migration Job's pod serves nothing (its activeDeadlineSeconds bounds a hang).
        if workload["kind"] == "Deployment":
            for container in workload["spec"]["template"]["spec"]["containers"]:
                assert container.get("livenessProbe"), workload["metadata"]["name"]
                assert container.get("readinessProbe"), workload["metadata"]["name"]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_credentials_live_only_in_secrets(name):
    objects = scenario(name)
    for obj in objects:
        if obj["kind"] == "Secret":
            continue
        text = json.dumps(obj)
        assert DB_PASSWORD not in text, obj["metadata"]["name"]
        assert REDIS_PASSWORD not in text, obj["metadata"]["name"]
    for config_map in of_kind(objects, "ConfigMap").values():
        assert not {"MPI_DATABASE_URL", "MPI_REDIS_URL"} & set(config_map.get("data", {}))


def test_processes_read_only_the_credentials_they_need_from_the_secret():
    deployments = of_kind(scenario("default"), "Deployment")
    secret_refs = {
        name: {
            env_name: e["valueFrom"]["secretKeyRef"]["name"]
            for env_name, e in env_of(d["spec"]["template"]["spec"]["containers"][0]).items()
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        for name, d in deployments.items()
    }

    both = {"MPI_DATABASE_URL": "mpi-connections", "MPI_REDIS_URL": "mpi-connections"}
    assert secret_refs == {
        "mpi-api": {"MPI_DATABASE_URL": "mpi-connections"},
        "mpi-linker": {"MPI_DATABASE_URL": "mpi-connections"},
        "mpi-relay": both,
        "mpi-worker": both,
    }
    secret = of_kind(scenario("default"), "Secret")["mpi-connections"]
    assert set(secret["data"]) == {"MPI_DATABASE_URL", "MPI_REDIS_URL"}


def test_an_existing_secret_replaces_the_charts():
    objects = scenario("every-option")
    secrets = of_kind(objects, "Secret")
    refs = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for w in workloads(objects)
        for c in containers(w)
        for e in c.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }

    assert set(secrets) == set()
    assert refs == {"mpi-managed"}


def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook():
    objects = scenario("default")
    job = of_kind(objects, "Job")["mpi-migrate"]
    hook_secret = of_kind(objects, "Secret")["mpi-migrate"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    annotations = job["metadata"]["annotations"]

    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert container["command"] == ["mpi", "migrate"]
    assert container["image"] == pod(objects, "mpi-api")["containers"][0]["image"]
    # Pre-install hooks run before the release's own Secret exists: the Job reads a hook Secret
    # created just before it (lower weight) and deleted afterwards.
    env = env_of(container)["MPI_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert env["name"] == "mpi-migrate"
    assert hook_secret["metadata"]["annotations"]["helm.sh/hook"] == annotations["helm.sh/hook"]
    assert int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        annotations["helm.sh/hook-weight"]
    )
    assert "hook-succeeded" in hook_secret["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    assert set(hook_secret["data"]) == {"MPI_DATABASE_URL"}


# --- scaling and availability ------------------------------------------------------------------


def test_api_and_linker_scale_on_cpu_with_an_hpa():
    objects = scenario("default")
    hpas = of_kind(objects, "HorizontalPodAutoscaler")
    deployments = of_kind(objects, "Deployment")

    assert {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()} == {
        "mpi-api",
        "mpi-linker",
    }
    for hpa in hpas.values():
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
        # The HPA owns the replica count; a `replicas` in the Deployment would reset it on upgrade.
        assert "replicas" not in deployments[hpa["spec"]["scaleTargetRef"]["name"]]["spec"]


def test_without_autoscaling_the_replica_count_comes_from_values():
    objects = scenario("every-option")

    assert "mpi-api" not in of_kind(objects, "HorizontalPodAutoscaler")
    assert of_kind(objects, "Deployment")["mpi-api"]["spec"]["replicas"] == 2


def test_keda_scales_the_worker_on_queue_depth_only_when_enabled():
    assert of_kind(scenario("default"), "ScaledObject") == {}

    objects = scenario("every-option")
    scaled = of_kind(objects, "ScaledObject")["mpi-worker"]
    auth = of_kind(objects, "TriggerAuthentication")["mpi-worker-redis"]
    trigger = scaled["spec"]["triggers"][0]

    # KEDA's CRD schemas are not bundled with kubernetes-validate, so the fields KEDA reads are
    # asserted here (names per KEDA's ScaledObject and redis scaler).
    assert scaled["apiVersion"] == auth["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"] == {"name": "mpi-worker"}
    assert 1 <= scaled["spec"]["minReplicaCount"] < scaled["spec"]["maxReplicaCount"]
    assert trigger["type"] == "redis"
    assert trigger["metadata"] == {
        "address": "redis.internal:6380",
        "databaseIndex": "0",
        "enableTLS": "true",
        "listName": "adjudication",
        "listLength": "20",
    }
    assert all(isinstance(v, str) for v in trigger["metadata"].values())
    assert trigger["authenticationRef"] == {"name": "mpi-worker-redis"}
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "password", "name": "redis-auth", "key": "password"}
    ]
    assert "replicas" not in of_kind(objects, "Deployment")["mpi-worker"]["spec"]


def test_keda_without_a_redis_address_says_so():
    with pytest.raises(helm.HelmRenderError, match=r"worker\.keda\.address"):
        render(values({"worker": {"keda": {"enabled": True}}}))


@pytest.mark.parametrize("name", ["default", "gpu"])
def test_every_deployment_has_a_pod_disruption_budget(name):
    objects = scenario(name)
    budgets = of_kind(objects, "PodDisruptionBudget").values()
    for deployment in of_kind(objects, "Deployment").values():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert [b for b in budgets if selects(b["spec"]["selector"], labels)], labels


# --- network ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_services_reach_their_pods(name):
    objects = scenario(name)
    deployments = of_kind(objects, "Deployment")
    for service in of_kind(objects, "Service").values():
        selector = {"matchLabels": service["spec"]["selector"]}
        backends = [
            d
            for d in deployments.values()
            if selects(selector, d["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(backends) == 1, service["metadata"]["name"]
        ports = backends[0]["spec"]["template"]["spec"]["containers"][0]["ports"]
        assert service["spec"]["ports"][0]["targetPort"] in {p["name"] for p in ports}


def test_the_api_and_the_worker_find_their_backends():
    objects = scenario("gpu")
    config = {name: c["data"] for name, c in of_kind(objects, "ConfigMap").items()}
    services = of_kind(objects, "Service")

    assert config["mpi-api"]["MPI_API_LINKER_URL"] == "http://mpi-linker:8010"
    assert services["mpi-linker"]["spec"]["ports"][0]["port"] == 8010
    assert config["mpi-classifier"] == {
        "MPI_CLASSIFIER_BACKEND": "vllm",
        "MPI_CLASSIFIER_URL": "http://mpi-vllm:8001",
        "MPI_CLASSIFIER_MODEL": "mpi-classifier",
        "MPI_CLASSIFIER_QUEUE": "adjudication",
    }
    assert services["mpi-vllm"]["spec"]["ports"][0]["port"] == 8001
    cpu = of_kind(scenario("default"), "ConfigMap")["mpi-classifier"]["data"]
    assert cpu["MPI_CLASSIFIER_BACKEND"] == "overlap"
    # The relay publishes to the queue the worker consumes: one ConfigMap for both.
    for name in ("mpi-relay", "mpi-worker"):
        assert pod(objects, name)["containers"][0]["envFrom"] == [
            {"configMapRef": {"name": "mpi-classifier"}}
        ]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_network_policies_cover_every_pod(name):
    objects = scenario(name)
    policies = [
        p
        for p in of_kind(objects, "NetworkPolicy").values()
        if "Ingress" in p["spec"]["policyTypes"]
    ]
    for workload in workloads(objects):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert [p for p in policies if selects(p["spec"]["podSelector"], labels)], labels


def test_network_policies_admit_only_the_callers():
    policies = of_kind(scenario("gpu"), "NetworkPolicy")

    def callers(policy: str) -> list[str]:
        return [
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
            for rule in policies[policy]["spec"].get("ingress", [])
            for peer in rule.get("from", [])
        ]

    assert callers("mpi-linker") == ["api"]
    assert callers("mpi-vllm") == ["worker"]
    assert "ingress" not in policies["mpi-no-ingress"]["spec"]


def test_egress_lockdown_allows_dns_the_release_and_the_listed_databases():
    egress = of_kind(scenario("every-option"), "NetworkPolicy")["mpi-egress"]["spec"]

    assert egress["policyTypes"] == ["Egress"]
    assert {p["port"] for p in egress["egress"][0]["ports"]} == {53}
    assert egress["egress"][-1] == EVERY_OPTION["networkPolicy"]["egress"]["extraRules"][0]


def test_ingress_is_optional_and_routes_to_the_api():
    assert of_kind(scenario("default"), "Ingress") == {}

    ingress = of_kind(scenario("every-option"), "Ingress")["mpi-api"]["spec"]
    backend = ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]

    assert ingress["rules"][0]["host"] == "mpi.example.org"
    assert backend == {"name": "mpi-api", "port": {"name": "http"}}
    assert ingress["tls"] == [{"hosts": ["mpi.example.org"], "secretName": "mpi-tls"}]


# --- the model volumes ---------------------------------------------------------------------------


def test_the_model_comes_from_a_claim_that_survives_uninstall():
    objects = scenario("gpu")
    claim = of_kind(objects, "PersistentVolumeClaim")["mpi-vllm-model"]
    volume = next(v for v in pod(objects, "mpi-vllm")["volumes"] if v["name"] == "model")

    assert volume["persistentVolumeClaim"] == {"claimName": "mpi-vllm-model", "readOnly": True}
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"

    existing = pod(scenario("every-option"), "mpi-vllm")
    assert {"claimName": "classifier-models", "readOnly": True} in [
        v.get("persistentVolumeClaim") for v in existing["volumes"]
    ]
    assert of_kind(scenario("every-option"), "PersistentVolumeClaim") == {}


def test_the_model_can_come_from_an_image():
    spec = pod(scenario("model-from-image"), "mpi-vllm")
    init = spec["initContainers"][0]

    assert init["image"] == "registry.example.org/mpi-classifier-model:v3"
    assert init["command"] == ["cp", "-R", "/model/.", "/models/mpi-classifier/"]
    assert "emptyDir" in next(v for v in spec["volumes"] if v["name"] == "model")


def test_a_retrained_linker_model_is_mounted_from_a_config_map():
    objects = scenario("every-option")
    linker = pod(objects, "mpi-linker")
    mount = next(m for m in linker["containers"][0]["volumeMounts"] if m["name"] == "model")

    assert {"name": "model", "configMap": {"name": "linker-model-v2"}} in linker["volumes"]
    assert of_kind(objects, "ConfigMap")["mpi-linker"]["data"]["MPI_LINKER_MODEL_PATH"] == (
        f"{mount['mountPath']}/model.json"
    )


def test_the_served_models_card_is_mounted_into_the_worker():
    objects = scenario("every-option")
    worker = pod(objects, "mpi-worker")
    mount = next(m for m in worker["containers"][0]["volumeMounts"] if m["name"] == "model-card")

    assert {"name": "model-card", "configMap": {"name": "classifier-card-v3"}} in worker["volumes"]
    assert of_kind(objects, "ConfigMap")["mpi-classifier"]["data"]["MPI_CLASSIFIER_MODEL_CARD"] == (
        f"{mount['mountPath']}/model_card.json"
    )


def test_images_come_from_the_configured_registry():
    objects = scenario("every-option")
    images = {n: pod(objects, n)["containers"][0]["image"] for n in of_kind(objects, "Deployment")}

    assert images == {
        "mpi-api": "registry.example.org/mpi/mpi-api:1.2.3",
        "mpi-linker": "registry.example.org/mpi/mpi-linker:1.2.3",
        "mpi-relay": "registry.example.org/mpi/mpi-relay:1.2.3",
        "mpi-worker": "registry.example.org/mpi/mpi-worker:1.2.3",
        "mpi-vllm": "vllm/vllm-openai:v0.33.0",
    }
