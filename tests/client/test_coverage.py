"""The client against the API's own description, without a server: every operation of the
OpenAPI document has a client operation with the same query parameters (and the client calls
nothing the API lacks), and the client stays apart from the server (the import-linter
contract names every package of the API, and importing it loads none of them)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, get_args

import pytest

from api.client import OPERATIONS, Client
from api.client.data import AssetClass, Resolution
from api.main import create_app

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def _api_operations(document: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    return {
        (method.upper(), path): {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        for path, methods in document["paths"].items()
        for method, op in methods.items()
    }


def test_every_api_operation_has_a_client_operation_with_its_parameters(
    document: dict[str, Any],
) -> None:
    Client("http://127.0.0.1:9")  # the resources are imported, so every operation declared
    client = {(op.method, op.path): set(op.query) for op in OPERATIONS}
    api = _api_operations(document)
    assert len(client) == len(OPERATIONS), "an operation is declared twice"
    assert sorted(api.keys() - client.keys()) == [], "API operations without a client method"
    assert sorted(client.keys() - api.keys()) == [], "client operations the API does not have"
    wrong = {key: (client[key], api[key]) for key in api if client[key] != api[key]}
    assert wrong == {}, "query parameters differ (client, API)"


def test_the_clients_choices_are_the_apis(document: dict[str, Any]) -> None:
    # The client cannot import the server's enums: its Literals are checked against the API.
    parameters = {
        (path, p["name"]): json.dumps(p["schema"])
        for path, methods in document["paths"].items()
        for p in methods.get("get", {}).get("parameters", [])
    }
    for (path, name), choice in [
        (("/assets", "asset_class"), AssetClass),
        (("/assets/{asset_id}/ohlcv", "resolution"), Resolution),
    ]:
        enum = json.loads(parameters[path, name])["anyOf"][0]["enum"]
        assert sorted(enum) == sorted(get_args(choice)), (path, name)


def test_the_client_imports_nothing_of_the_server() -> None:
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in contracts["contracts"] if c["id"] == "client-without-server"]
    packages = {
        f"api.{path.stem}"
        for path in (REPO / "api").iterdir()
        if path.name not in ("client", "__init__.py", "__pycache__")
        and (path.suffix == ".py" or (path / "__init__.py").exists())
    }
    assert packages - set(contract["forbidden_modules"]) == set(), "add them to the contract"
    # What a script's `from api.client import Client` loads: no web framework, no store.
    probe = "import sys, json, api.client; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", probe], cwd=REPO, check=True, capture_output=True, text=True
        ).stdout
    )
    ours = {m for m in loaded if m.split(".")[0] in ("api", "pipelines", "models")}
    assert {m for m in ours if not m.startswith("api.client")} == {"api"}
    assert not {"fastapi", "starlette", "sqlalchemy", "pyarrow", "pandas"} & set(loaded)
