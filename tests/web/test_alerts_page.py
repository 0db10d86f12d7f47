"""The alerts page in a real browser (Debian's chromium driven by Playwright) against a real API
server on a SQLite operational database: the rules listed with their conditions in words, a
sentence previewed then saved (checked over the API), a sentence not understood explained
inline, pausing, resuming and deleting, the tier's limit, a write that a cross-site form
cannot forge, and live prices on the asset page and the overview from ``price_update`` events
published through the real channel (a row of the operational database's event table, read by
the server's event hub and pushed over ``GET /events/stream``).

One server and one browser for the module; each reader's session is a context of its own,
signed in with the access cookie the login sets (the login page itself is tested in
test_dashboard.py).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from api.accounts.principal import Role
from api.after_load import after_serving_load
from api.alerts.rules import RuleSpec, describe
from api.alerts.tables import AlertFiring
from api.events.bus import EventType
from api.notifications.tables import Notification
from api.security.tiers import MATRIX
from tests.api.live_server import running_server
from tests.fixtures.accounts import (
    ApiCredentials,
    accounts_settings,
    open_accounts,
    provision,
)
from tests.fixtures.browser import Console
from tests.web.dashboard_data import build_store
from tests.web.site import publish_event, signed_in, wait_drawn, wait_live

pytestmark = pytest.mark.timeout(300)

#: Generous: the machine running the suite is shared and slow.
TIMEOUT_MS = 30_000

PRICE_RULE: dict[str, Any] = {
    "name": "USDC under peg",
    "target": {"kind": "asset", "asset_id": "usdc"},
    "condition": {"kind": "price", "direction": "below", "level": 0.995},
    "channels": [{"type": "telegram", "chat_id": "123456789"}],
}
RISK_RULE: dict[str, Any] = {
    "target": {"kind": "asset_class", "asset_class": "stablecoin"},
    "condition": {"kind": "risk_score", "direction": "above", "level": 60},
    "active": False,
}


@dataclass(frozen=True)
class AlertsSite:
    base_url: str
    professional: ApiCredentials
    explorer: ApiCredentials
    #: The served store (DuckDB, read by the server and by a serving load's evaluation).
    store: Path

    def api(self, who: ApiCredentials) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=who.headers, timeout=30)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertsSite]:
    workdir = tmp_path_factory.mktemp("alerts-page")
    store = build_store(workdir / "serving.duckdb")
    settings = accounts_settings(workdir)
    professional = provision(settings, Role.PROFESSIONAL)
    explorer = provision(settings, Role.EXPLORER)
    with running_server(store, workdir, professional) as base_url:
        yield AlertsSite(base_url, professional, explorer, store)


# The site first: the browser (and its pages' open streams) closes before the server stops.
@pytest.fixture(scope="module")
def reader(site: AlertsSite, browser: Browser) -> tuple[Page, Console]:
    return signed_in(browser, site.base_url, site.professional)


@pytest.fixture
def page(reader: tuple[Page, Console], site: AlertsSite) -> Iterator[Page]:
    """The professional's alerts page, drawn; the test fails on a console error it did not
    expect (an expected refusal is a failed request in the console: the test clears it)."""
    page, console = reader
    console.errors.clear()
    page.goto(site.base_url + "/dashboard/alerts")
    wait_drawn(page)
    yield page
    assert console.errors == []


def rules_of(site: AlertsSite, who: ApiCredentials) -> list[dict[str, Any]]:
    with site.api(who) as api:
        answer = api.get("/alerts/rules")
        answer.raise_for_status()
        rules: list[dict[str, Any]] = answer.json()["rules"]
        return rules


def create(site: AlertsSite, who: ApiCredentials, rule: dict[str, Any]) -> dict[str, Any]:
    with site.api(who) as api:
        answer = api.post("/alerts/rules", json=rule)
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created


def delete_all(site: AlertsSite, who: ApiCredentials) -> None:
    with site.api(who) as api:
        for rule in rules_of(site, who):
            api.delete(f"/alerts/rules/{rule['id']}").raise_for_status()


def row(page: Page, rule_id: int) -> Any:
    return page.locator(f"#rules tbody tr[data-id='{rule_id}']")


def cells(page: Page, rule_id: int) -> list[str]:
    return [c.strip() for c in row(page, rule_id).locator("td").all_inner_texts()]


def drop_refusals(console: Console, status: int) -> None:
    """Forget the console lines of the refused requests a test provoked on purpose."""
    assert console.errors, "the refusal was expected in the console"
    assert all(f"status of {status}" in line for line in console.errors), console.errors
    console.errors.clear()


# --- the rules --------------------------------------------------------------------------------


@pytest.fixture
def two_rules(site: AlertsSite) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    yield create(site, site.professional, PRICE_RULE), create(site, site.professional, RISK_RULE)
    delete_all(site, site.professional)


def test_the_page_lists_the_rules_with_their_conditions_in_words(
    site: AlertsSite, two_rules: tuple[dict[str, Any], dict[str, Any]], page: Page
) -> None:
    price, risk = two_rules
    assert page.get_attribute("header nav a[href='/dashboard/alerts']", "aria-current") == "page"
    name, target, condition, channels, cooldown, state, actions = cells(page, price["id"])
    assert (name, target, channels, cooldown, state, actions) == (
        "USDC under peg",
        "USDC",
        "telegram: 123456789",
        "1 hour",
        "Active",
        "Pause Delete",
    )
    # The page's words are the API's own (api.alerts.rules.describe): "USDC: <condition>".
    assert describe(RuleSpec.model_validate(PRICE_RULE)) == f"USDC: {condition}; via telegram"
    name, target, condition, channels, _, state, actions = cells(page, risk["id"])
    assert name == describe(RuleSpec.model_validate(RISK_RULE))  # unnamed: named by its words
    assert (target, condition, channels) == (
        "any stablecoin",
        "risk score is above 60",
        "dashboard only",
    )
    assert (state, actions) == ("Paused", "Resume Delete")
    toggle = row(page, risk["id"]).locator("[data-action=toggle]")
    assert toggle.get_attribute("aria-label") == f"Resume {name}"
    limit = MATRIX[Role.PROFESSIONAL].alert_rules
    assert page.inner_text("#rules [data-source]").startswith(f"2 of {limit} rules")


def test_a_rule_name_is_shown_as_text_never_as_markup(site: AlertsSite, browser: Browser) -> None:
    hostile = create(site, site.professional, PRICE_RULE | {"name": "<img src=x onerror=alert(1)>"})
    try:
        page, console = signed_in(browser, site.base_url, site.professional)
        page.goto(site.base_url + "/dashboard/alerts")
        wait_drawn(page)
        assert cells(page, hostile["id"])[0] == "<img src=x onerror=alert(1)>"
        assert page.locator("#rules img").count() == 0
        assert console.errors == []
        page.context.close()
    finally:
        delete_all(site, site.professional)


# --- the plain-language box -------------------------------------------------------------------


def preview(page: Page, sentence: str) -> None:
    page.fill("#sentence", sentence)
    page.click("#sentence-form button[type=submit]")


def test_a_sentence_is_previewed_and_saved_when_confirmed(site: AlertsSite, page: Page) -> None:
    preview(page, "tell me if USDC drops below 0.995")
    expect(page.locator("#preview")).to_be_visible(timeout=TIMEOUT_MS)
    assert page.inner_text("#preview-summary") == "USDC: price is below 0.995 USD"
    assert "price is below 0.995 USD" in page.inner_text("#preview-facts")
    assert rules_of(site, site.professional) == []  # a preview saves nothing
    page.click("#preview button[type=submit]")
    expect(page.locator("#save-message")).to_have_text(
        "Saved: USDC: price is below 0.995 USD", timeout=TIMEOUT_MS
    )
    [saved] = rules_of(site, site.professional)
    assert saved["target"] == {"kind": "asset", "asset_id": "usdc"}
    assert saved["condition"] == {"kind": "price", "direction": "below", "level": 0.995}
    assert saved["active"] is True
    assert cells(page, saved["id"])[2] == "price is below 0.995 USD"
    assert page.locator("#preview").is_hidden()
    delete_all(site, site.professional)


def test_a_channel_named_without_its_address_is_asked_for(
    site: AlertsSite, reader: tuple[Page, Console], page: Page
) -> None:
    preview(page, "ping me on telegram if BTC moves 5% in an hour")
    chat = page.locator("#preview-missing input[name=telegram]")
    expect(chat).to_be_visible(timeout=TIMEOUT_MS)
    assert "within 1 hour" in page.inner_text("#preview-summary")
    # The API judges what the browser's own check let through, and names the field.
    chat.evaluate("input => input.removeAttribute('pattern')")
    chat.fill("not a chat")
    page.click("#preview button[type=submit]")
    expect(page.locator("#save-message")).to_contain_text(
        "Not saved: channels.0.telegram.chat_id: String should match pattern", timeout=TIMEOUT_MS
    )
    assert rules_of(site, site.professional) == []
    drop_refusals(reader[1], 422)
    chat.fill("-100200300")
    page.click("#preview button[type=submit]")
    expect(page.locator("#save-message")).to_contain_text("Saved", timeout=TIMEOUT_MS)
    [saved] = rules_of(site, site.professional)
    assert saved["channels"] == [{"type": "telegram", "chat_id": "-100200300"}]
    assert saved["condition"] == {
        "kind": "pct_move",
        "pct": 5,
        "window_minutes": 60,
        "move": "either",
    }
    delete_all(site, site.professional)


def test_a_sentence_not_understood_is_explained_with_an_example(
    site: AlertsSite, reader: tuple[Page, Console], page: Page
) -> None:
    preview(page, "tell me if FOOBARCOIN drops below 3")
    explain = page.locator("#not-understood")
    expect(explain).to_be_visible(timeout=TIMEOUT_MS)
    text = explain.inner_text()
    assert "FOOBARCOIN" in text and "not an asset or asset class I know" in text
    assert page.locator("#preview").is_hidden()
    # The example is one click away, and it reads.
    page.click("#not-understood [data-action=use-example]")
    assert page.input_value("#sentence") == "tell me if USDC drops below 0.995"
    page.click("#sentence-form button[type=submit]")
    expect(page.locator("#preview")).to_be_visible(timeout=TIMEOUT_MS)
    assert explain.is_hidden()
    drop_refusals(reader[1], 422)
    assert rules_of(site, site.professional) == []


# --- pause, resume, delete ----------------------------------------------------------------------


def test_rules_are_paused_resumed_and_deleted_after_confirmation(
    site: AlertsSite, two_rules: tuple[dict[str, Any], dict[str, Any]], page: Page
) -> None:
    price, risk = two_rules
    toggle = row(page, price["id"]).locator("[data-action=toggle]")
    toggle.click()
    expect(toggle).to_have_text("Resume", timeout=TIMEOUT_MS)
    assert cells(page, price["id"])[5] == "Paused"
    assert page.evaluate("document.activeElement.dataset.action") == "toggle"
    assert {r["id"]: r["active"] for r in rules_of(site, site.professional)}[price["id"]] is False
    toggle.click()
    expect(toggle).to_have_text("Pause", timeout=TIMEOUT_MS)
    assert {r["id"]: r["active"] for r in rules_of(site, site.professional)}[price["id"]] is True
    # Delete asks first; "Keep" keeps it.
    row(page, risk["id"]).locator("[data-action=delete]").click()
    row(page, risk["id"]).locator("[data-action=keep]").click()
    expect(row(page, risk["id"]).locator("[data-action=delete]")).to_be_visible()
    row(page, risk["id"]).locator("[data-action=delete]").click()
    row(page, risk["id"]).locator("[data-action=confirm-delete]").click()
    expect(row(page, risk["id"])).to_have_count(0, timeout=TIMEOUT_MS)
    assert [r["id"] for r in rules_of(site, site.professional)] == [price["id"]]


# --- limits and forgery -------------------------------------------------------------------------


def test_the_tier_limit_is_stated_and_a_rule_beyond_it_refused_clearly(
    site: AlertsSite, browser: Browser
) -> None:
    cap = MATRIX[Role.EXPLORER].alert_rules
    assert cap is not None
    for level in range(cap):
        create(site, site.explorer, PRICE_RULE | {"name": f"rule {level}"})
    page, console = signed_in(browser, site.base_url, site.explorer)
    page.goto(site.base_url + "/dashboard/alerts")
    wait_drawn(page)
    assert f"up to {cap} rules" in page.inner_text(".page-head")
    assert page.inner_text("#rules [data-source]").startswith(f"{cap} of {cap} rules")
    preview(page, "tell me if USDC drops below 0.99")
    page.locator("#preview button[type=submit]").click(timeout=TIMEOUT_MS)
    expect(page.locator("#save-message")).to_contain_text(
        f"Not saved: the explorer tier owns at most {cap} alert rules", timeout=TIMEOUT_MS
    )
    assert len(rules_of(site, site.explorer)) == cap
    drop_refusals(console, 403)
    page.context.close()


def test_a_cross_site_form_cannot_create_a_rule(site: AlertsSite) -> None:
    """What a form on another site could send with the cookie (were it sent: it is
    SameSite=Strict): a text/plain body is not read as JSON, so nothing is created."""
    cookies = {"rwa_access": site.professional.access_token}
    with httpx.Client(base_url=site.base_url, cookies=cookies, timeout=30) as browser_like:
        forged = browser_like.post(
            "/alerts/rules",
            content=json.dumps(PRICE_RULE),
            headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
        )
        assert forged.status_code in (400, 415, 422), forged.text
        assert browser_like.get("/alerts/rules").json()["total"] == 0


# --- live ---------------------------------------------------------------------------------------


def price_update(asset_id: str, price: float) -> dict[str, Any]:
    return {
        "asset_id": asset_id,
        "price": price,
        "bar_ts": "2024-04-29T00:00:00+00:00",
        "resolution": "1d",
        "change": -0.0069,
        "change_pct": -0.69,
    }


def test_prices_update_live_on_the_asset_page_and_the_overview(
    site: AlertsSite, reader: tuple[Page, Console]
) -> None:
    page, console = reader
    console.errors.clear()
    page.goto(site.base_url + "/dashboard/assets/usdc")
    wait_drawn(page)
    wait_live(page)
    assert page.locator("#live-price").is_hidden()
    publish_event(site.professional, EventType.PRICE_UPDATE, price_update("usdc", 0.9931))
    expect(page.locator("#live-price")).to_contain_text("Live: $0.9931", timeout=TIMEOUT_MS)
    assert "-0.69%" in page.inner_text("#live-price")
    page.goto(site.base_url + "/dashboard")
    wait_drawn(page)
    wait_live(page)
    publish_event(site.professional, EventType.PRICE_UPDATE, price_update("usdc", 0.9876))
    price = page.locator("#assets tr[data-id='usdc'] td.flash")
    expect(price).to_have_text("$0.9876", timeout=TIMEOUT_MS)
    assert console.errors == []


# --- firings and deliveries ---------------------------------------------------------------------


def record_firing(
    who: ApiCredentials, rule_id: int, observed: dict[str, Any], deliveries: list[dict[str, Any]]
) -> int:
    """A firing of ``rule_id`` and its notifications, stored as evaluation and the delivery
    worker leave them; the firing's id."""
    accounts = open_accounts(who.settings)
    now = dt.datetime.now(dt.UTC)
    try:
        with accounts.database.sessions() as session:
            firing = AlertFiring(
                rule_id=rule_id,
                user_id=who.user_id,
                asset_id="usdc",
                condition_kind="price",
                data_ts=now - dt.timedelta(minutes=1),
                fired_at=now,
                observed=observed,
            )
            session.add(firing)
            session.flush()
            for delivery in deliveries:
                session.add(
                    Notification(firing_id=firing.id, user_id=who.user_id, message={}, **delivery)
                )
            session.commit()
            return firing.id
    finally:
        accounts.close()


