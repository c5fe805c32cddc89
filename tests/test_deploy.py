"""The Kubernetes manifests in deploy/k8s: valid against Kubernetes' own schemas (kubernetes-validate,
offline), and consistent with the service: probes on its routes, a grace period longer than its drain,
the image's user."""

import pytest
import yaml

from tests.conftest import REPO

MANIFESTS = sorted((REPO / "deploy" / "k8s").glob("*.yaml"))
KUBERNETES = "1.30.0"


def _documents() -> list[dict]:
    return [d for path in MANIFESTS for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize("document", _documents(), ids=lambda d: d["kind"])
def test_each_manifest_is_valid_kubernetes(document: dict) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    kubernetes_validate.validate(document, KUBERNETES, strict=True)  # raises on any unknown or bad field


def test_the_deployment_fits_the_service() -> None:
    from app.settings import Settings

    kinds = {d["kind"]: d for d in _documents()}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= set(kinds)
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert set(env) <= {f"NER_{name.upper()}" for name in Settings.model_fields} | {"OMP_NUM_THREADS"}
    drain = int(env.get("NER_DRAIN_S") or Settings().drain_s)
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > pre_stop + drain  # the drain ends before SIGKILL
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's user (Dockerfile)
    assert (
        kinds["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"]
        == kinds["Deployment"]["metadata"]["name"]
    )
