"""Static checks of the AWS infrastructure code in ``infra/terraform``.

Nothing is applied and no AWS credentials are used: a copy of the configuration is initialised
offline from the local provider folder (``terraform init -backend=false -plugin-dir=...``), then

- ``terraform validate -json`` must report a valid configuration,
- ``terraform fmt -check -recursive`` must find nothing to reformat,
- ``terraform test`` (mocked AWS provider, plans only) must pass: the security and behaviour
  properties asserted in ``infra/terraform/tests/`` hold,
- the whole configuration must plan (mocked) with the variables of every ``envs/*.tfvars``
  file: the environments' values satisfy every validation and precondition.

Without the terraform binary or the provider folder the tests are skipped with the reason,
unless ``RWA_TEST_REQUIRE_SERVICES=1``: then they fail, so CI cannot pass them as skips.
Override the locations with ``RWA_TERRAFORM_BIN`` and ``RWA_TF_PLUGIN_DIR``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_SOURCE = REPO_ROOT / "infra" / "terraform"
DEFAULT_PLUGIN_DIR = "/opt/tf-plugins"
ENVIRONMENTS = sorted(p.stem for p in (TERRAFORM_SOURCE / "envs").glob("*.tfvars"))
COMMAND_TIMEOUT_S = 300
# The test files use mock_provider (1.7) with override_during (1.11).
TERRAFORM_TEST_MIN_VERSION = (1, 11)


@dataclass(frozen=True)
class Workdir:
    """An initialised copy of the configuration and how to run terraform in it."""

    path: Path
    binary: str
    env: dict[str, str]
    version: tuple[int, int]

    @property
    def runs_terraform_test(self) -> bool:
        return self.version >= TERRAFORM_TEST_MIN_VERSION

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )


def _unavailable(reason: str) -> None:
    if os.environ.get("RWA_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (required because RWA_TEST_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def _describe(diagnostic: dict[str, Any]) -> str:
    where = diagnostic.get("range", {})
    line = where.get("start", {}).get("line", "?")
    return (
        f"{diagnostic.get('severity')}: {diagnostic.get('summary')} "
        f"{diagnostic.get('detail', '')} ({where.get('filename', '?')}:{line})"
    )


def _hermetic_env(scratch: Path) -> dict[str, str]:
    """The caller's environment without settings that would change what terraform checks."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TF_VAR_", "TF_CLI_ARGS", "TF_WORKSPACE", "TF_DATA_DIR"))
    }
    env.update(CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1", TF_INPUT="0")
    cli_config = env.get("TF_CLI_CONFIG_FILE")
    if cli_config is None or not Path(cli_config).is_file():
        # A missing CLI config only produces a warning on every command; use an empty one.
        empty = scratch / "terraformrc"
        empty.write_text("")
        env["TF_CLI_CONFIG_FILE"] = str(empty)
    return env


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Workdir:
    binary = os.environ.get("RWA_TERRAFORM_BIN") or shutil.which("terraform")
    if not binary or not Path(binary).is_file():
        _unavailable("terraform binary not found on PATH (or RWA_TERRAFORM_BIN)")
    plugin_dir = Path(os.environ.get("RWA_TF_PLUGIN_DIR", DEFAULT_PLUGIN_DIR))
    if not (plugin_dir / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        _unavailable(f"no local AWS provider at {plugin_dir}/registry.terraform.io/hashicorp/aws")

    scratch = tmp_path_factory.mktemp("terraform")
    path = scratch / "terraform"
    shutil.copytree(
        TERRAFORM_SOURCE,
        path,
        ignore=shutil.ignore_patterns(
            ".terraform", ".terraform.lock.hcl", "*.tfstate*", "*.tfplan"
        ),
    )
    env = _hermetic_env(scratch)
    version = subprocess.run(
        [str(binary), "version", "-json"], env=env, capture_output=True, text=True, check=True
    )
    major, minor = (int(x) for x in json.loads(version.stdout)["terraform_version"].split(".")[:2])
    work = Workdir(path=path, binary=str(binary), env=env, version=(major, minor))

    result = work.run(
        "init", "-backend=false", f"-plugin-dir={plugin_dir}", "-input=false", "-no-color"
    )
    assert result.returncode == 0, f"terraform init failed\n{_output(result)}"
    return work


def test_validate_reports_a_valid_configuration(workdir: Workdir) -> None:
    # The test files are validated by `terraform test` below (older CLIs cannot parse them);
    # leaving them out here saves a second load of the AWS provider schema.
    result = workdir.run("validate", "-json", "-no-color", "-no-tests")
    report = json.loads(result.stdout)
    diagnostics = "\n".join(_describe(d) for d in report.get("diagnostics", []))
    assert result.returncode == 0, f"terraform validate failed\n{diagnostics}\n{_output(result)}"
    assert report["valid"] is True, diagnostics
    assert report["error_count"] == 0, diagnostics


def test_fmt_finds_nothing_to_reformat(workdir: Workdir) -> None:
    result = workdir.run("fmt", "-check", "-recursive", "-diff", "-no-color")
    assert result.returncode == 0, (
        "terraform fmt would change these files; run `terraform fmt -recursive infra/terraform`\n"
        + _output(result)
    )


def test_timescale_user_data_renders_to_valid_bash(workdir: Workdir, tmp_path: Path) -> None:
    expression = (
        'templatefile("modules/serving/templates/user_data.sh.tftpl", {'
        'aws_region = "us-east-1", secret_arn = "arn:aws:secretsmanager:us-east-1:1:secret:x", '
        'volume_id = "vol-0123456789abcdef0", postgres_version = 17, database = "rwa", '
        'client_cidrs = ["10.40.0.0/16", "10.99.0.0/16"]})'
    )
    result = subprocess.run(
        [workdir.binary, "console", "-no-color"],
        input=expression,
        cwd=workdir.path,
        env=workdir.env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, _output(result)
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "<<EOT" and lines[-1] == "EOT", _output(result)
    script = tmp_path / "user_data.sh"
    script.write_text("\n".join(lines[1:-1]) + "\n")
    rendered = script.read_text()
    assert rendered.startswith("#!/bin/bash\n")
    assert 'VOLUME_ID="vol-0123456789abcdef0"' in rendered
    assert "hostssl $DB_NAME $DB_NAME 10.99.0.0/16 scram-sha-256" in rendered

    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, f"user_data is not valid bash:\n{syntax.stderr}"
    shellcheck = shutil.which("shellcheck")
    if shellcheck:
        lint = subprocess.run(
            [shellcheck, "-s", "bash", str(script)], capture_output=True, text=True
        )
        assert lint.returncode == 0, f"shellcheck findings in user_data:\n{lint.stdout}"


def test_environments_are_listed() -> None:
    assert {"dev", "prod"} <= set(ENVIRONMENTS), f"envs/*.tfvars found: {ENVIRONMENTS}"


def _require_terraform_test(workdir: Workdir) -> None:
    if not workdir.runs_terraform_test:
        wanted = ".".join(map(str, TERRAFORM_TEST_MIN_VERSION))
        found = ".".join(map(str, workdir.version))
        _unavailable(f"terraform test needs Terraform >= {wanted}, found {found}")


def test_terraform_test_suite_passes(workdir: Workdir) -> None:
    _require_terraform_test(workdir)
    result = workdir.run("test", "-no-color")
    assert result.returncode == 0, f"terraform test failed\n{_output(result)}"
    _assert_runs_passed(result)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environment_variables_plan_cleanly(workdir: Workdir, environment: str) -> None:
    _require_terraform_test(workdir)
    result = workdir.run(
        "test",
        "-filter=tests/environment.tftest.hcl",
        f"-var-file=envs/{environment}.tfvars",
        "-no-color",
    )
    assert result.returncode == 0, (
        f"terraform test failed for envs/{environment}.tfvars\n{_output(result)}"
    )
    _assert_runs_passed(result)


def _assert_runs_passed(result: subprocess.CompletedProcess[str]) -> None:
    summary = re.search(r"Success! (\d+) passed, 0 failed", result.stdout)
    assert summary and int(summary.group(1)) > 0, _output(result)
