"""The client against the API's own description, without a server: every operation of the
OpenAPI document has a client operation with the same query parameters (and the client calls
nothing the API lacks), and the client stays apart from the server (the import-linter
contract names every package of the API, and importing it loads none of them)."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import re
import subprocess
import sys
import tomllib
import types
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import httpx
import pytest

from api.client import OPERATIONS, Client, Operation
from api.client.data import AssetClass, Resolution
from api.client.resource import Resource
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


def _dummy(hint: Any) -> Any:
    """A value of type ``hint`` to call a method with."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return args[0]
    if origin in (Union, types.UnionType):
        return _dummy(next(arg for arg in args if arg is not type(None)))
    if origin is not None:  # Mapping[...], Iterable[...]
        return {} if "Mapping" in str(origin) else [_dummy(args[0])]
    samples = {dt.datetime: dt.datetime(2024, 1, 2, tzinfo=dt.UTC), str: "x", int: 1}
    return samples.get(hint) or {bool: True, float: 1.5, Decimal: Decimal("1.5")}[hint]


def _public_methods(client: Client) -> Iterator[tuple[str, Callable[..., Any]]]:
    yield "health", client.health
    for resource_name, resource in vars(client).items():
        if isinstance(resource, Resource):
            for name, method in inspect.getmembers(resource, inspect.ismethod):
                if not name.startswith("_"):
                    yield f"{resource_name}.{name}", method


def test_every_client_operation_is_called_by_a_method_with_every_parameter() -> None:
    """Each public method, called with every parameter it has (to a fake server), sends one
    request that is a declared operation with declared parameters; together they send every
    operation of the table."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={}, headers={"Content-Type": "application/json"})

    fake = httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(answer))
    called: dict[Operation, str] = {}
    for name, method in _public_methods(Client(api_key="rwa_test", http=fake)):
        hints = get_type_hints(method)
        parameters = inspect.signature(method).parameters.values()
        arguments = {
            p.name: _dummy(hints[p.name])
            for p in parameters
            if p.kind is not p.VAR_KEYWORD and p.name != "save_to"
        }
        del sent[:]
        outcome = method(**arguments)
        if inspect.isgenerator(outcome):
            list(outcome)  # the event stream: the request goes out at the first read
        (request,) = sent
        (op,) = [op for op in OPERATIONS if _matches(op, request)]
        sent_params = set(request.url.params.keys())
        assert sent_params <= set(op.query), name
        # Every parameter of the operation reachable from the method (an alias excepted).
        assert set(op.query) - sent_params <= {"interval"}, (name, set(op.query) - sent_params)
        called[op] = name
    assert [op for op in OPERATIONS if op not in called] == []


def _matches(op: Operation, request: httpx.Request) -> bool:
    pattern = "[^/]+".join(re.escape(part) for part in re.split(r"\{[a-z_]+\}", op.path))
    return request.method == op.method and re.fullmatch(pattern, request.url.path) is not None
