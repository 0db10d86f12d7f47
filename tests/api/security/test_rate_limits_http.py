"""Per-user rate limits over real HTTP: ``rwa serve --workers 2`` with its counters in a real
Redis, so a limit holds whichever worker process answers. Users of each tier are real rows of
the server's operational database with real access tokens."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from api.accounts.principal import Role
from tests.api.security.server import Server, rwa_serve
from tests.fixtures.accounts import ApiCredentials, accounts_settings, provision

pytestmark = pytest.mark.slow

#: Concurrent clients, each request on a new connection, so both workers get requests.
CLIENTS = 8


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> dict[Role, ApiCredentials]:
    settings = accounts_settings(tmp_path_factory.mktemp("rate-limit-accounts"))
    return {role: provision(settings, role) for role in Role}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, users: dict[Role, ApiCredentials]
) -> Iterator[Server]:
    env = {**users[Role.ADMIN].env(), "RWA_RATE_LIMIT_STORAGE": redis_url}
    with rwa_serve(tmp_path_factory.mktemp("rate-limits"), env, workers=2) as running:
        yield running


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    """One client for all threads (building one per request costs more than the request);
    no keep-alive, so each request is a new connection that either worker may accept."""
    no_keepalive = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=server.base_url, timeout=60, limits=no_keepalive) as client:
        yield client


def _fire(http: httpx.Client, user: ApiCredentials, count: int) -> list[httpx.Response]:
    """``count`` GET /assets of ``user``, :data:`CLIENTS` at a time."""

    def one(_: int) -> httpx.Response:
        return http.get("/assets", headers=user.headers)

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(one, range(count)))


def _answers_by_worker(
    server: Server, user: ApiCredentials, expected: int = 0
) -> dict[int, list[int]]:
    """Statuses of ``user``'s requests per answering worker pid, from the access log, once it
    holds at least ``expected`` of them (lines are written just after each response)."""
    deadline = time.monotonic() + 30
    while True:
        answers: dict[int, list[int]] = defaultdict(list)
        for line in server.access_lines():
            if line["user_id"] == user.user_id:
                answers[line["pid"]].append(line["status"])
        if sum(map(len, answers.values())) >= expected or time.monotonic() > deadline:
            return answers
        time.sleep(0.1)


def test_the_101st_explorer_request_gets_429_whichever_worker_answers(
    server: Server, http: httpx.Client, users: dict[Role, ApiCredentials]
) -> None:
    explorer = users[Role.EXPLORER]
    within = _fire(http, explorer, 100)
    assert [r.status_code for r in within] == [200] * 100
    assert {r.headers["x-ratelimit-limit"] for r in within} == {"100"}
    assert min(int(r.headers["x-ratelimit-remaining"]) for r in within) == 0
    # Every request past the 100th is refused, until each worker has refused at least one.
    refused: list[httpx.Response] = []
    while len(refused) < 200:
        refused += _fire(http, explorer, CLIENTS)
        answers = _answers_by_worker(server, explorer, 100 + len(refused))
        if len(answers) == 2 and all(429 in statuses for statuses in answers.values()):
            break
    assert {r.status_code for r in refused} == {429}
    assert all(1 <= int(r.headers["retry-after"]) <= 60 for r in refused)
    assert {r.headers["x-ratelimit-remaining"] for r in refused} == {"0"}
    by_worker = _answers_by_worker(server, explorer, 100 + len(refused))
    assert len(by_worker) == 2, f"one worker answered everything: {dict(by_worker)}"
    assert all(429 in statuses for statuses in by_worker.values())
    assert sum(statuses.count(200) for statuses in by_worker.values()) == 100


def test_professional_gets_500(
    server: Server, http: httpx.Client, users: dict[Role, ApiCredentials]
) -> None:
    professional = users[Role.PROFESSIONAL]
    within = _fire(http, professional, 500)
    assert [r.status_code for r in within] == [200] * 500
    assert {r.headers["x-ratelimit-limit"] for r in within} == {"500"}
    (over,) = _fire(http, professional, 1)
    assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
    assert len(_answers_by_worker(server, professional, 501)) == 2


@pytest.mark.parametrize("role", [Role.ENTERPRISE, Role.ADMIN])
def test_enterprise_and_admin_are_unlimited(
    http: httpx.Client, users: dict[Role, ApiCredentials], role: Role
) -> None:
    answers = _fire(http, users[role], 120)
    assert [r.status_code for r in answers] == [200] * 120
    assert not any("x-ratelimit-limit" in r.headers for r in answers)


def test_refusals_are_counted_in_metrics(
    server: Server, http: httpx.Client, users: dict[Role, ApiCredentials]
) -> None:
    """Every scrape, whichever worker answers it, counts every worker's 429s: both workers
    refused requests above, so one worker's count alone would fall short."""
    refusals = sum(line["status"] == 429 for line in server.access_lines())
    assert refusals > CLIENTS
    for _ in range(4):
        text = http.get("/metrics", headers=users[Role.ADMIN].headers).text
        (line,) = [
            ln for ln in text.splitlines() if ln.startswith('rwa_rate_limited_total{limit="user"}')
        ]
        assert float(line.split()[-1]) == refusals