def test_firings_show_the_observed_value_and_each_delivery(
    site: AlertsSite, two_rules: tuple[dict[str, Any], dict[str, Any]], page: Page
) -> None:
    price, _ = two_rules
    observed = {"price": 0.9931, "direction": "below", "level": 0.995, "resolution": "1d"}
    failed = {
        "channel": "webhook",
        "destination": "https://hooks.example/rwa",
        "status": "failed",
        "attempts": 5,
        "last_error": "the receiver answered: Internal Server Error",
        "last_status_code": 500,
    }
    sent = {"channel": "telegram", "destination": "123456789", "status": "sent", "attempts": 2}
    firing = record_firing(site.professional, price["id"], observed, [failed, sent])
    page.reload()
    wait_drawn(page)
    row = page.locator(f"#firings tr[data-id='{firing}']")
    fired, rule, asset, value, threshold, _, delivered = [
        c.strip() for c in row.locator("td").all_inner_texts()
    ]
    assert fired.endswith("UTC")
    assert (rule, asset, value, threshold) == (
        "USDC under peg",
        "USDC",
        "price 0.9931 USD",
        "below 0.995 USD",
    )
    assert "webhook failed" in delivered and "telegram sent" in delivered
    row.locator("[data-action=deliveries]").click()
    log = page.locator("#deliveries tbody tr")
    expect(log).to_have_count(2, timeout=TIMEOUT_MS)
    by_channel = {
        cells[1]: cells for cells in (r.locator("td").all_inner_texts() for r in log.all())
    }
    assert by_channel["webhook"][3:6] == [
        "failed",
        "5",
        "the receiver answered: Internal Server Error (500)",
    ]
    assert by_channel["telegram"][3:5] == ["sent", "2"]


