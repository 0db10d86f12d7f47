"""Smoke test of the built container image (``bash infra/image/build.sh``): its filesystem is
mounted read-only with ``podman image mount`` and commands run in it with ``chroot`` as the
image's user (running a container does not work on these machines: cgroups).

The image build is a separate step (docs/deployment.md gives its times): without podman or
without the image these tests are skipped, unless ``RWA_TEST_REQUIRE_IMAGE=1``. The image tested
is ``RWA_IMAGE`` (default ``localhost/rwa-lakehouse:latest``, the last build).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

IMAGE = os.environ.get("RWA_IMAGE", "localhost/rwa-lakehouse:latest")
USER = "10001:10001"
# Every module of the four packages, imported in the image: a dependency missing from the
# image (no dev extras, Debian's Python and libraries) fails here. Alembic's migration
# environment runs only under alembic, so it is left out.
IMPORT_EVERYTHING = """
import importlib, pkgutil
count = 0
for name in ("pipelines", "models", "api", "dagster_project"):
    package = importlib.import_module(name)
    count += 1
    for module in pkgutil.walk_packages(package.__path__, name + "."):
        if ".migrations" in module.name or module.name.endswith("__main__"):
            continue
        importlib.import_module(module.name)
        count += 1
print("imported", count)
"""


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("RWA_TEST_REQUIRE_IMAGE") == "1":
        pytest.fail(f"{reason} (required because RWA_TEST_REQUIRE_IMAGE=1)", pytrace=False)
    pytest.skip(f"{reason}; build it with: bash infra/image/build.sh")


def _podman(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    """The image's filesystem, mounted read-only (with /proc and /dev for the JVM)."""
    if shutil.which("podman") is None or os.geteuid() != 0:
        _skip_or_fail("podman (as root) is not available")
    if _podman("image", "exists", IMAGE).returncode != 0:
        _skip_or_fail(f"image {IMAGE} not built")
    # Two test runs on one machine share the image's mount: one must not unmount the /proc,
    # /dev and /tmp the other is using.
    lock = (Path(tempfile.gettempdir()) / "rwa-image-smoke.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    binds: list[Path] = []
    try:
        mounted = _podman("image", "mount", IMAGE)
        assert mounted.returncode == 0, mounted.stderr
        path = Path(mounted.stdout.strip())
        for source in ("/proc", "/dev"):
            target = path / source.lstrip("/")
            subprocess.run(["mount", "--rbind", source, str(target)], check=True)
            binds.append(target)
        # A writable /tmp, as the pods' emptyDir (Spark writes its scratch files there).
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(path / "tmp")], check=True
        )
        binds.append(path / "tmp")
        yield path
    finally:
        for target in reversed(binds):
            subprocess.run(["umount", "-R", "-l", str(target)], check=False)
        _podman("image", "unmount", IMAGE)
        lock.close()


def _in_image(root: Path, *command: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """COMMAND run in the image as its user, with the environment the image sets (+ extra)."""
    config = json.loads(_podman("image", "inspect", IMAGE).stdout)[0]["Config"]
    environment = dict(item.split("=", 1) for item in config["Env"]) | extra
    return subprocess.run(
        ["chroot", f"--userspec={USER}", str(root), *command],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_entrypoint_runs_rwa_as_the_images_user(root: Path) -> None:
    config = json.loads(_podman("image", "inspect", IMAGE).stdout)[0]["Config"]
    assert config["User"] == USER
    assert config["Entrypoint"] == ["/usr/local/bin/rwa-entrypoint"]
    result = _in_image(root, "/usr/local/bin/rwa-entrypoint", "--help")
    assert result.returncode == 0, result.stderr
    for command in ("serve", "land", "silver", "alerts"):
        assert command in result.stdout


def test_every_package_imports_in_the_image(root: Path) -> None:
    result = _in_image(root, "/opt/rwa/bin/python", "-c", IMPORT_EVERYTHING)
    assert result.returncode == 0, result.stderr[-4000:]
    assert int(result.stdout.split()[-1]) > 100, result.stdout


def test_the_image_has_spark_java_and_no_dev_tools(root: Path) -> None:
    java = _in_image(root, "/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "-version")
    assert java.returncode == 0, java.stderr
    assert 'version "17' in java.stderr
    spark = root / "opt/rwa/lib/python3.11/site-packages/pyspark/jars"
    assert next(spark.glob("spark-kubernetes_*.jar"), None), "no Spark-on-Kubernetes JAR"
    assert (root / "opt/rwa/bin/spark-submit").is_file()
    assert (root / "opt/rwa/bin/dagster-webserver").is_file()
    site = root / "opt/rwa/lib/python3.11/site-packages"
    for dev_only in ("pytest", "mypy", "ruff", "schemathesis", "playwright", "checkov"):
        assert not (site / dev_only).exists(), f"{dev_only} is a dev tool, not in the image"


def test_spark_submit_runs_rwa_through_the_images_entry_file(root: Path) -> None:
    """What the Spark CronJobs run (infra/kubernetes/base/spark.yaml), in local mode."""
    result = _in_image(
        root,
        "/usr/local/bin/rwa-entrypoint",
        "--",
        "spark-submit",
        "--master",
        "local[1]",
        "/opt/rwa/share/spark/rwa_main.py",
        "silver",
        "--help",
        # As the CronJobs set it from the pod's address (the chroot has no hosts entry for the
        # machine's name, which Spark would otherwise resolve).
        SPARK_LOCAL_IP="127.0.0.1",
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "availableNow" in result.stdout or "usage: rwa silver" in result.stdout
