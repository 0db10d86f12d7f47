"""The Kubernetes manifests (``infra/kubernetes``): rendered by kustomize, validated against the
Kubernetes schemas offline (``kubernetes-validate``), hardened, and wired to what they run
(the ``rwa`` settings) and to what Terraform provisions (outputs, secret names, VPC, topics).

Rendering takes about a second per kustomization; validation is offline (bundled schemas).
"""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
import pytest

from pipelines.core.settings import Settings, variable_owners
from tests.infra.kubernetes_render import (
    KUBERNETES,
    TARGETS,
    TERRAFORM,
    containers,
    env_file,
    named,
    pod_spec,
    render,
)

# The oldest Kubernetes minor the manifests must be valid for (EKS standard support).
KUBERNETES_VERSION = "1.30"
# Custom resources (no schema bundled with kubernetes-validate): checked structurally below.
CUSTOM_KINDS = {"ExternalSecret"}
# Variables the workloads read that are not RWA_ settings: delta-rs' S3 client reads these.
FOREIGN_VARIABLES = {"AWS_S3_LOCKING_PROVIDER", "DELTA_DYNAMO_TABLE_NAME"}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {target: render(target) for target in TARGETS}


@pytest.fixture(scope="module")
def production(rendered: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return rendered["overlays/production"]


def _workloads(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if pod_spec(d) is not None]


def test_every_manifest_validates_against_the_kubernetes_schemas(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    problems = []
    for target, docs in rendered.items():
        for doc in docs:
            if doc["kind"] in CUSTOM_KINDS:
                continue
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                problems.append(f"{target} {doc['kind']}/{doc['metadata']['name']}: {error}")
    assert not problems, "\n".join(problems)


def test_an_unknown_field_is_refused_by_the_validation() -> None:
    """The check above has teeth: strict validation refuses a misspelt field."""
    bad = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 80}], "selectr": {"a": "b"}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def test_every_container_is_hardened(rendered: dict[str, list[dict[str, Any]]]) -> None:
    problems = []
    for target, docs in rendered.items():
        for doc in _workloads(docs):
            where = f"{target} {doc['kind']}/{doc['metadata']['name']}"
            spec = pod_spec(doc)
            assert spec is not None
            pod = spec.get("securityContext", {})
            if pod.get("runAsNonRoot") is not True or pod.get("seccompProfile") != {
                "type": "RuntimeDefault"
            }:
                problems.append(f"{where}: pod not runAsNonRoot with RuntimeDefault seccomp")
            for container in containers(doc):
                context = container.get("securityContext", {})
                expected = {
                    "runAsNonRoot": True,
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                }
                wrong = {k: context.get(k) for k, v in expected.items() if context.get(k) != v}
                if wrong:
                    problems.append(f"{where} {container['name']}: {wrong}")
                resources = container.get("resources", {})
                for part in ("requests", "limits"):
                    if set(resources.get(part, {})) != {"cpu", "memory"}:
                        problems.append(f"{where} {container['name']}: no cpu+memory {part}")
    assert not problems, "\n".join(problems)


def test_only_the_spark_drivers_mount_a_kubernetes_api_token(
    production: list[dict[str, Any]],
) -> None:
    mounting = {
        d["metadata"]["name"]
        for d in _workloads(production)
        if (pod_spec(d) or {}).get("automountServiceAccountToken") is not False
    }
    assert mounting == {"rwa-silver", "rwa-gold"}
    for account in (d for d in production if d["kind"] == "ServiceAccount"):
        assert account.get("automountServiceAccountToken") is False, account["metadata"]["name"]


def test_the_production_image_is_pinned_and_shared_by_the_spark_executors(
    production: list[dict[str, Any]],
) -> None:
    images = {c["image"] for d in _workloads(production) for c in containers(d)}
    assert len(images) == 1, images
    image = images.pop()
    assert re.search(r"(:[0-9][\w.-]*|@sha256:[0-9a-f]{64})$", image), image
    assert not image.endswith(":latest")
    for name in ("rwa-silver", "rwa-gold"):
        driver = named(production, "CronJob", name)
        (container,) = pod_spec(driver)["containers"]  # type: ignore[index]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["SPARK_IMAGE"] == image
        assert "spark.kubernetes.container.image=$(SPARK_IMAGE)" in container["args"]


