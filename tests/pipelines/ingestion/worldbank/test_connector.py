"""The World Bank connector against a local server replaying the Indicators API's answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from pipelines.core.errors import FetchError
from pipelines.core.settings import Settings
from pipelines.ingestion.base import FetchWindow, SourceRequest
from pipelines.ingestion.registry import get_connector, known_sources
from pipelines.ingestion.worldbank.connector import (
    INDICATOR_ENDPOINT,
    INDICATORS,
    WorldBankSource,
    issuer_countries,
)
from pipelines.reference import load_assets
from tests.fixtures.http_replay import (
    RecordingSleep,
    ReplayServer,
    Reply,
    fixture_json,
    replay_client,
)

# Three whole years; the API's ``date`` is a range of calendar years.
WINDOW = FetchWindow(dt.datetime(2022, 1, 1, tzinfo=dt.UTC), dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
USA_CPI = "/v2/country/USA/indicator/FP.CPI.TOTL.ZG"
CHE_LEND = "/v2/country/CHE/indicator/FR.INR.LEND"
INFLATION = "worldbank/indicator_usa_inflation.json"
EMPTY = "worldbank/indicator_empty.json"

MakeSource = Callable[..., WorldBankSource]


@pytest.fixture
def make_source(replay_server: ReplayServer, sleep: RecordingSleep) -> MakeSource:
    def make(**kwargs: object) -> WorldBankSource:
        # The real API root ends in /v2; so does this one.
        client = replay_client(replay_server, "worldbank", sleep=sleep, timeout_s=0.3, path="/v2")
        return WorldBankSource(client, **kwargs)  # type: ignore[arg-type]

    return make


def request_for(source: WorldBankSource, iso: str, code: str) -> SourceRequest:
    return next(
        r
        for r in source.build_requests(WINDOW)
        if (r.params["iso"], r.params["code"]) == (iso, code)
    )


# -- countries and requests --------------------------------------------------------------------


def test_countries_are_the_us_plus_the_issuer_jurisdictions_of_the_reference_data():
    assert issuer_countries(load_assets()) == ("USA", "VGB", "CYM", "CHE", "SLV")
    # Assets without a known jurisdiction still get the US (their Treasuries' issuer).
    no_jurisdiction = [a for a in load_assets() if a.jurisdiction is None]
    assert no_jurisdiction
    assert issuer_countries(no_jurisdiction) == ("USA",)
    # "El Salvador (relocated from the British Virgin Islands in 2025)" is El Salvador only.
    usdt = [a for a in load_assets() if a.asset_id == "usdt"]
    assert issuer_countries(usdt) == ("USA", "SLV")


def test_one_request_per_country_and_indicator_over_the_years(make_source: MakeSource):
    requests = make_source(countries=["USA", "CHE"]).build_requests(WINDOW)
    assert [(r.params["iso"], r.params["code"]) for r in requests] == [
        (iso, code) for iso in ("USA", "CHE") for code in INDICATORS
    ]
    assert set(INDICATORS) == {"FP.CPI.TOTL.ZG", "FR.INR.RINR", "FR.INR.LEND"}
    assert requests[0] == SourceRequest(
        "economic",
        INDICATOR_ENDPOINT,
        {
            "iso": "USA",
            "code": "FP.CPI.TOTL.ZG",
            "format": "json",
            "date": "2022:2024",  # the exclusive end (2025-01-01) is not in 2025
            "per_page": 100,
            "page": 1,
        },
    )


# -- success -----------------------------------------------------------------------------------


def test_collect_lands_payloads_untouched(replay_server: ReplayServer, make_source: MakeSource):
    replay_server.script(USA_CPI, [Reply.fixture(INFLATION)])
    source = make_source(countries=["USA"], indicators=["FP.CPI.TOTL.ZG"])
    before = dt.datetime.now(dt.UTC)

    [envelope] = list(source.collect(WINDOW))

    assert (envelope.source, envelope.dataset) == ("worldbank", "economic")
    assert envelope.endpoint == INDICATOR_ENDPOINT
    assert envelope.params["iso"] == "USA"
    assert envelope.fetched_at >= before
    assert envelope.payload == fixture_json(INFLATION)
    sent = replay_server.requests_to(USA_CPI)[0].query
    assert sent == {"format": "json", "date": "2022:2024", "per_page": "100", "page": "1"}


def test_pages_follow_until_the_last(replay_server: ReplayServer, make_source: MakeSource):
    replay_server.script(CHE_LEND, [Reply.fixture("worldbank/indicator_che_lending_page1.json")])
    replay_server.script(
        CHE_LEND,
        [Reply.fixture("worldbank/indicator_che_lending_page2.json")],
        query={"page": "2"},
    )
    source = make_source(countries=["CHE"], indicators=["FR.INR.LEND"], per_page=2)
    envelopes = list(source.collect(WINDOW))

    assert [e.params["page"] for e in envelopes] == [1, 2]
    assert [len(e.payload[1]) for e in envelopes] == [2, 1]
    assert [r.query["page"] for r in replay_server.requests_to(CHE_LEND)] == ["1", "2"]


@pytest.mark.parametrize("empty_rows", [None, []])
def test_an_empty_page_ends_the_listing_even_if_pages_promised_more(
    replay_server: ReplayServer, make_source: MakeSource, empty_rows: list[object] | None
):
    first = fixture_json("worldbank/indicator_che_lending_page1.json")
    first[0]["pages"] = 5
    replay_server.script(CHE_LEND, [Reply(json=first)])
    replay_server.script(
        CHE_LEND, [Reply(json=[first[0] | {"page": 2}, empty_rows])], query={"page": "2"}
    )
    source = make_source(countries=["CHE"], indicators=["FR.INR.LEND"], per_page=2)
    envelopes = list(source.collect(WINDOW))

    assert [e.params["page"] for e in envelopes] == [1, 2]
    assert envelopes[-1].payload[1] == empty_rows
    assert len(replay_server.requests_to(CHE_LEND)) == 2


def test_nothing_to_list_is_one_envelope(replay_server: ReplayServer, make_source: MakeSource):
    replay_server.script(USA_CPI, [Reply.fixture(EMPTY)])
    source = make_source(countries=["USA"], indicators=["FP.CPI.TOTL.ZG"])
    [envelope] = list(source.collect(WINDOW))
    assert envelope.payload == fixture_json(EMPTY)


def test_page_numbers_sent_as_text_are_understood(
    replay_server: ReplayServer, make_source: MakeSource
):
    first = fixture_json("worldbank/indicator_che_lending_page1.json")
    first[0] |= {"page": "1", "pages": "2", "per_page": "2"}
    replay_server.script(CHE_LEND, [Reply(json=first)])
    replay_server.script(CHE_LEND, [Reply.fixture(EMPTY)], query={"page": "2"})
    source = make_source(countries=["CHE"], indicators=["FR.INR.LEND"], per_page=2)
    assert [e.params["page"] for e in source.collect(WINDOW)] == [1, 2]


# -- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failures",
    [
        pytest.param([Reply(status=429, headers={"Retry-After": "5"})], id="429-retry-after"),
        pytest.param([Reply(status=502), Reply(status=500)], id="5xx"),
        pytest.param([Reply(delay_s=1.0, json=[])], id="timeout"),
        pytest.param([Reply(body=b'[{"page": 1, "pa', truncated=True)], id="cut-short"),
    ],
)
def test_transient_failures_are_retried(
    replay_server: ReplayServer,
    make_source: MakeSource,
    sleep: RecordingSleep,
    failures: list[Reply],
):
    replay_server.script(USA_CPI, [*failures, Reply.fixture(INFLATION)])
    source = make_source()
    response = source.fetch(request_for(source, "USA", "FP.CPI.TOTL.ZG"))

    assert response.payload == fixture_json(INFLATION)
    assert len(replay_server.requests_to(USA_CPI)) == len(failures) + 1
    assert len(sleep.calls) == len(failures)
    if "Retry-After" in failures[0].headers:
        assert sleep.calls[0] >= 5.0


@pytest.mark.parametrize(
    ("reply", "retryable", "message"),
    [
        (Reply(status=503), True, "failed after 3 attempts: HTTP 503"),
        (Reply(delay_s=1.0, json=[]), True, "no answer within 0.3 s"),
        (Reply(body=b'[{"page": 1, "pa', truncated=True), True, "RemoteProtocolError"),
        (Reply(body=b'[{"page": 1, "pages": 1}, [{"date": "2024"'), False, "not valid JSON"),
        # The API's errors come with status 200.
        (
            Reply.fixture("worldbank/error_invalid_value.json"),
            False,
            "World Bank API error: 120 Invalid value: The provided parameter value is not valid",
        ),
        (
            Reply.fixture("worldbank/error_indicator_not_found.json"),
            False,
            "175 Invalid format: The indicator was not found",
        ),
        (Reply(json={"page": 1}), False, "expected a JSON array, got an object"),
        (Reply(json=[{"page": 1, "pages": 1}]), False, "expected [metadata, rows]"),
        (Reply(json=[{"page": 1}, []]), False, "no integer 'page'/'pages'"),
        (Reply(json=[{"page": 1, "pages": 1}, {}]), False, "the rows are not an array"),
        (Reply(status=404, body="<html>Not Found</html>"), False, "HTTP 404"),
    ],
)
def test_failures_are_clear_fetch_errors(
    replay_server: ReplayServer,
    make_source: MakeSource,
    reply: Reply,
    retryable: bool,
    message: str,
):
    replay_server.script(USA_CPI, [reply])
    source = make_source()
    with pytest.raises(FetchError, match="worldbank") as caught:
        source.fetch(request_for(source, "USA", "FP.CPI.TOTL.ZG"))
    assert (caught.value.source, caught.value.retryable) == ("worldbank", retryable)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


# -- settings and registry ---------------------------------------------------------------------


def test_registered_and_built_from_settings_without_a_key(replay_server: ReplayServer):
    assert "worldbank" in known_sources()
    replay_server.script(USA_CPI, [Reply.fixture(INFLATION)])
    settings = Settings(_env_file=None, worldbank_base_url=f"{replay_server.url}/v2")  # type: ignore[call-arg]
    source = get_connector("worldbank", settings.sources, settings.simulation, load_assets())

    assert isinstance(source, WorldBankSource)
    assert source.countries == ("USA", "VGB", "CYM", "CHE", "SLV")
    with source:
        response = source.fetch(request_for(source, "USA", "FP.CPI.TOTL.ZG"))
    assert response.payload == fixture_json(INFLATION)
