"""The EVM source against a local node replaying real ``eth_getLogs`` answers
(``tests/fixtures/evm_node.py``): paging that adapts to a "more than 10000 results" refusal
without skipping or re-reading a block, checkpoints, confirmations, reorgs, retries."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest

from pipelines.contracts.reference import Asset
from pipelines.core.errors import ConfigurationError, FetchError
from pipelines.core.settings import Settings
from pipelines.ingestion.base import FetchWindow
from pipelines.ingestion.evm import EvmSource
from pipelines.ingestion.evm.checkpoints import CheckpointStore
from pipelines.ingestion.evm.connector import url_secrets
from pipelines.ingestion.evm.rpc import JsonRpc
from pipelines.ingestion.http import REDACTED, HttpClient
from pipelines.ingestion.pacing import RetryPolicy
from pipelines.reference import get_reference_asset
from tests.fixtures.evm_node import TRANSFER, USDC_AVALANCHE, EvmNode, recorded_logs
from tests.fixtures.http_replay import RecordingSleep

CHAIN = "avalanche"
#: The reference USDC, read on Avalanche (where the recorded logs are from).
USDC = get_reference_asset("usdc").model_copy(
    update={"blockchain_network": CHAIN, "contract_address": USDC_AVALANCHE}
)
LOGS = recorded_logs()
USDC_LOGS = [
    log for log in LOGS if log["address"] == USDC_AVALANCHE and log["topics"][0] == TRANSFER
]


def evm_source(
    node: EvmNode, state: Path, *, assets: list[Asset] | None = None, **options: object
) -> EvmSource:
    client = HttpClient(
        f"evm:{CHAIN}",
        base_url=node.url,
        retry=RetryPolicy(max_retries=2, backoff_base_s=0.01, backoff_max_s=0.01),
        timeout_s=5.0,
        secrets=url_secrets(node.url),
        sleep=RecordingSleep(),
    )
    return EvmSource(
        assets or [USDC],
        nodes={CHAIN: JsonRpc(client, CHAIN, sleep=RecordingSleep())},
        checkpoints=CheckpointStore(state),
        **options,  # type: ignore[arg-type]
    )


def everything(node: EvmNode) -> FetchWindow:
    """A window from the node's genesis to well past its head."""
    start = dt.datetime.fromtimestamp(node.genesis_time, dt.UTC)
    return FetchWindow(start, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))


def page_ranges(node: EvmNode) -> list[tuple[int, int]]:
    return [
        (int(params[0]["fromBlock"], 16), int(params[0]["toBlock"], 16))
        for method, params in node.calls
        if method == "eth_getLogs"
    ]


def test_paging_adapts_to_the_10000_results_refusal_and_reads_every_block_once(
    evm_node: EvmNode, tmp_path: Path
) -> None:
    # The recorded answer plus its two USDC transfers three times more in each of 2,500 blocks:
    # 8 matching logs a block, 16,000 in a 2,000-block range, more than the node returns.
    for number in range(1_000, 3_500):
        evm_node.place(number, [*USDC_LOGS, *USDC_LOGS, *USDC_LOGS, *LOGS])
    evm_node.head = 3_600
    source = evm_source(
        evm_node, tmp_path, confirmations=10, max_block_range=2_000, start_blocks={CHAIN: 1_000}
    )

    envelopes = list(source.collect(everything(evm_node)))

    assert page_ranges(evm_node) == [
        (1_000, 2_999),  # refused: "query returned more than 10000 results"
        (1_000, 1_999),  # halved
        (2_000, 2_999),
        (3_000, 3_590),  # grown back after two successes, up to head - confirmations
    ]
    read = [(int(e.params["fromBlock"], 16), int(e.params["toBlock"], 16)) for e in envelopes]
    assert read == [(1_000, 1_999), (2_000, 2_999), (3_000, 3_590)]
    places = [
        (int(log["blockNumber"], 16), int(log["logIndex"], 16))
        for e in envelopes
        for log in e.payload["logs"]
    ]
    assert len(places) == len(set(places)) == 2_500 * 8  # nothing skipped, nothing twice
    first = envelopes[0]
    assert first.source == "evm" and first.dataset == "transfers"
    assert first.params == {
        "chain": CHAIN,
        "address": [USDC_AVALANCHE],
        "fromBlock": "0x3e8",
        "toBlock": "0x7cf",
    }
    assert first.payload["logs"][0] == USDC_LOGS[0] | {
        "blockNumber": "0x3e8",
        "blockHash": evm_node.block_hash(1_000),
        "logIndex": "0x0",
        "transactionHash": first.payload["logs"][0]["transactionHash"],
    }
    headers = {int(b["number"], 16): b for b in first.payload["blocks"]}
    assert set(headers) == set(range(1_000, 2_000))
    assert headers[1_999]["hash"] == evm_node.block_hash(1_999)
    assert first.payload["decimals"] == [
        {"address": USDC_AVALANCHE, "result": "0x" + "0" * 63 + "6"}
    ]
    checkpoint = json.loads((tmp_path / f"{CHAIN}.json").read_text())
    assert checkpoint["ranges"][-1] == {
        "first": 3_000,
        "last": 3_590,
        "last_hash": evm_node.block_hash(3_590),
    }