def test_the_api_is_autoscaled_probed_on_health_and_protected_from_disruption(
    production: list[dict[str, Any]],
) -> None:
    deployment = named(production, "Deployment", "rwa-api")
    (container,) = pod_spec(deployment)["containers"]  # type: ignore[index]
    assert container["args"] == ["serve"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health", probe
    hpa = named(production, "HorizontalPodAutoscaler", "rwa-api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "rwa-api"
    assert hpa["spec"]["minReplicas"] == 5  # the seed's five API replicas
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    pdb = named(production, "PodDisruptionBudget", "rwa-api")
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    service = named(production, "Service", "rwa-api")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def _terraform_topic_partitions() -> dict[str, int]:
    variables = (TERRAFORM / "variables.tf").read_text()
    block = variables[variables.index('variable "kafka_topics"') :]
    block = block[: block.index("validation")]
    return {
        name: int(partitions)
        for name, partitions in re.findall(r'"([\w.-]+)"\s*=\s*\{\s*partitions\s*=\s*(\d+)', block)
    }


def test_landers_never_outnumber_the_partitions_of_the_busiest_topic(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    partitions = _terraform_topic_partitions()
    assert partitions, "no kafka_topics default found in infra/terraform/variables.tf"
    for target, docs in rendered.items():
        replicas = named(docs, "Deployment", "rwa-lander")["spec"]["replicas"]
        assert 1 <= replicas <= max(partitions.values()), (target, replicas, partitions)


def _declared_output_keys(output: str) -> set[str]:
    text = (TERRAFORM / "outputs.tf").read_text()
    block = text[text.index(f'output "{output}"') :]
    block = block[: block.index("\noutput ")] if "\noutput " in block else block
    return set(re.findall(r"^\s*([A-Z][A-Z0-9_]+)\s*=", block, re.MULTILINE))


def test_the_production_settings_are_terraforms_kubernetes_settings_output() -> None:
    declared = _declared_output_keys("kubernetes_settings")
    assert {"RWA_LAKE_ROOT", "RWA_KAFKA_BOOTSTRAP_SERVERS", "DELTA_DYNAMO_TABLE_NAME"} <= declared
    assert set(env_file(KUBERNETES / "overlays/production/terraform.env")) == declared


def test_every_setting_a_workload_reads_is_a_known_variable(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    known = {f"RWA_{name.upper()}" for name in variable_owners()} | FOREIGN_VARIABLES
    for target, docs in rendered.items():
        config = named(docs, "ConfigMap", _settings_map_name(docs))["data"]
        assert not set(config) - known, (target, set(config) - known)
        for doc in _workloads(docs):
            for container in containers(doc):
                names = {e["name"] for e in container.get("env", [])}
                rwa = {n for n in names if n.startswith("RWA_")}
                assert not rwa - known, (target, doc["metadata"]["name"], rwa - known)


def _settings_map_name(docs: list[dict[str, Any]]) -> str:
    (name,) = [
        d["metadata"]["name"]
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("rwa-settings-")
    ]
    return name


# Stand-ins for the keys of rwa-secrets, each of the shape its setting expects.
SECRET_VALUES = {
    "RWA_TIMESCALE_DSN": "postgresql://rwa@timescale.internal:5432/rwa",
    "RWA_OPS_DB_URL": "postgresql+psycopg://rwa@ops.internal:5432/ops",
    "RWA_JWT_SECRET": "k" * 48,
    "RWA_REDIS_URL": "redis://redis.internal:6379/0",
    "RWA_ALERT_WEBHOOK_URL": "https://hooks.example.com/rwa",
}


def _container_variables(config: dict[str, str], container: dict[str, Any]) -> dict[str, str]:
    """The RWA_* environment a container starts with: the ConfigMap, then its own env."""
    variables = {k: v for k, v in config.items() if k.startswith("RWA_")}
    for entry in container.get("env", []):
        source = entry.get("valueFrom", {})
        if "secretKeyRef" in source:
            key = source["secretKeyRef"]["key"]
            variables[entry["name"]] = SECRET_VALUES.get(key, "secret-value")
        elif "fieldRef" in source:
            variables[entry["name"]] = "10.0.0.7"  # the pod's address
        else:
            variables[entry["name"]] = entry["value"]
    return {k: v for k, v in variables.items() if k.startswith("RWA_")}


def test_every_container_starts_with_settings_the_code_accepts(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """The ConfigMap plus each container's own variables (secrets as stand-ins) load as
    Settings: a setting that needs another one (the Redis event transport needs its URL) is
    given to the same container."""
    for target, docs in rendered.items():
        config = named(docs, "ConfigMap", _settings_map_name(docs))["data"]
        for doc in _workloads(docs):
            spec = pod_spec(doc)
            assert spec is not None
            for container in spec["containers"]:
                variables = _container_variables(config, container)
                values = {
                    key.removeprefix("RWA_").lower(): value.replace(
                        "TERRAFORM_OUTPUT_lake_root", "s3://rwa-prod-lake/lake"
                    )
                    for key, value in variables.items()
                }
                where = (target, doc["metadata"]["name"], container["name"])
                try:
                    settings = Settings.model_validate(values)
                except ValueError as error:
                    pytest.fail(f"{where}: {error}")
                assert settings.orchestration.deployment == "production", where
    api = named(rendered["overlays/production"], "Deployment", "rwa-api")
    (container,) = pod_spec(api)["containers"]  # type: ignore[index]
    config = named(
        rendered["overlays/production"],
        "ConfigMap",
        _settings_map_name(rendered["overlays/production"]),
    )["data"]
    variables = _container_variables(config, container)
    assert variables["RWA_API_HOST"] == "0.0.0.0"
    assert variables["RWA_RATE_LIMIT_STORAGE"].startswith("redis://")


def test_every_secret_a_workload_reads_is_filled_by_the_external_secret(
    production: list[dict[str, Any]],
) -> None:
    external = named(production, "ExternalSecret", "rwa-secrets")
    assert external["apiVersion"].startswith("external-secrets.io/")
    assert external["spec"]["target"]["name"] == "rwa-secrets"
    filled = {item["secretKey"] for item in external["spec"]["data"]}
    read = {
        e["valueFrom"]["secretKeyRef"]["key"]
        for d in _workloads(production)
        for c in containers(d)
        for e in c.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
        and e["valueFrom"]["secretKeyRef"]["name"] == "rwa-secrets"
    }
    assert read <= filled, read - filled


def test_the_secrets_terraform_creates_are_referenced_by_their_terraform_names(
    production: list[dict[str, Any]],
) -> None:
    """Terraform names its secrets <project>-<environment>/timescale/dsn and
    <project>-<environment>/source/<name>/api-key (output secret_names)."""
    prod = (TERRAFORM / "envs/prod.tfvars").read_text()
    environment = re.search(r'^environment\s*=\s*"([^"]+)"', prod, re.MULTILINE)
    assert environment is not None
    prefix = f"rwa-{environment.group(1)}"
    remote = {
        item["secretKey"]: item["remoteRef"]["key"]
        for item in named(production, "ExternalSecret", "rwa-secrets")["spec"]["data"]
    }
    assert remote["RWA_TIMESCALE_DSN"] == f"{prefix}/timescale/dsn"
    assert remote["RWA_FRED_API_KEY"] == f"{prefix}/source/fred/api-key"
    assert remote["RWA_NEWSAPI_KEY"] == f"{prefix}/source/newsapi/api-key"
    assert all(key.startswith(f"{prefix}/") for key in remote.values()), remote
    assert "secret_names" in (TERRAFORM / "outputs.tf").read_text()


def test_network_policies_deny_by_default_and_name_the_vpc_of_terraform(
    production: list[dict[str, Any]],
) -> None:
    deny = named(production, "NetworkPolicy", "rwa-default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    vpc = named(production, "NetworkPolicy", "rwa-egress-vpc-services")
    cidr = vpc["spec"]["egress"][0]["to"][0]["ipBlock"]["cidr"]
    prod = (TERRAFORM / "envs/prod.tfvars").read_text()
    assert f'vpc_cidr                   = "{cidr}"' in prod or f'vpc_cidr = "{cidr}"' in prod
    # Every pod is selected by a policy allowing DNS, or nothing would resolve a name.
    dns = named(production, "NetworkPolicy", "rwa-allow-dns")
    assert dns["spec"]["podSelector"] == {}


def test_the_spark_driver_may_manage_pods_in_its_namespace_only(
    production: list[dict[str, Any]],
) -> None:
    assert not [d for d in production if d["kind"] in {"ClusterRole", "ClusterRoleBinding"}]
    role = named(production, "Role", "rwa-spark-driver")
    assert role["metadata"]["namespace"] == "rwa"
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert "pods" in resources and "secrets" not in resources
    binding = named(production, "RoleBinding", "rwa-spark-driver")
    assert binding["subjects"][0]["name"] == "rwa-spark"