def test_a_firing_appears_live_after_a_serving_load(
    site: AlertsSite, reader: tuple[Page, Console], page: Page
) -> None:
    """What follows a serving load (``rwa load``) evaluates the rules: the new firing is
    stored, its ``alert_triggered`` event goes through the event channel to the server's hub,
    and the open page shows it without a reload."""
    wait_live(page)
    create(
        site,
        site.professional,
        PRICE_RULE
        | {
            "name": "OUSG over 100",
            "target": {"kind": "asset", "asset_id": "ousg"},
            "condition": {"kind": "price", "direction": "above", "level": 100},
        },
    )
    settings = site.professional.settings.updated(serving_backend="duckdb", duckdb_path=site.store)
    report = after_serving_load(settings)
    [firing] = report.evaluation.fired
    row = page.locator(f"#firings tr[data-id='{firing}']")
    expect(row).to_have_class(re.compile(r"\bnew\b"), timeout=TIMEOUT_MS)
    texts = [c.strip() for c in row.locator("td").all_inner_texts()]
    assert texts[1:3] == ["OUSG over 100", "OUSG"]
    assert texts[4] == "above 100 USD"
    assert "New firing: OUSG over 100" in page.inner_text("#announce")
    # Its notification is owed to the rule's channel: in the delivery log, pending.
    delivery = page.locator("#deliveries tbody tr").filter(has_text="123456789")
    expect(delivery).to_contain_text("pending", timeout=TIMEOUT_MS)
    delete_all(site, site.professional)