def test_a_rerun_resumes_after_the_checkpoint_and_waits_for_confirmations(
    evm_node: EvmNode, tmp_path: Path
) -> None:
    for number in (10, 30, 50):
        evm_node.place(number, USDC_LOGS)
    evm_node.head = 52
    options = {"confirmations": 12, "max_block_range": 100, "start_blocks": {CHAIN: 5}}
    first = list(evm_source(evm_node, tmp_path, **options).collect(everything(evm_node)))
    assert [(e.params["fromBlock"], e.params["toBlock"]) for e in first] == [("0x5", "0x28")]
    assert sum(len(e.payload["logs"]) for e in first) == 4  # block 50 is not confirmed yet

    evm_node.calls.clear()
    assert list(evm_source(evm_node, tmp_path, **options).collect(everything(evm_node))) == []
    assert "eth_getLogs" not in evm_node.methods()

    evm_node.head = 70
    again = list(evm_source(evm_node, tmp_path, **options).collect(everything(evm_node)))
    assert [(e.params["fromBlock"], e.params["toBlock"]) for e in again] == [("0x29", "0x3a")]
    assert [int(log["blockNumber"], 16) for log in again[0].payload["logs"]] == [50, 50]


def test_a_reorg_rewinds_to_the_last_unchanged_range_and_rereads(
    evm_node: EvmNode, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for number in range(100, 160, 5):
        evm_node.place(number, USDC_LOGS)
    evm_node.head = 150
    options = {"confirmations": 0, "max_block_range": 20, "start_blocks": {CHAIN: 100}}
    before = list(evm_source(evm_node, tmp_path, **options).collect(everything(evm_node)))
    assert [e.params["toBlock"] for e in before] == ["0x77", "0x8b", "0x96"]  # 119, 139, 150

    # Blocks from 145 on are replaced: block 145 loses its logs, 147 gains one.
    evm_node.reorg(145, {147: USDC_LOGS[:1]})
    evm_node.head = 152
    with caplog.at_level(logging.WARNING, logger="pipelines.ingestion.evm"):
        after = list(evm_source(evm_node, tmp_path, **options).collect(everything(evm_node)))

    assert "reorg on avalanche after block 139: re-reading from block 140" in caplog.text
    assert [(e.params["fromBlock"], e.params["toBlock"]) for e in after] == [("0x8c", "0x98")]
    reread = after[0].payload["logs"]
    assert [int(log["blockNumber"], 16) for log in reread] == [140, 140, 147]
    assert reread[-1]["blockHash"] == evm_node.block_hash(147)
    last = after[0].payload["blocks"][-1]
    assert (last["number"], last["hash"]) == ("0x98", evm_node.block_hash(152))


def test_a_reorg_deeper_than_the_checkpoint_rereads_from_its_oldest_range(
    evm_node: EvmNode, tmp_path: Path
) -> None:
    evm_node.place(101, USDC_LOGS)
    evm_node.head = 120
    options = {"confirmations": 0, "max_block_range": 10, "start_blocks": {CHAIN: 100}}
    list(evm_source(evm_node, tmp_path, **options).collect(everything(evm_node)))
    evm_node.reorg(50, {101: USDC_LOGS[1:]})
    after = list(evm_source(evm_node, tmp_path, **options).collect(everything(evm_node)))
    assert after[0].params["fromBlock"] == "0x64"  # 100, the oldest range's first block
    assert [log["data"] for log in after[0].payload["logs"]] == [USDC_LOGS[1]["data"]]


def test_server_errors_are_retried_and_a_node_error_names_no_key(
    evm_node: EvmNode, tmp_path: Path
) -> None:
    evm_node.place(3, USDC_LOGS)
    evm_node.head = 10
    evm_node.fail_next = [503, 429]
    source = evm_source(evm_node, tmp_path, confirmations=0, start_blocks={CHAIN: 0})
    assert sum(len(e.payload["logs"]) for e in source.collect(everything(evm_node))) == 2

    evm_node.head = 20
    evm_node.refusal = lambda first, last: {"code": -32000, "message": "execution aborted"}
    evm_node.max_results = 0
    evm_node.place(15, USDC_LOGS)
    with pytest.raises(FetchError) as failure:
        list(evm_source(evm_node, tmp_path, confirmations=0).collect(everything(evm_node)))
    assert "JSON-RPC error -32000: execution aborted" in str(failure.value)
    assert "k" * 32 not in str(failure.value) and REDACTED in str(failure.value)
    assert failure.value.retryable is False


def test_settings_name_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="RWA_EVM_RPC_URLS is not set"):
        EvmSource.from_settings(Settings().sources, [USDC])
    settings = Settings(
        evm_rpc_urls=f"{CHAIN}=https://node.example/v2/{'s' * 32}", evm_state_dir=str(tmp_path)
    )
    source = EvmSource.from_settings(settings.sources, [USDC, get_reference_asset("ousg")])
    assert source.contracts == {CHAIN: [USDC_AVALANCHE]}  # ousg's chain has no node
    assert (
        source.nodes[CHAIN]
        .client.redact_text("https://node.example/v2/" + "s" * 32)
        .endswith(REDACTED)
    )
