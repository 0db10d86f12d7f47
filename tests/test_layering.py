"""The packages keep the layering of docs/architecture.md: import-linter's contracts
(``[tool.importlinter]`` in pyproject.toml) hold on the whole tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def test_every_import_contract_is_kept() -> None:
    done = subprocess.run(
        [LINT_IMPORTS, "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-6000:]
    assert "0 broken" in report
