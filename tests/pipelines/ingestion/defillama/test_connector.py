"""The DefiLlama connector against local servers replaying DefiLlama's documented answers.

The TVL API and the stablecoins API are separate hosts in production, so they are two replay
servers here: a request sent to the wrong root gets a 404.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest

from pipelines.core.errors import FetchError
from pipelines.core.settings import Settings
from pipelines.ingestion.base import FetchWindow, SourceRequest
from pipelines.ingestion.defillama.connector import (
    PROTOCOL_ENDPOINT,
    RATE_PER_S,
    STABLECOIN_CHART_ENDPOINT,
    STABLECOIN_PRICES_ENDPOINT,
    STABLECOINS_ENDPOINT,
    DefiLlamaSource,
)
from pipelines.ingestion.registry import get_connector
from pipelines.reference import load_assets
from tests.fixtures.http_replay import (
    RecordingSleep,
    ReplayServer,
    Reply,
    fixture_json,
    replay_client,
)
from tests.pipelines.ingestion.support import assets

WINDOW = FetchWindow.for_days(dt.date(2024, 1, 1), 2)
PROTOCOL = "defillama/protocol.json"
STABLECOINS = "defillama/stablecoins.json"
CHART = "defillama/stablecoincharts_all.json"
PRICES = "defillama/stablecoinprices.json"


@pytest.fixture
def stable_server() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


@pytest.fixture
def make_source(
    replay_server: ReplayServer, stable_server: ReplayServer, sleep: RecordingSleep
) -> Callable[..., DefiLlamaSource]:
    def make(*asset_ids: str) -> DefiLlamaSource:
        return DefiLlamaSource(
            assets(*asset_ids),
            tvl_client=replay_client(replay_server, "defillama", sleep=sleep, timeout_s=0.3),
            stablecoins_client=replay_client(stable_server, "defillama", sleep=sleep),
        )

    return make


def script_stablecoins(server: ReplayServer) -> None:
    server.script(STABLECOINS_ENDPOINT, [Reply.fixture(STABLECOINS)])
    server.script(STABLECOIN_CHART_ENDPOINT, [Reply.fixture(CHART)])
    server.script(STABLECOIN_PRICES_ENDPOINT, [Reply.fixture(PRICES)])


# -- requests ----------------------------------------------------------------------------------


def test_requests_one_per_protocol_then_the_stablecoin_lists(
    make_source: Callable[..., DefiLlamaSource],
):
    # OUSG and USDY share Ondo's protocol; BENJI has no DefiLlama slug.
    source = make_source("ousg", "usdy", "benji", "usdt")
    assert source.protocols == ("ondo-yield-assets",)
    assert source.build_requests(WINDOW) == [
        SourceRequest("onchain", PROTOCOL_ENDPOINT, {"slug": "ondo-yield-assets"}),
        SourceRequest("onchain", STABLECOINS_ENDPOINT, {"includePrices": "true"}),
        SourceRequest("onchain", STABLECOIN_PRICES_ENDPOINT, {}),
    ]


def test_no_listed_assets_means_no_requests(make_source: Callable[..., DefiLlamaSource]):
    assert make_source("realt-4680-buckingham").build_requests(WINDOW) == []


# -- success ---------------------------------------------------------------------------------


def test_collect_follows_the_listing_to_each_reference_stablecoin(
    replay_server: ReplayServer,
    stable_server: ReplayServer,
    make_source: Callable[..., DefiLlamaSource],
):
    replay_server.script("/protocol/ondo-yield-assets", [Reply.fixture(PROTOCOL)])
    script_stablecoins(stable_server)
    before = dt.datetime.now(dt.UTC)
    envelopes = list(make_source("ousg", "usdt", "usdc", "dai").collect(WINDOW))

    # Tether (id 1) and USDC (id 2) are reference assets; Frax is not, and the USDY entry has
    # no gecko_id. DAI is a reference asset DefiLlama's list (here) does not carry.
    assert [(e.endpoint, e.params) for e in envelopes] == [
        (PROTOCOL_ENDPOINT, {"slug": "ondo-yield-assets"}),
        (STABLECOINS_ENDPOINT, {"includePrices": "true"}),
        (STABLECOIN_CHART_ENDPOINT, {"stablecoin": "1"}),
        (STABLECOIN_CHART_ENDPOINT, {"stablecoin": "2"}),
        (STABLECOIN_PRICES_ENDPOINT, {}),
    ]
    expected = [PROTOCOL, STABLECOINS, CHART, CHART, PRICES]
    for envelope, fixture in zip(envelopes, expected, strict=True):
        assert envelope.source == "defillama"
        assert envelope.dataset == "onchain"
        assert envelope.fetched_at >= before
        assert envelope.payload == fixture_json(fixture)

    assert [r.path for r in replay_server.requests] == ["/protocol/ondo-yield-assets"]
    sent = stable_server.requests
    assert [(r.path, r.query) for r in sent] == [
        ("/stablecoins", {"includePrices": "true"}),
        ("/stablecoincharts/all", {"stablecoin": "1"}),
        ("/stablecoincharts/all", {"stablecoin": "2"}),
        ("/stablecoinprices", {}),
    ]
    assert not any("key" in name for r in sent for name in r.headers)  # no key, none sent


def test_empty_results_are_landed_as_empty(
    replay_server: ReplayServer,
    stable_server: ReplayServer,
    make_source: Callable[..., DefiLlamaSource],
):
    empty_protocol = {**fixture_json(PROTOCOL), "tvl": [], "chainTvls": {}, "tokens": []}
    replay_server.script("/protocol/ondo-yield-assets", [Reply(json=empty_protocol)])
    stable_server.script(STABLECOINS_ENDPOINT, [Reply(json={"peggedAssets": []})])
    stable_server.script(STABLECOIN_PRICES_ENDPOINT, [Reply(json=[])])
    envelopes = list(make_source("ousg", "usdt").collect(WINDOW))
    assert [e.payload for e in envelopes] == [empty_protocol, {"peggedAssets": []}, []]


# -- failures through the connector ----------------------------------------------------------


def test_an_unknown_protocol_is_fatal_with_defillamas_message(
    replay_server: ReplayServer, make_source: Callable[..., DefiLlamaSource]
):
    replay_server.script(
        "/protocol/ondo-yield-assets",
        [Reply.fixture("defillama/error_protocol_not_found.json", 400)],
    )
    with pytest.raises(FetchError) as caught:
        list(make_source("ousg").collect(WINDOW))
    assert caught.value.retryable is False
    assert caught.value.status == 400
    assert str(caught.value) == (
        f"defillama: GET {replay_server.url}/protocol/ondo-yield-assets failed with "
        "HTTP 400 Bad Request: Protocol is not in our database"
    )


def test_throttling_and_server_errors_are_retried(
    stable_server: ReplayServer, make_source: Callable[..., DefiLlamaSource], sleep: RecordingSleep
):
    stable_server.script(
        STABLECOINS_ENDPOINT,
        [Reply(429, headers={"Retry-After": "12"}), Reply(502), Reply.fixture(STABLECOINS)],
    )
    stable_server.script(STABLECOIN_CHART_ENDPOINT, [Reply(500), Reply.fixture(CHART)])
    stable_server.script(STABLECOIN_PRICES_ENDPOINT, [Reply.fixture(PRICES)])
    envelopes = list(make_source("usdt").collect(WINDOW))
    assert [e.endpoint for e in envelopes] == [
        STABLECOINS_ENDPOINT,
        STABLECOIN_CHART_ENDPOINT,
        STABLECOIN_PRICES_ENDPOINT,
    ]
    assert len(sleep.calls) == 3
    assert sleep.calls[0] >= 12.0


@pytest.mark.parametrize(
    ("reply", "retryable", "message"),
    [
        (Reply(delay_s=1.0, json={}), True, "failed after 3 attempts: no answer within 0.3 s"),
        (Reply(body=b'{"id": "2542", "tvl": [{"da', truncated=True), True, "RemoteProtocolError"),
        (Reply(504), True, "failed after 3 attempts: HTTP 504 Gateway Timeout"),
        (Reply(body=b'{"id": "2542", "tvl": [{"da'), False, "is not valid JSON"),
        (Reply(body=b"<html>Bad gateway</html>", status=200), False, "is not valid JSON"),
        (Reply(json={"name": "Ondo"}), False, "expected keys ['tvl'] are missing"),
    ],
)
def test_protocol_failures_are_classified(
    replay_server: ReplayServer,
    make_source: Callable[..., DefiLlamaSource],
    reply: Reply,
    retryable: bool,
    message: str,
):
    replay_server.script("/protocol/ondo-yield-assets", [reply])
    with pytest.raises(FetchError, match=r"^defillama: ") as caught:
        list(make_source("ousg").collect(WINDOW))
    assert caught.value.retryable is retryable
    assert message in str(caught.value)
    assert len(replay_server.requests) == (3 if retryable else 1)


def test_a_stablecoin_listing_in_the_wrong_shape_is_refused(
    stable_server: ReplayServer, make_source: Callable[..., DefiLlamaSource]
):
    stable_server.script(STABLECOINS_ENDPOINT, [Reply(json=[{"id": "1"}])])
    with pytest.raises(FetchError, match="expected a JSON object, got an array") as caught:
        list(make_source("usdt").collect(WINDOW))
    assert caught.value.retryable is False
    assert len(stable_server.requests) == 1  # no follow-ups from a refused listing


# -- settings and registry -------------------------------------------------------------------


def test_from_settings_and_the_registry_build_it(
    replay_server: ReplayServer, stable_server: ReplayServer
):
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        defillama_base_url=replay_server.url,
        defillama_stablecoins_url=stable_server.url + "/",
        http_max_retries=1,
    )
    replay_server.script("/protocol/ondo-yield-assets", [Reply.fixture(PROTOCOL)])
    script_stablecoins(stable_server)
    source = get_connector(
        "defillama", settings.sources, settings.simulation, assets("ousg", "usdc")
    )
    assert isinstance(source, DefiLlamaSource)
    with source:
        assert source.tvl_client.rate_per_s == RATE_PER_S
        assert source.stablecoins_client.retry.max_retries == 1
        requests = source.build_requests(WINDOW)
        # One request per client: the real rate limiter does not have to wait.
        assert source.fetch(requests[0]).payload == fixture_json(PROTOCOL)
        assert source.fetch(requests[1]).payload == fixture_json(STABLECOINS)
    assert stable_server.requests[0].path == "/stablecoins"
    with DefiLlamaSource.from_settings(settings.sources, load_assets()) as built:
        assert "ondo-yield-assets" in built.protocols
