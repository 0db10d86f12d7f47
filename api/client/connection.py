""":class:`Client`: one object per API server and credential, with a typed resource per
area (``client.assets.ohlcv("usdc", resolution="1d").to_df()``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

import httpx

from api.client.account import Admin, Auth, Me
from api.client.alerts import Alerts, Events
from api.client.data import (
    HEALTH,
    Assets,
    Economic,
    Lineage,
    Market,
    News,
    Predictions,
    Risk,
    Signals,
)
from api.client.portfolios import Portfolios, Reports
from api.client.results import Result
from api.client.session import AccessToken, ApiKey, PasswordLogin, TotpSource
from api.client.transport import Credentials, NoCredentials, RetryPolicy, Transport


class Client:
    """The API at ``base_url`` with one credential: an ``api_key`` (``rwa_…``), an
    ``email`` and ``password`` (plus ``totp`` when the account has 2FA: a code or a callable
    giving one; the session is refreshed by itself), or an ``access_token``. None: public
    routes only. A ``429`` is retried ``max_retries`` times after its ``Retry-After`` when
    that is at most ``max_retry_wait`` seconds, then raised as RateLimitedError. Use it as a
    context manager, or call :meth:`close`."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        email: str | None = None,
        password: str | None = None,
        totp: TotpSource | None = None,
        access_token: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_retry_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        http: httpx.Client | None = None,
    ) -> None:
        credentials = _credentials(api_key, email, password, totp, access_token)
        retry = RetryPolicy(max_retries=max_retries, max_wait=max_retry_wait)
        self.transport = Transport(
            base_url, credentials, timeout=timeout, retry=retry, sleep=sleep, http=http
        )
        self.assets = Assets(self.transport)
        self.economic = Economic(self.transport)
        self.predictions = Predictions(self.transport)
        self.news = News(self.transport)
        self.risk = Risk(self.transport)
        self.market = Market(self.transport)
        self.lineage = Lineage(self.transport)
        self.signals = Signals(self.transport)
        self.auth = Auth(self.transport)
        self.me = Me(self.transport)
        self.admin = Admin(self.transport)
        self.alerts = Alerts(self.transport)
        self.events = Events(self.transport)
        self.portfolios = Portfolios(self.transport)
        self.reports = Reports(self.transport)

    def health(self) -> Result:
        """The API's and its store's state (no credentials needed)."""
        return Result(self.transport.call(HEALTH, authenticated=False).json())

    def logout(self) -> None:
        """End an email-and-password session on the API (nothing to do for a key)."""
        if isinstance(self.transport.credentials, PasswordLogin):
            self.transport.credentials.logout(self.transport)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({str(self.transport.http.base_url)!r}, {self.transport.credentials!r})"


def _credentials(
    api_key: str | None,
    email: str | None,
    password: str | None,
    totp: TotpSource | None,
    access_token: str | None,
) -> Credentials:
    given = [api_key is not None, email is not None or password is not None, bool(access_token)]
    if sum(given) > 1:
        raise ValueError("pass one credential: api_key, email and password, or access_token")
    if api_key is not None:
        return ApiKey(api_key)
    if email is not None or password is not None:
        if email is None or password is None:
            raise ValueError("email and password go together")
        return PasswordLogin(email, password, totp)
    if access_token:
        return AccessToken(access_token)
    return NoCredentials()
