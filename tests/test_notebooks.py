"""The notebooks as committed, and the command that opens them. Running them on the demo's
data is tests/test_demo_e2e.py's (it owns the suite's one `rwa demo`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import nbformat
import pytest

from tests.fixtures.notebooks import NOTEBOOKS, REPO_ROOT, notebook_paths, saved_outputs
from tests.fixtures.processes import free_port, http_ok, running

#: What the quant section of the README promises, in the order it lists them.
EXPECTED = ["01_lake_tour", "02_forecasting", "03_risk_and_backtests", "04_api_client"]


def test_the_four_notebooks_are_there_and_documented() -> None:
    assert [path.stem for path in notebook_paths()] == EXPECTED
    listed = (NOTEBOOKS / "README.md").read_text()
    readme = (REPO_ROOT / "README.md").read_text()
    for name in EXPECTED:
        assert f"{name}.ipynb" in listed and f"{name}.ipynb" in readme, name


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda path: path.stem)
def test_committed_notebook_has_no_outputs_and_opens_with_a_narrative(path: Path) -> None:
    """Outputs stay out of git (they hold the data of whoever ran it last, and make diffs
    unreadable): clear them before committing (JupyterLab: Edit > Clear Outputs of All Cells)."""
    assert saved_outputs(path) == [], f"{path.name}: clear the outputs before committing"
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), path.name
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_saved_outputs_are_found(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# A"),
        nbformat.v4.new_code_cell("1", execution_count=3),
        nbformat.v4.new_code_cell(
            "print(2)", outputs=[nbformat.v4.new_output("stream", text="2\n")]
        ),
        nbformat.v4.new_code_cell("3"),
    ]
    path = tmp_path / "run.ipynb"
    nbformat.write(notebook, path)
    assert saved_outputs(path) == ["cell 2", "cell 3"]


def test_lab_command_serves_the_notebooks_on_loopback(tmp_path: Path) -> None:
    """`bash infra/local/lab.sh` (the README's one command) starts JupyterLab on 127.0.0.1
    with a token: it answers HTTP, lists the notebooks only with the token it printed."""
    port = free_port()
    env = {
        **os.environ,
        "RWA_LAB_PORT": str(port),
        # Jupyter's runtime files (cookie secret, server info) in the test's folder
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
    }
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "lab.log"
    command = ["bash", str(REPO_ROOT / "infra/local/lab.sh")]
    with running(command, port, log, env=env, ready=http_ok(f"{url}/api")):
        printed = re.search(rf"{re.escape(url)}/lab\?token=(\w+)", log.read_text())
        assert printed is not None, log.read_text()[-2000:]
        assert httpx.get(f"{url}/api/contents", timeout=30).status_code == 403
        listing = httpx.get(
            f"{url}/api/contents", params={"token": printed.group(1)}, timeout=30
        ).json()
        assert {item["name"] for item in listing["content"]} >= {f"{n}.ipynb" for n in EXPECTED}
