"""The Python client against a real uvicorn (the sample DuckDB store, a SQLite operational
database), with real credentials: a password session that refreshes and rotates its tokens
(and logs in again when its session is revoked), a second factor, an API key, the API's
refusals as typed exceptions, paging, DataFrames, a 429 retried after its Retry-After and
then raised, a PDF and an event of the real-time channel."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyotp
import pytest

from api.accounts.principal import Role
from api.client import (
    AuthenticationError,
    Client,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ValidationError,
)
from api.client.session import PasswordLogin
from api.events.bus import EventType
from tests.api.events.streams import publish_now
from tests.api.live_server import running_server
from tests.fixtures.accounts import ApiCredentials, accounts_settings, provision
from tests.fixtures.sample_data import HOURS, T0, sample_duckdb

#: The explorer tier's limit (api/security/tiers.py): requests per minute.
EXPLORER_PER_MINUTE = 100


@dataclass(frozen=True)
class Api:
    url: str
    ops_db_url: str
    admin: ApiCredentials
    explorer: ApiCredentials
    burst: ApiCredentials  # an explorer whose minute the rate-limit test uses up

    def login(self, user: ApiCredentials, **options: object) -> Client:
        return Client(self.url, email=user.email, password=user.password, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    workdir: Path = tmp_path_factory.mktemp("client")
    settings = accounts_settings(workdir)
    admin = provision(settings, Role.ADMIN)
    explorer, burst = provision(settings, Role.EXPLORER), provision(settings, Role.EXPLORER)
    serving = sample_duckdb(workdir / "serving.duckdb")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RWA_AUTH_CACHE_SECONDS", "0")  # a tier change shows at the next request
        # The server's own count (not a Redis shared with other servers, whose user ids
        # repeat), exact over any 60 s: the burst below meets the limit at request 101.
        env.setenv("RWA_RATE_LIMIT_STORAGE", "memory://")
        env.setenv("RWA_RATE_LIMIT_STRATEGY", "moving-window")
        with running_server(serving, workdir, admin) as url:
            yield Api(url, settings.ops_db.url, admin, explorer, burst)


def test_a_password_session_refreshes_rotates_and_recovers(api: Api) -> None:
    with api.login(api.admin) as rwa:
        assert rwa.me.get()["email"] == api.admin.email
        session = rwa.transport.credentials
        assert isinstance(session, PasswordLogin) and session.tokens is not None
        first = session.tokens
        # Near its expiry (here: always), the access token is refreshed before the request.
        session.leeway = 10**9
        assert rwa.me.get()["role"] == "admin"
        session.leeway = 30
        second = session.tokens
        assert second.refresh_token != first.refresh_token
        # A token the API refuses (401) is refreshed once and the request sent again.
        second.access_token = "not-a-token"
        assert rwa.me.get()["id"] == api.admin.user_id
        assert session.tokens.refresh_token != second.refresh_token
        # Someone replays a used refresh token: the API revokes the session; the client's
        # next refresh is refused and it logs in again by itself.
        with pytest.raises(AuthenticationError, match="reused refresh token"):
            rwa.auth.refresh(second.refresh_token)
        session.leeway = 10**9
        assert rwa.me.get()["email"] == api.admin.email
        rwa.logout()
    with pytest.raises(AuthenticationError, match="invalid email or password") as refused:
        Client(api.url, email=api.admin.email, password="wrong").me.get()
    assert refused.value.status == 401


def test_two_factor_login_with_a_code_source(api: Api) -> None:
    user = provision(api.admin.settings, Role.PROFESSIONAL)
    with api.login(user) as rwa:
        secret = rwa.me.enrol_2fa(user.password)["secret"]
        codes = rwa.me.confirm_2fa(pyotp.TOTP(secret).now())["recovery_codes"]
    with pytest.raises(AuthenticationError, match="totp="):
        api.login(user).me.get()
    # A recovery code here: the TOTP code above may be used once only.
    with api.login(user, totp=lambda: codes[0]) as rwa:
        assert rwa.me.get()["totp_enabled"] is True


def test_api_key_and_the_apis_refusals_as_exceptions(api: Api) -> None:
    with api.login(api.explorer) as session:
        key = session.me.create_key("script")["key"]
    with Client(api.url, api_key=key) as rwa:
        assert {row["asset_id"] for row in rwa.assets.list().rows} == {"ousg", "usdc", "btc"}
        with pytest.raises(NotFoundError, match="asset 'nope' not found") as missing:
            rwa.assets.get("nope")
        assert missing.value.status == 404 and missing.value.request_id
        with pytest.raises(ForbiddenError) as paid:
            rwa.assets.ohlcv("ousg", resolution="1h")
        assert paid.value.tier == "professional"
        with pytest.raises(ValidationError) as invalid:
            rwa.assets.ohlcv("ousg", resolution="1d", limit=0)
        assert invalid.value.fields == ["limit"]
        with pytest.raises(ForbiddenError) as no_pdf:
            rwa.reports.asset_pdf("ousg")
        assert no_pdf.value.tier == "professional"
    with pytest.raises(AuthenticationError):
        Client(api.url).assets.list()
    assert Client(api.url).health()["status"] == "ok"


def test_paging_and_data_frames(api: Api, tmp_path: Path) -> None:
    with api.login(api.admin) as rwa:
        names = {f"book {i}" for i in range(3)}
        ids = [rwa.portfolios.create(name)["id"] for name in sorted(names)]
        page = rwa.portfolios.list(limit=2)
        assert (page.total, len(page.rows)) == (3, 2)
        assert {row["name"] for row in page.iter_rows()} == names
        assert len(list(page.pages())) == 2
        # /admin/users answers bare lists: paged until a page comes back empty.
        emails = {row["email"] for row in rwa.admin.users(limit=2).all().rows}
        assert {api.admin.email, api.explorer.email, api.burst.email} <= emails

        bars = rwa.assets.ohlcv("ousg", resolution="1h", limit=HOURS).to_df()
        assert len(bars) == HOURS
        assert str(bars["ts"].dtype) == "datetime64[ns, UTC]"
        assert bars["ts"].is_monotonic_increasing
        assert all(pd.api.types.is_float_dtype(bars[c]) for c in ("open", "high", "low", "close"))
        rwa.portfolios.add_transaction(
            ids[0], "buy", "ousg", Decimal("1.5"), T0, price="100.25", fee=0
        )
        ledger = rwa.portfolios.transactions(ids[0]).to_df()
        assert str(ledger["executed_at"].dtype) == "datetime64[ns, UTC]"
        assert ledger["executed_at"].tolist() == [pd.Timestamp(T0)]
        assert Decimal(ledger["quantity"][0]) == Decimal("1.5")  # exact: text, not a float
        pdf = rwa.reports.asset_pdf("ousg", save_to=tmp_path / "ousg.pdf")
        assert pdf.startswith(b"%PDF") and (tmp_path / "ousg.pdf").read_bytes() == pdf


def test_a_429_is_retried_after_retry_after_then_raised(api: Api) -> None:
    slept: list[float] = []
    with api.login(api.burst, max_retries=1, sleep=slept.append) as rwa:
        with pytest.raises(RateLimitedError) as limited:
            _use_up_the_minute(rwa)
        retry_after = limited.value.retry_after
        assert retry_after is not None and 0 < retry_after <= 60
        assert slept == [pytest.approx(retry_after, abs=1)], "one retry, after Retry-After"
        assert limited.value.status == 429 and "limit" in limited.value.message
    # A wait longer than the client may sleep is raised at once, saying so.
    rwa = api.login(api.burst, max_retry_wait=0.5, sleep=slept.append)
    with rwa, pytest.raises(RateLimitedError, match=r"exceeds the client's 0\.5 s"):
        rwa.assets.list()
    assert len(slept) == 1

    # While the client waits, an admin moves the user to a tier with room: the retry passes.
    def upgrade(seconds: float) -> None:
        slept.append(seconds)
        with api.login(api.admin) as admin:
            admin.admin.update_user(api.burst.user_id, role="professional")

    with api.login(api.burst, sleep=upgrade) as rwa:
        assert len(rwa.assets.list().rows) == 3
    assert len(slept) == 2


def _use_up_the_minute(rwa: Client) -> None:
    for _ in range(EXPLORER_PER_MINUTE + 1):
        rwa.assets.list()


def test_the_event_stream_yields_typed_events(api: Api) -> None:
    first, second = publish_now(
        api.ops_db_url,
        EventType.PRICE_UPDATE,
        [{"asset_id": "ousg", "n": 1}, {"asset_id": "ousg", "n": 2}],
    )
    with api.login(api.admin) as rwa:
        # Resuming after the first event replays the second: no race with the publisher.
        events = rwa.events.stream(["price_update"], max_seconds=30, last_event_id=first)
        event = next(events)
        events.close()  # type: ignore[attr-defined]
    assert (event.id, event.type, event.payload) == (
        second,
        "price_update",
        {"asset_id": "ousg", "n": 2},
    )
    assert event.ts.tzinfo is not None
