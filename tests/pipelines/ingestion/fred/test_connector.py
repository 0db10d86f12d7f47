"""The FRED connector against a local server replaying FRED's documented answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from pipelines.core.errors import ConfigurationError, FetchError
from pipelines.core.settings import Settings, SimulationSettings
from pipelines.ingestion.base import FetchWindow, SourceRequest
from pipelines.ingestion.fred.connector import (
    FRED_SERIES,
    OBSERVATIONS_ENDPOINT,
    RATE_PER_S,
    FredSource,
)
from pipelines.ingestion.http import REDACTED
from pipelines.ingestion.registry import get_connector, known_sources
from pipelines.reference import load_assets
from tests.fixtures.http_replay import (
    RecordingSleep,
    ReplayServer,
    Reply,
    fixture_json,
    replay_client,
)

# A week of July 2024: Independence Day (a Thursday) has no T-bill rate.
WINDOW = FetchWindow(dt.datetime(2024, 7, 1, tzinfo=dt.UTC), dt.datetime(2024, 7, 8, tzinfo=dt.UTC))
KEY = "0123456789abcdef0123456789abcdef"  # FRED keys are 32 lower-case hex characters
PATH = OBSERVATIONS_ENDPOINT
DTB3 = "fred/observations_dtb3.json"
EMPTY = "fred/observations_empty.json"

MakeSource = Callable[..., FredSource]


def settings(**overrides: object) -> Settings:
    # Explicit None key: a developer's environment must not change what these tests see.
    values: dict[str, object] = {"fred_api_key": None, **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@pytest.fixture
def make_source(replay_server: ReplayServer, sleep: RecordingSleep) -> MakeSource:
    def make(**kwargs: object) -> FredSource:
        client = replay_client(
            replay_server, "fred", sleep=sleep, timeout_s=0.3, params={"api_key": KEY}
        )
        return FredSource(client, **kwargs)  # type: ignore[arg-type]

    return make


def one_series(source: FredSource, series_id: str = "DTB3") -> SourceRequest:
    return next(r for r in source.build_requests(WINDOW) if r.params["series_id"] == series_id)


# -- requests ----------------------------------------------------------------------------------


def test_one_request_per_series_over_the_window(make_source: MakeSource):
    requests = make_source().build_requests(WINDOW)
    assert [r.params["series_id"] for r in requests] == ["DTB3", "DFF", "DGS10", "CPIAUCSL"]
    assert list(FRED_SERIES) == ["DTB3", "DFF", "DGS10", "CPIAUCSL"]
    assert requests[0] == SourceRequest(
        "economic",
        PATH,
        {
            "series_id": "DTB3",
            "observation_start": "2024-07-01",
            "observation_end": "2024-07-07",  # inclusive: the day before the exclusive end
            "file_type": "json",
            "sort_order": "asc",
            "limit": 100_000,
            "offset": 0,
        },
    )


def test_a_window_inside_one_day_asks_for_that_day(make_source: MakeSource):
    start = dt.datetime(2024, 7, 3, 6, tzinfo=dt.UTC)
    request = make_source().build_requests(FetchWindow(start, start + dt.timedelta(hours=6)))[0]
    assert (request.params["observation_start"], request.params["observation_end"]) == (
        "2024-07-03",
        "2024-07-03",
    )


@pytest.mark.parametrize("limit", [0, 100_001])
def test_limit_is_bounded_by_fred(make_source: MakeSource, limit: int):
    with pytest.raises(ValueError, match=r"limit must be 1\.\.100000"):
        make_source(limit=limit)


# -- success -----------------------------------------------------------------------------------


def test_collect_lands_payloads_untouched_and_keeps_the_key_out_of_bronze(
    replay_server: ReplayServer, make_source: MakeSource
):
    replay_server.script(PATH, [Reply.fixture(EMPTY)])
    replay_server.script(PATH, [Reply.fixture(DTB3)], query={"series_id": "DTB3"})
    before = dt.datetime.now(dt.UTC)

    envelopes = list(make_source().collect(WINDOW))

    assert [e.params["series_id"] for e in envelopes] == list(FRED_SERIES)
    for envelope in envelopes:
        assert (envelope.source, envelope.dataset, envelope.endpoint) == ("fred", "economic", PATH)
        assert envelope.fetched_at >= before
        assert "api_key" not in envelope.params
        assert KEY not in envelope.to_json_line()
    assert envelopes[0].payload == fixture_json(DTB3)  # "." for the holiday, values as text
    assert envelopes[1].payload == fixture_json(EMPTY)
    # The key went on the wire, with the documented params.
    sent = replay_server.requests_to(PATH)[0].query
    assert sent["api_key"] == KEY
    assert sent["file_type"] == "json"
    assert sent["observation_start"] == "2024-07-01"


def test_pages_follow_offset_until_count_is_covered(
    replay_server: ReplayServer, make_source: MakeSource
):
    replay_server.script(PATH, [Reply.fixture("fred/observations_dff_page1.json")])
    replay_server.script(
        PATH, [Reply.fixture("fred/observations_dff_page2.json")], query={"offset": "4"}
    )
    envelopes = list(make_source(series=["DFF"], limit=4).collect(WINDOW))

    assert [e.params["offset"] for e in envelopes] == [0, 4]
    assert [len(e.payload["observations"]) for e in envelopes] == [4, 3]
    assert [r.query["offset"] for r in replay_server.requests_to(PATH)] == ["0", "4"]
    assert len({e.ingest_id for e in envelopes}) == 2


def test_an_empty_page_ends_the_series_even_if_count_promised_more(
    replay_server: ReplayServer, make_source: MakeSource
):
    first = fixture_json("fred/observations_dff_page1.json") | {"count": 1000}
    replay_server.script(PATH, [Reply(json=first)])
    replay_server.script(
        PATH,
        [Reply(json=fixture_json(EMPTY) | {"count": 1000, "offset": 4})],
        query={"offset": "4"},
    )
    envelopes = list(make_source(series=["DFF"], limit=4).collect(WINDOW))

    assert [e.params["offset"] for e in envelopes] == [0, 4]
    assert envelopes[-1].payload["observations"] == []
    assert len(replay_server.requests_to(PATH)) == 2


# -- transport failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failures",
    [
        pytest.param(
            [Reply.fixture("fred/error_rate_limited.json", 429, headers={"Retry-After": "7"})],
            id="429-retry-after",
        ),
        pytest.param([Reply(status=500), Reply(status=503)], id="5xx"),
        pytest.param([Reply(delay_s=1.0, json={})], id="timeout"),
        pytest.param([Reply(body=b'{"count": 5, "observ', truncated=True)], id="cut-short"),
    ],
)
def test_transient_failures_are_retried(
    replay_server: ReplayServer,
    make_source: MakeSource,
    sleep: RecordingSleep,
    failures: list[Reply],
):
    replay_server.script(PATH, [*failures, Reply.fixture(DTB3)])
    source = make_source()
    response = source.fetch(one_series(source))

    assert response.payload == fixture_json(DTB3)
    assert len(replay_server.requests_to(PATH)) == len(failures) + 1
    assert len(sleep.calls) == len(failures)
    if "Retry-After" in failures[0].headers:
        assert sleep.calls[0] >= 7.0  # the server's wait is a floor


@pytest.mark.parametrize(
    ("reply", "retryable", "message"),
    [
        (Reply(status=503), True, "failed after 3 attempts: HTTP 503"),
        (Reply(delay_s=1.0, json={}), True, "no answer within 0.3 s"),
        (Reply(body=b'{"count": 5, "observ', truncated=True), True, "RemoteProtocolError"),
        (Reply(body=b'{"count": 5, "observations": [{"date"'), False, "not valid JSON"),
        (Reply(body=b""), False, "the body is empty"),
        (
            Reply.fixture("fred/error_api_key_not_registered.json", 400),
            False,
            "HTTP 400 Bad Request: Bad Request. The value for variable api_key is not registered",
        ),
        (
            Reply.fixture("fred/error_series_not_found.json", 400),
            False,
            "The series does not exist",
        ),
        (Reply(json=[]), False, "expected a JSON object, got an array"),
        (Reply(json={"error_code": 400}), False, "expected keys ['count', 'observations']"),
        (Reply(json={"count": "5", "observations": []}), False, "'count' is not an integer"),
        (Reply(json={"count": 5, "observations": {}}), False, "'observations' is not an array"),
    ],
)
def test_failures_are_clear_fetch_errors_without_the_key(
    replay_server: ReplayServer,
    make_source: MakeSource,
    reply: Reply,
    retryable: bool,
    message: str,
):
    replay_server.script(PATH, [reply])
    source = make_source()
    with pytest.raises(FetchError, match="fred") as caught:
        source.fetch(one_series(source))

    error = caught.value
    assert (error.source, error.retryable) == ("fred", retryable)
    assert message in str(error)
    assert KEY not in str(error) and KEY not in error.url
    assert f"api_key={REDACTED}" in error.url
    assert "\n" not in str(error)


# -- settings and registry ---------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "   "])
def test_a_missing_key_is_a_one_line_error_naming_the_variable(key: str | None):
    with pytest.raises(ConfigurationError) as caught:
        FredSource.from_settings(settings(fred_api_key=key).sources, [])
    message = str(caught.value)
    assert message.startswith("RWA_FRED_API_KEY is not set")
    assert "\n" not in message


def test_registered_and_built_from_settings(replay_server: ReplayServer):
    assert "fred" in known_sources()
    replay_server.script(PATH, [Reply.fixture(DTB3)])
    source = get_connector(
        "fred",
        settings(fred_api_key=KEY, fred_base_url=replay_server.url).sources,
        SimulationSettings(),
        load_assets(),
    )
    assert isinstance(source, FredSource)
    assert source.client._limiter is not None
    assert source.client._limiter.rate_per_s == RATE_PER_S == 2.0  # 120 requests a minute
    with source:
        response = source.fetch(one_series(source))
    assert response.payload == fixture_json(DTB3)
    assert replay_server.requests_to(PATH)[0].query["api_key"] == KEY
