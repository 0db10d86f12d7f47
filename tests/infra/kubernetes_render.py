"""Rendering of the kustomize layout in ``infra/kubernetes`` for the tests of this folder.

kustomize itself renders (``kubectl kustomize``, or a ``kustomize`` binary): the tests check what
``kubectl apply -k`` would send, not a re-implementation of overlays. Without either binary the
tests are skipped with the reason, unless ``RWA_TEST_REQUIRE_SERVICES=1``: then they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = REPO_ROOT / "infra" / "kubernetes"
TERRAFORM = REPO_ROOT / "infra" / "terraform"
# Every kustomization a user applies: the base alone and each overlay.
TARGETS = ("base", "overlays/dev", "overlays/production")
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}


def unavailable(reason: str) -> None:
    if os.environ.get("RWA_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (required because RWA_TEST_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def kustomize_command() -> list[str]:
    binary = os.environ.get("RWA_KUSTOMIZE_BIN") or shutil.which("kustomize")
    if binary:
        return [binary, "build"]
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    unavailable("neither kustomize nor kubectl (with its built-in kustomize) is on PATH")
    raise AssertionError("unreachable")


def render(target: str) -> list[dict[str, Any]]:
    """The documents ``kubectl apply -k infra/kubernetes/<target>`` would apply."""
    result = subprocess.run(
        [*kustomize_command(), str(KUBERNETES / target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kustomize failed on {target}:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template's spec of a workload, None for other kinds."""
    if doc["kind"] not in POD_TEMPLATE_KINDS:
        return None
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: dict[str, Any] = spec["template"]["spec"]
    return template


def containers(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = pod_spec(doc)
    if spec is not None:
        yield from spec.get("initContainers", [])
        yield from spec["containers"]


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a kustomize env file (comments and blank lines skipped)."""
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs
