"""The security middleware's edge paths on a small app (in process): bodies without a
Content-Length, a crashing route, and what the settings refuse."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from api.security import middleware
from pipelines.core.settings import ApiSettings

LIMIT = 1024


class Payload(BaseModel):
    text: str


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = FastAPI()

    @app.post("/echo")
    def echo(payload: Payload) -> dict[str, int]:
        return {"length": len(payload.text)}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("boom")

    middleware.install(app, ApiSettings.model_validate({"RWA_API_MAX_BODY_BYTES": LIMIT}))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _chunks(total: int) -> Iterator[bytes]:
    yield b'{"text": "'
    for _ in range(total // 100):
        yield b"x" * 100
    yield b'"}'


@pytest.mark.parametrize("path", ["/echo", "/raw"])
def test_chunked_bodies_over_the_limit_get_413(client: TestClient, path: str) -> None:
    # A generator body is sent without Content-Length: only counting what arrives catches it.
    json = {"Content-Type": "application/json"}
    response = client.post(path, content=_chunks(4 * LIMIT), headers=json)
    assert response.status_code == 413
    assert response.json() == {"detail": f"request body larger than {LIMIT} bytes"}
    assert response.headers["x-request-id"]
    assert client.post(path, content=_chunks(LIMIT // 2), headers=json).status_code == 200


def test_a_crash_is_answered_with_the_security_headers(client: TestClient) -> None:
    response = client.get("/crash")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert response.headers["x-frame-options"] == "DENY"
    assert len(response.headers["x-request-id"]) == 32


def test_hsts_only_over_https(client: TestClient) -> None:
    assert "strict-transport-security" not in client.get("/crash").headers
    with TestClient(
        client.app, base_url="https://testserver", raise_server_exceptions=False
    ) as tls:
        hsts = tls.get("/crash").headers["strict-transport-security"]
    assert hsts == "max-age=31536000; includeSubDomains"


@pytest.mark.parametrize("origins", ["*", "https://app.example.com/path", "app.example.com"])
def test_cors_origins_must_be_explicit(origins: str) -> None:
    with pytest.raises(ValidationError, match="is not an origin"):
        ApiSettings.model_validate({"RWA_API_CORS_ORIGINS": origins})
