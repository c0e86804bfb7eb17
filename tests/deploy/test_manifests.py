"""Deployment files parse and hang together: Kubernetes manifests, the compose file, the image and gunicorn."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kubernetes_objects() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    objects = []
    for resource in kustomization["resources"]:
        objects += documents(K8S / resource)
    return objects


def one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in kubernetes_objects() if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def test_every_object_is_well_formed():
    objects = kubernetes_objects()
    assert len(objects) >= 10
    for obj in objects:
        assert obj.get("apiVersion") and obj.get("kind") and obj.get("metadata", {}).get("name"), obj


def test_api_deployment_is_probed_limited_and_unprivileged():
    deployment = one("Deployment", "egov-api")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    assert spec["replicas"] >= 2
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = next(c for c in pod["containers"] if c["name"] == "api")
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    env = {e["name"]: e.get("value") for e in container["env"]}
    # Secrets arrive as files, never as literal values in the manifest.
    assert env["EGOV_PKCS11_PIN_FILE"].startswith("/run/secrets/")
    assert env["EGOV_DATABASE_URL_FILE"].startswith("/run/secrets/")
    config = one("ConfigMap", "egov-api")["data"]
    assert config["EGOV_KEY_BACKEND"] == "pkcs11" and config["EGOV_PKCS11_MODULE"].endswith(".so")
    secret_volumes = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert {"egov-api", "hsm-client"} <= secret_volumes


KEYCLOAK_ADMIN = re.compile(r"keycloak[_-]?admin|admin[_-]?password|bootstrap[_-]?admin", re.IGNORECASE)


def test_api_secret_files_are_keys_of_the_mounted_secret():
    pod = one("Deployment", "egov-api")["spec"]["template"]["spec"]
    example = {s["metadata"]["name"]: s for s in documents(K8S / "secrets.example.yaml")}
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in pod["volumes"]}
        for variable in container.get("env", []):
            if not variable["name"].endswith("_FILE"):
                continue
            directory, key = variable["value"].rsplit("/", 1)
            secret = volumes[mounts[directory]]["secret"]["secretName"]
            assert key in example[secret]["stringData"], (container["name"], variable["name"])


def test_api_reads_users_with_the_directory_secret_never_the_keycloak_admin_password():
    pod = one("Deployment", "egov-api")["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "api")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["EGOV_KEYCLOAK_DIRECTORY_SECRET_FILE"].startswith("/run/secrets/")
    example = next(s for s in documents(K8S / "secrets.example.yaml") if s["metadata"]["name"] == "egov-api")
    for what in (pod, one("ConfigMap", "egov-api"), example):
        assert not KEYCLOAK_ADMIN.search(yaml.safe_dump(what)), what
    api = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())["services"]["api"]
    assert api["environment"]["EGOV_KEYCLOAK_DIRECTORY_SECRET_FILE"] == "/run/secrets/keycloak_directory_secret"
    assert "keycloak_directory_secret" in api["secrets"]
    assert not KEYCLOAK_ADMIN.search(yaml.safe_dump(api)), api


def test_service_and_autoscaler_target_the_deployment():
    deployment = one("Deployment", "egov-api")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = one("Service", "egov-api")
    assert service["spec"]["selector"].items() <= labels.items()
    hpa = one("HorizontalPodAutoscaler", "egov-api")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "egov-api"}
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def test_keycloak_runs_through_the_operator_on_the_cnpg_database():
    keycloak = one("Keycloak")
    assert keycloak["apiVersion"] == "k8s.keycloak.org/v2beta1"
    assert keycloak["spec"]["instances"] >= 2
    database = keycloak["spec"]["db"]
    cluster = one("Cluster")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1" and cluster["spec"]["instances"] >= 3
    assert database["vendor"] == "postgres" and database["host"] == f"{cluster['metadata']['name']}-rw"
    assert database["passwordSecret"]["name"] == "keycloak-db"


def test_images_are_pinned():
    images = []
    for path in [*K8S.glob("*.yaml"), DEPLOY / "compose" / "compose.yaml"]:
        images += re.findall(r"image(?:Name)?:\s*(\S+)", path.read_text())
    assert images
    for image in images:
        assert ":" in image and not image.endswith(":latest"), image


def test_example_secrets_hold_no_real_values():
    for secret in documents(K8S / "secrets.example.yaml"):
        for key, value in secret["stringData"].items():
            assert "CHANGE-ME" in value or key in ("config", "username"), (secret["metadata"]["name"], key)


def test_compose_has_database_keycloak_api_and_tls_proxy():
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "keycloak", "api", "proxy"} <= services.keys()
    assert "443:443" in services["proxy"]["ports"]
    assert services["keycloak"]["environment"]["KC_DB"] == "postgres"
    declared = set(compose["secrets"])
    for name, service in services.items():
        assert set(service.get("secrets", [])) <= declared, name
        for variable, value in (service.get("environment") or {}).items():
            if variable.endswith("_FILE") and value.startswith("/run/secrets/"):
                assert value.removeprefix("/run/secrets/") in service["secrets"], (name, variable)
    caddyfile = (DEPLOY / "compose" / "Caddyfile").read_text()
    assert caddyfile.count("tls /etc/caddy/tls/") == 2 and "reverse_proxy api:8080" in caddyfile


def test_image_copies_what_exists_and_runs_unprivileged():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    root = DEPLOY.parent
    for source in re.findall(r"^COPY (\S+) ", dockerfile, re.MULTILINE):
        assert (root / source).exists(), source
    assert re.search(r"^USER 10001$", dockerfile, re.MULTILINE)


def test_gunicorn_config_keeps_query_strings_out_of_logs():
    namespace: dict[str, Any] = {}
    exec(compile((DEPLOY / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    assert namespace["workers"] >= 2
    assert "%(q)s" not in namespace["access_log_format"] and "%(r)s" not in namespace["access_log_format"]


@pytest.mark.parametrize("path", sorted(K8S.glob("*.yaml")), ids=lambda p: p.name)
def test_each_manifest_parses(path: Path):
    assert documents(path)
