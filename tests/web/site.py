"""What the dashboard's browser tests share (a plain module): the running site (one uvicorn
on the dashboard's test store, one operational database with an admin who has TOTP 2FA on and
an analyst without), logging in through the login page, and reading a page's charts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from api.accounts import totp
from api.accounts.principal import Role
from api.accounts.tables import User
from api.events.bus import EventType, publish
from tests.api.live_server import running_server
from tests.fixtures.accounts import ApiCredentials, accounts_settings, open_accounts, provision
from tests.fixtures.browser import VIEWPORT, Console, watch
from tests.web.dashboard_data import build_lake, build_store

#: Generous: the machine running the suite is shared and slow; a drawn page takes < 1 s idle.
DRAWN_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Site:
    base_url: str
    admin: ApiCredentials
    analyst: ApiCredentials
    #: The admin's TOTP secret (2FA on).
    admin_totp: str

    def url(self, path: str) -> str:
        return self.base_url + path


def enable_two_factor(credentials: ApiCredentials) -> str:
    """Turn TOTP on for the user of ``credentials`` as the API does; returns the secret. The
    confirming code is the previous step's, so a login in this step has a newer code."""
    accounts = open_accounts(credentials.settings)
    try:
        with accounts.database.sessions() as session:
            user = session.get(User, credentials.user_id)
            assert user is not None
            secret = totp.enrol(session, user, "RWA test").secret
            earlier = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
            totp.confirm(session, user, pyotp.TOTP(secret).at(earlier))
            session.commit()
    finally:
        accounts.close()
    return secret


@contextmanager
def running_site(workdir: Path) -> Iterator[Site]:
    """The server on the test store, its lake (the status page's) under ``workdir``."""
    store = build_store(workdir / "serving.duckdb")
    lake = build_lake(workdir / "lake")
    settings = accounts_settings(workdir)
    admin = provision(settings, Role.ADMIN)
    analyst = provision(settings, Role.ENTERPRISE)
    secret = enable_two_factor(admin)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RWA_LAKE_ROOT", str(lake))  # the server's environment is this one's
        with running_server(store, workdir, admin) as base_url:
            yield Site(base_url, admin, analyst, secret)


def new_page(browser: Browser) -> tuple[Page, Console]:
    """A page in a context of its own (its own cookies), watched for console errors."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    return page, watch(page)


def submit_password(page: Page, site: Site, who: ApiCredentials, path: str = "/dashboard") -> None:
    page.goto(site.url(path))
    page.fill("#password-step input[name=email]", who.email)
    page.fill("#password-step input[name=password]", who.password)
    page.click("#password-step button[type=submit]")


def wait_drawn(page: Page) -> int:
    """Wait until every panel of the page is drawn; the milliseconds since navigation."""
    page.wait_for_selector("body[data-drawn]", state="attached", timeout=DRAWN_TIMEOUT_MS)
    return int(page.eval_on_selector("body", "b => b.dataset.drawn"))


def open_drawn(page: Page, site: Site, path: str) -> None:
    page.goto(site.url(path))
    wait_drawn(page)


def chart_series(page: Page, panel: str) -> dict[str, dict[str, Any]]:
    """The series of the chart in panel ``#panel``, by name, as ECharts holds them."""
    series: list[dict[str, Any]] = page.evaluate(
        """(panel) => {
            const box = document.querySelector(`#${panel} [data-chart]`);
            const chart = box && echarts.getInstanceByDom(box);
            if (!chart) return [];
            const series = chart.getOption().series;
            return series.map((s) => ({name: s.name, type: s.type, data: s.data}));
        }""",
        panel,
    )
    return {s["name"]: s for s in series}


def signed_in(browser: Browser, base_url: str, who: ApiCredentials) -> tuple[Page, Console]:
    """A page of ``who``: a context of its own holding the access cookie the login sets."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.add_cookies(
        [
            {
                "name": "rwa_access",
                "value": who.access_token,
                "url": base_url,
                "httpOnly": True,
                "sameSite": "Strict",
            }
        ]
    )
    page = context.new_page()
    return page, watch(page)


def publish_event(
    who: ApiCredentials, type: EventType, payload: dict[str, Any], user_id: int | None = None
) -> None:
    """Publish an event as the pipeline and the workers do: a row of the event channel in the
    operational database, committed (the server's hub reads it from there)."""
    accounts = open_accounts(who.settings)
    try:
        with accounts.database.sessions() as session:
            publish(session, type, dt.datetime.now(dt.UTC), payload, user_id=user_id)
            session.commit()
    finally:
        accounts.close()


def wait_live(page: Page) -> None:
    """Until the page's event stream is open (events published before are not its own)."""
    expect(page.locator("#live-status")).to_have_attribute(
        "data-state", "on", timeout=DRAWN_TIMEOUT_MS
    )
