"""deploy/ checked offline: the Kubernetes manifests (kustomize overlays) against the Kubernetes JSON
schemas (kubernetes-validate), the compose file against the compose specification (the schema that
check-jsonschema vendors), and the rules the architecture sets for both."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy.kustomize_lite import build

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = ("staging", "production")
KUBERNETES_VERSION = "1.32.0"
SUBGRAPHS = {"ingest": 4101, "indicators": 4102, "scoring": 4103, "appeals": 4104}
WORKLOADS = (*SUBGRAPHS, "gateway")
# Who may open a connection to each subgraph: the gateway, and the named service-to-service calls.
ALLOWED_CALLERS = {
    "ingest": {"gateway", "indicators", "scoring", "appeals"},  # every service: unit-directory snapshot
    "indicators": {"gateway", "scoring"},
    "scoring": {"gateway", "appeals"},
    "appeals": {"gateway"},
}


def _key(doc: dict) -> tuple[str, str, str | None, str]:
    return doc["apiVersion"], doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"]


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request) -> tuple[str, dict]:
    docs = build(DEPLOY / "k8s" / "overlays" / request.param)
    return request.param, {_key(d): d for d in docs}


def _find(docs: dict, kind: str, name: str) -> dict:
    [doc] = [d for (_, k, _, n), d in docs.items() if k == kind and n == name]
    return doc


def _of_kind(docs: dict, kind: str) -> list[dict]:
    return [d for (_, k, _, _), d in docs.items() if k == kind]


def test_every_manifest_is_valid_against_the_kubernetes_schemas(overlay):
    _, docs = overlay
    assert len(docs) >= 40
    for doc in docs.values():
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_kubernetes_validator_rejects_a_broken_manifest(overlay):
    _, docs = overlay
    broken = copy.deepcopy(_find(docs, "Deployment", "ingest"))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pathh"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = copy.deepcopy(_find(docs, "HorizontalPodAutoscaler", "ingest"))
    broken["spec"]["minReplicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with its built-in kustomize) is not installed")
@pytest.mark.parametrize("name", OVERLAYS)
def test_kustomize_lite_renders_what_kubectl_kustomize_renders(name):
    path = DEPLOY / "k8s" / "overlays" / name
    rendered = subprocess.run(["kubectl", "kustomize", str(path)], capture_output=True, text=True, check=True).stdout
    by_kubectl = {_key(d): d for d in yaml.safe_load_all(rendered) if d}
    by_lite = {_key(d): d for d in build(path)}
    assert by_lite.keys() == by_kubectl.keys()
    for key, doc in by_kubectl.items():
        assert by_lite[key] == doc, key


def test_workloads_have_probes_resources_and_run_unprivileged(overlay):
    _, docs = overlay
    for name in WORKLOADS:
        deployment = _find(docs, "Deployment", name)
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        main = pod["containers"][0]
        assert main["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert main["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), (name, container["name"])
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), (name, container["name"])
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
            assert security["capabilities"]["drop"] == ["ALL"]
            assert re.fullmatch(r"registry\.example\.gov\.cn/hotline/[a-z]+:[0-9][\w.-]*", container["image"])
        selector = deployment["spec"]["selector"]["matchLabels"]
        service = _find(docs, "Service", name)
        assert service["spec"]["selector"] == selector
        assert _find(docs, "PodDisruptionBudget", name)["spec"]["selector"]["matchLabels"] == selector
        hpa = _find(docs, "HorizontalPodAutoscaler", name)
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_every_service_has_a_migration_job_that_its_pods_wait_for(overlay):
    _, docs = overlay
    for name in SUBGRAPHS:
        job = _find(docs, "Job", f"migrate-{name}")
        [container] = job["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["alembic", "-c", f"services/{name}/alembic.ini", "upgrade", "head"]
        assert container["envFrom"] == [{"secretRef": {"name": f"hotline-db-{name}"}}]
        pod = _find(docs, "Deployment", name)["spec"]["template"]["spec"]
        assert container["image"] == pod["containers"][0]["image"]
        [wait] = pod["initContainers"]
        assert wait["image"] == container["image"]
        assert wait["command"] == ["python", "-m", "hotline.kit.migrations", "wait", f"services/{name}", name]
        # The service connects as its own database role, never another's.
        secrets = {e["secretRef"]["name"] for e in pod["containers"][0]["envFrom"] if "secretRef" in e}
        assert secrets == {"hotline-auth", f"hotline-db-{name}"}
        assert _find(docs, "Service", name)["spec"]["ports"][0]["port"] == SUBGRAPHS[name]


def _callers(policies: list[dict], app: str, port: int) -> set[str]:
    """Which app names the policies let open ``port`` on ``app``'s pods (within the namespace)."""
    callers: set[str] = set()
    for policy in policies:
        selected = policy["spec"]["podSelector"].get("matchLabels", {})
        if selected and selected.get("app.kubernetes.io/name") != app:
            continue
        for rule in policy["spec"].get("ingress", []):
            if not any(p["port"] == port for p in rule.get("ports", [{"port": port}])):
                continue
            assert "from" in rule, f"{policy['metadata']['name']} lets anyone reach {app}"
            for peer in rule["from"]:
                if "namespaceSelector" in peer:
                    assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
                    continue
                callers.add(peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"])
    return callers


def test_network_policies_let_only_the_gateway_and_named_calls_reach_the_subgraphs(overlay):
    _, docs = overlay
    policies = _of_kind(docs, "NetworkPolicy")
    deny = _find(docs, "NetworkPolicy", "default-deny-ingress")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    for name, port in SUBGRAPHS.items():
        assert _callers(policies, name, port) == ALLOWED_CALLERS[name], name
    # The gateway's public port is open; its metrics port only to Prometheus (no pod may reach it).
    assert _callers(policies, "gateway", 9464) == set()
    gateway = _find(docs, "Deployment", "gateway")["spec"]["template"]
    assert gateway["metadata"]["annotations"]["prometheus.io/port"] == "9464"
    env = {e["name"]: e["value"] for e in gateway["spec"]["containers"][0]["env"]}
    assert env["HOTLINE_GATEWAY_METRICS_PORT"] == "9464"


def test_secret_templates_hold_no_values(overlay):
    _, docs = overlay
    secrets = _of_kind(docs, "Secret")
    assert {s["metadata"]["name"] for s in secrets} == {"hotline-auth", *(f"hotline-db-{n}" for n in SUBGRAPHS)}
    for secret in secrets:
        # Labelled so that `kubectl apply -l 'app.kubernetes.io/component!=secret-template'` skips them.
        assert secret["metadata"]["labels"]["app.kubernetes.io/component"] == "secret-template"
        assert "data" not in secret
        assert all(value == "" for value in secret["stringData"].values()), secret["metadata"]["name"]


def test_overlays_differ_where_they_should():
    staging = {_key(d): d for d in build(DEPLOY / "k8s" / "overlays" / "staging")}
    production = {_key(d): d for d in build(DEPLOY / "k8s" / "overlays" / "production")}
    assert {k[2] for k in staging if k[1] != "Namespace"} == {"hotline-staging"}
    assert {k[2] for k in production if k[1] != "Namespace"} == {"hotline"}
    assert _find(staging, "Deployment", "scoring")["spec"]["replicas"] == 1
    assert _find(production, "Deployment", "scoring")["spec"]["replicas"] == 3
    assert _find(production, "HorizontalPodAutoscaler", "gateway")["spec"]["minReplicas"] == 3
    assert _find(production, "ConfigMap", "hotline-config")["data"]["HOTLINE_OTEL_EXPORTER"] == "otlp"
    assert _find(staging, "Namespace", "hotline-staging")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]


# --- compose ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_schema() -> dict:
    text = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    return json.loads(text)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _validate_compose(document: dict, schema: dict) -> None:
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class(schema, format_checker=validator_class.FORMAT_CHECKER).validate(document)


def test_compose_file_follows_the_compose_specification(compose, compose_schema):
    _validate_compose(compose, compose_schema)
    broken = copy.deepcopy(compose)
    broken["services"]["ingest"]["depends_on"]["migrate-ingest"]["condition"] = "when_it_feels_like_it"
    with pytest.raises(jsonschema.ValidationError):
        _validate_compose(broken, compose_schema)
    broken = copy.deepcopy(compose)
    broken["services"]["gateway"]["healthcheck"]["intervall"] = "10s"
    with pytest.raises(jsonschema.ValidationError):
        _validate_compose(broken, compose_schema)


def test_compose_migrates_each_schema_before_its_service_and_publishes_only_the_gateway(compose):
    services = compose["services"]
    assert "healthcheck" in services["postgres"]
    for name, port in SUBGRAPHS.items():
        migrate = services[f"migrate-{name}"]
        assert migrate["command"] == ["alembic", "-c", f"services/{name}/alembic.ini", "upgrade", "head"]
        assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert migrate["image"] == services[name]["image"] and migrate["build"] == services[name]["build"]
        assert migrate["build"]["args"] == {"SERVICE": name, "PORT": str(port)}
        service = services[name]
        assert service["depends_on"][f"migrate-{name}"]["condition"] == "service_completed_successfully"
        assert f"{port}/readyz" in " ".join(service["healthcheck"]["test"])
        assert "ports" not in service
        env_files = [e["path"] for e in service["env_file"]]
        assert env_files == ["./env/hotline.env", f"./env/{name}.env"]
    assert services["gateway"]["ports"] == ["${HOTLINE_GATEWAY_PUBLISH:-4000}:4000"]
    assert all(services["gateway"]["depends_on"][n]["condition"] == "service_healthy" for n in SUBGRAPHS)
    published = [n for n, s in services.items() if "ports" in s]
    assert published == ["gateway"]
    # Every env file the compose file names has a committed template (the real files are never committed).
    for service in services.values():
        for env_file in service.get("env_file", []):
            assert (DEPLOY / (env_file["path"] + ".example")).exists(), env_file["path"]


def test_dockerfiles_pin_their_base_run_unprivileged_and_check_health():
    for dockerfile in (DEPLOY / "docker").glob("*.Dockerfile"):
        text = dockerfile.read_text()
        bases = re.findall(r"^ARG \w+_IMAGE=(\S+)$", text, flags=re.MULTILINE)
        assert bases and all(re.fullmatch(r"[\w.-]+:[\w.-]+", b) and not b.endswith(":latest") for b in bases)
        assert "@sha256:<digest" in text, f"{dockerfile.name}: say how to pin the digest"
        user = re.findall(r"^USER (\S+)$", text, flags=re.MULTILINE)
        assert user and user[-1] not in {"root", "0", "0:0"}, dockerfile.name
        assert re.search(r"^HEALTHCHECK ", text, flags=re.MULTILINE), dockerfile.name
