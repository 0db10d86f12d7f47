"""The security scan of the infrastructure code: ``checkov`` over ``infra/terraform`` and over
the Kubernetes manifests as kustomize renders them (every overlay), with ``infra/checkov.yaml``
(every check that is skipped there says why). Any failed check fails the test with checkov's
own description of it.

checkov takes many seconds to start, so it runs once for both frameworks (a module fixture),
from its own venv (``.venv-checkov``, made by ``infra/local/install.sh``: its pins conflict with
the project's). Override the binary with ``RWA_CHECKOV_BIN``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.kubernetes_render import REPO_ROOT, TARGETS, render, unavailable

CONFIG = REPO_ROOT / "infra" / "checkov.yaml"
TIMEOUT_S = 600


def _checkov() -> str:
    candidates = [
        os.environ.get("RWA_CHECKOV_BIN"),
        str(REPO_ROOT / ".venv-checkov" / "bin" / "checkov"),
        shutil.which("checkov"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    unavailable("checkov not found (bash infra/local/install.sh makes .venv-checkov)")
    raise AssertionError("unreachable")


def _scan(*args: str) -> list[dict[str, Any]]:
    """checkov's reports (one per framework) for the given target."""
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run(
        [_checkov(), "--config-file", str(CONFIG), "--output", "json", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        cwd=REPO_ROOT,
        env=env,
        check=False,
    )
    # Exit 1 means failed checks (read from the report); anything else is checkov failing.
    assert result.returncode in (0, 1), f"checkov exited {result.returncode}\n{result.stderr}"
    # One JSON document per --directory, each a report or a list of reports.
    decoder, text, reports = json.JSONDecoder(), result.stdout.strip(), []
    while text:
        document, end = decoder.raw_decode(text)
        reports.extend(document if isinstance(document, list) else [document])
        text = text[end:].lstrip()
    return reports


def _failures(reports: list[dict[str, Any]]) -> list[str]:
    return [
        f"{check['check_id']} {check['check_name']}: {check['resource']} "
        f"({check['file_path']}:{check.get('file_line_range', ['?'])[0]})"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]


def _passed(reports: list[dict[str, Any]]) -> int:
    return sum(report.get("summary", {}).get("passed", 0) for report in reports)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """One checkov run (one start-up) over Terraform and the rendered manifests, by framework."""
    # The rendered overlays: what is applied, namespace and patches included (the base alone
    # is never applied: it has no namespace).
    folder = tmp_path_factory.mktemp("rendered")
    for target in (t for t in TARGETS if t.startswith("overlays/")):
        (folder / f"{target.replace('/', '-')}.yaml").write_text(
            yaml.safe_dump_all(render(target), sort_keys=False)
        )
    scanned = _scan(
        "--directory", "infra/terraform", "--directory", str(folder),
        "--framework", "terraform", "kubernetes",
    )  # fmt: skip
    by_framework: dict[str, list[dict[str, Any]]] = {"terraform": [], "kubernetes": []}
    for report in scanned:
        by_framework.setdefault(report.get("check_type", "?"), []).append(report)
    return by_framework


def test_terraform_passes_the_security_scan(reports: dict[str, list[dict[str, Any]]]) -> None:
    assert _passed(reports["terraform"]) > 50, "checkov checked (almost) nothing"
    failures = _failures(reports["terraform"])
    assert not failures, "\n".join(failures)


def test_kubernetes_manifests_pass_the_security_scan(
    reports: dict[str, list[dict[str, Any]]],
) -> None:
    assert _passed(reports["kubernetes"]) > 100, "checkov checked (almost) nothing"
    failures = _failures(reports["kubernetes"])
    assert not failures, "\n".join(failures)
