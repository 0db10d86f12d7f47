"""The EVM JSON-RPC source (``evm``): ERC-20 ``Transfer`` logs of the reference tokens, read
from each chain's node (``RWA_EVM_RPC_URLS``), one page per block range (docs/connectors.md).

Per chain with a node and reference contracts, a run:

1. asks the head (``eth_blockNumber``) and reads up to ``head - RWA_EVM_CONFIRMATIONS``, and no
   further than the ingest window's end;
2. starts after the checkpoint (:mod:`.checkpoints`), or at ``RWA_EVM_START_BLOCKS``, or at the
   first block of the ingest window (a binary search on block times);
3. checks the checkpoint against the chain first: when the hash of the last block read has
   changed (a reorg), it walks back through the recorded ranges to the newest one whose last
   block is unchanged and re-reads from there; the re-read pages supersede the orphaned logs
   in gold (:mod:`pipelines.gold.flows`);
4. reads ``eth_getLogs`` (the contracts, topic0 ``Transfer``) range by range, narrowing and
   regrowing the range as the node allows (:mod:`.paging`); adds the headers (time, hash) of
   the range's ends and of every block with a log, and each token's ``decimals()``; a log
   whose block hash differs from its header's (a reorg between the two calls) makes it read
   the range again;
5. records each range in the checkpoint once its page was handed on.

Every request goes through the shared HTTP client (rate limit ``RWA_EVM_RATE_PER_S``, retries
with backoff, redaction of the key in a node's URL).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

from pipelines.contracts.envelope import RawEnvelope
from pipelines.contracts.reference import Asset
from pipelines.core.errors import ConfigurationError, FetchError
from pipelines.core.resources import Closeable
from pipelines.core.settings import SourceSettings
from pipelines.ingestion.base import Connector, FetchWindow, RawResponse, SourceRequest
from pipelines.ingestion.evm.checkpoints import CheckpointStore, ReadRange
from pipelines.ingestion.evm.logs import (
    DECIMALS_SELECTOR,
    EVM,
    LOGS_ENDPOINT,
    TRANSFER_TOPIC,
    page_payload,
    quantity,
)
from pipelines.ingestion.evm.paging import Pager, RangeNotNarrowableError
from pipelines.ingestion.evm.rpc import JsonRpc, RangeRefusedError
from pipelines.ingestion.http import HttpClient
from pipelines.ingestion.pacing import RetryPolicy

logger = logging.getLogger("pipelines.ingestion.evm")

#: Headers asked per JSON-RPC batch (providers cap batches at 100-1000 calls).
HEADER_BATCH = 100
#: Reads of one range before an unsettled chain (log and header hashes disagree) fails it.
MAX_REREADS = 3


@dataclass
class Cursor:
    """What is left to read on one chain in this run."""

    next_block: int
    target: int
    contracts: list[str]
    pager: Pager
    ranges: list[ReadRange] = field(default_factory=list)


class EvmSource(Connector, Closeable):
    """ERC-20 Transfer logs of the reference tokens, from each configured chain's node."""

    name: ClassVar[str] = EVM

    def __init__(
        self,
        assets: Sequence[Asset],
        *,
        nodes: Mapping[str, JsonRpc],
        checkpoints: CheckpointStore,
        confirmations: int = 12,
        max_block_range: int = 2000,
        start_blocks: Mapping[str, int] | None = None,
    ) -> None:
        self.nodes = dict(nodes)
        self.checkpoints = checkpoints
        self.confirmations = confirmations
        self.max_block_range = max_block_range
        self.start_blocks = dict(start_blocks or {})
        contracts: dict[str, set[str]] = {}
        for asset in assets:
            if asset.contract_address and asset.blockchain_network in self.nodes:
                contracts.setdefault(asset.blockchain_network, set()).add(
                    asset.contract_address.lower()
                )
        self.contracts = {chain: sorted(found) for chain, found in sorted(contracts.items())}
        self._cursors: dict[str, Cursor] = {}
        self._decimals: dict[str, list[dict[str, Any]]] = {}

    @classmethod
    def from_settings(cls, settings: SourceSettings, assets: Sequence[Asset]) -> Self:
        """The source of the ``RWA_EVM_*`` settings; ConfigurationError without any node."""
        if not settings.evm_rpc_urls:
            raise ConfigurationError(
                "RWA_EVM_RPC_URLS is not set: the evm source needs a JSON-RPC URL per chain "
                "(e.g. ethereum=https://...)"
            )
        nodes = {}
        for chain, secret in settings.evm_rpc_urls.items():
            url = secret.get_secret_value()
            client = HttpClient(
                f"{EVM}:{chain}",
                base_url=url,
                retry=RetryPolicy.from_settings(settings),
                timeout_s=settings.http_timeout_s,
                rate_per_s=settings.evm_rate_per_s,
                secrets=url_secrets(url),
            )
            nodes[chain] = JsonRpc(client, chain)
        return cls(
            assets,
            nodes=nodes,
            checkpoints=CheckpointStore(settings.evm_state_dir),
            confirmations=settings.evm_confirmations,
            max_block_range=settings.evm_max_block_range,
            start_blocks=settings.evm_start_blocks,
        )

    # -- the steps ------------------------------------------------------------------------------

    def build_requests(self, window: FetchWindow) -> list[SourceRequest]:
        """One request per chain with blocks to read: the whole range; :meth:`fetch` reads it a
        page at a time and :meth:`next_page` moves on."""
        requests = []
        for chain, contracts in self.contracts.items():
            cursor = self._plan(chain, contracts, window)
            if cursor.next_block > cursor.target:
                logger.info("%s: %s has nothing new up to block %d", EVM, chain, cursor.target)
                continue
            self._cursors[chain] = cursor
            params = {"chain": chain, "address": contracts, "fromBlock": cursor.next_block}
            requests.append(SourceRequest("transfers", LOGS_ENDPOINT, params))
        return requests

    def fetch(self, request: SourceRequest) -> RawResponse:
        chain = str(request.params["chain"])
        return self._read_page(chain, self._cursors[chain])

    def next_page(self, request: SourceRequest, response: RawResponse) -> SourceRequest | None:
        """Record the page just handed on in the checkpoint, then ask for the next one."""
        chain = str(request.params["chain"])
        cursor = self._cursors[chain]
        payload = response.payload
        last = int(payload["toBlock"], 16)
        last_hash = next(b["hash"] for b in payload["blocks"] if int(b["number"], 16) == last)
        cursor.ranges.append(ReadRange(int(payload["fromBlock"], 16), last, last_hash))
        self.checkpoints.save(chain, cursor.contracts, cursor.ranges)
        cursor.next_block = last + 1
        if cursor.next_block > cursor.target:
            return None
        return SourceRequest("transfers", LOGS_ENDPOINT, {**request.params, "fromBlock": last + 1})

    def to_envelope(self, request: SourceRequest, response: RawResponse) -> RawEnvelope:
        """The envelope names the range the page covers (it may be narrower than asked)."""
        payload = response.payload
        params = {
            "chain": request.params["chain"],
            "address": payload["addresses"],
            "fromBlock": payload["fromBlock"],
            "toBlock": payload["toBlock"],
        }
        return super().to_envelope(
            SourceRequest(request.dataset, request.endpoint, params), response
        )

    def close(self) -> None:
        for node in self.nodes.values():
            node.client.close()

    # -- planning -------------------------------------------------------------------------------

    def _plan(self, chain: str, contracts: list[str], window: FetchWindow) -> Cursor:
        node = self.nodes[chain]
        head = _number(node, node.call("eth_blockNumber", []), "eth_blockNumber")
        target = head - self.confirmations
        head_time = self._block_time(node, head)
        if window.end < head_time:
            target = min(target, self._first_block_at(node, window.end, head) - 1)
        ranges = self.checkpoints.load(chain, contracts)
        ranges = self._unchanged(node, chain, ranges)
        if ranges:
            first = ranges[-1].last + 1
        elif chain in self.start_blocks:
            first = self.start_blocks[chain]
        else:
            first = self._first_block_at(node, window.start, head)
        return Cursor(first, target, contracts, Pager(self.max_block_range), ranges)

    def _unchanged(self, node: JsonRpc, chain: str, ranges: list[ReadRange]) -> list[ReadRange]:
        """The recorded ranges the chain still agrees with: after a reorg, those up to the
        newest range whose last block kept its hash (none: re-read from the oldest)."""
        for index in range(len(ranges) - 1, -1, -1):
            header = node.call("eth_getBlockByNumber", [quantity(ranges[index].last), False])
            if isinstance(header, dict) and header.get("hash") == ranges[index].last_hash:
                if index < len(ranges) - 1:
                    logger.warning(
                        "%s: reorg on %s after block %d: re-reading from block %d",
                        EVM,
                        chain,
                        ranges[index].last,
                        ranges[index].last + 1,
                    )
                return ranges[: index + 1]
        if ranges:
            logger.warning(
                "%s: reorg on %s deeper than the checkpoint: re-reading from block %d",
                EVM,
                chain,
                ranges[0].first,
            )
            self.start_blocks[chain] = ranges[0].first
        return []

    def _block_time(self, node: JsonRpc, number: int) -> dt.datetime:
        header = node.call("eth_getBlockByNumber", [quantity(number), False])
        if not isinstance(header, dict):
            raise _unusable(node, f"no header for block {number}")
        seconds = _number(node, header.get("timestamp"), "timestamp")
        return dt.datetime.fromtimestamp(seconds, dt.UTC)

    def _first_block_at(self, node: JsonRpc, instant: dt.datetime, head: int) -> int:
        """The first block at or after ``instant`` (``head + 1`` when none is yet)."""
        low, high = 0, head + 1
        while low < high:
            middle = (low + high) // 2
            if self._block_time(node, middle) < instant:
                low = middle + 1
            else:
                high = middle
        return low

    # -- reading --------------------------------------------------------------------------------

    def _read_page(self, chain: str, cursor: Cursor) -> RawResponse:
        node = self.nodes[chain]
        for _ in range(MAX_REREADS):
            first, last = cursor.pager.window(cursor.next_block, cursor.target)
            fetched_at = dt.datetime.now(dt.UTC)
            try:
                logs = node.call("eth_getLogs", [_log_filter(first, last, cursor.contracts)])
            except RangeRefusedError as refused:
                logger.info("%s: %s blocks %d-%d refused: %s", EVM, chain, first, last, refused)
                try:
                    cursor.pager.refused(refused.refusal, first, last)
                except RangeNotNarrowableError as error:
                    raise _unusable(node, str(error), retryable=False) from None
                continue
            if not isinstance(logs, list):
                raise _unusable(node, f"eth_getLogs answered {type(logs).__name__}, not a list")
            blocks = self._headers(node, first, last, logs)
            if _settled(logs, blocks):
                cursor.pager.succeeded()
                payload = page_payload(
                    first, last, cursor.contracts, logs, blocks, self._token_decimals(chain)
                )
                return RawResponse(payload, fetched_at)
            logger.warning("%s: %s blocks %d-%d changed while read; again", EVM, chain, first, last)
        raise _unusable(
            node, f"blocks from {cursor.next_block} kept changing while read ({MAX_REREADS} times)"
        )

    def _headers(
        self, node: JsonRpc, first: int, last: int, logs: list[Any]
    ) -> list[dict[str, Any]]:
        """Number, hash, parent hash and time of the range's ends and of each log's block."""
        numbers = {first, last} | {
            int(log["blockNumber"], 16)
            for log in logs
            if isinstance(log, dict) and _is_quantity(log.get("blockNumber"))
        }
        wanted = sorted(numbers)
        headers: list[dict[str, Any]] = []
        for start in range(0, len(wanted), HEADER_BATCH):
            chunk = wanted[start : start + HEADER_BATCH]
            answers = node.batch([("eth_getBlockByNumber", [quantity(n), False]) for n in chunk])
            for number, header in zip(chunk, answers, strict=True):
                if not isinstance(header, dict) or not header.get("hash"):
                    raise _unusable(node, f"no header for block {number}")
                headers.append(
                    {k: header.get(k) for k in ("number", "hash", "parentHash", "timestamp")}
                )
        return headers

    def _token_decimals(self, chain: str) -> list[dict[str, Any]]:
        """Each contract's ``decimals()`` answer, asked once per run (null: no answer)."""
        if chain not in self._decimals:
            contracts = self.contracts[chain]
            calls = [
                ("eth_call", [{"to": a, "data": DECIMALS_SELECTOR}, "latest"]) for a in contracts
            ]
            answers = self.nodes[chain].batch(calls)
            self._decimals[chain] = [
                {"address": a, "result": r} for a, r in zip(contracts, answers, strict=True)
            ]
        return self._decimals[chain]


def url_secrets(url: str) -> list[str]:
    """Parts of a node URL that are keys (Alchemy and Infura put them in the path)."""
    parts = urlsplit(url)
    path_parts = [p for p in parts.path.split("/") if len(p) >= 16]
    return [*path_parts, *([parts.password] if parts.password else [])]


def _log_filter(first: int, last: int, contracts: list[str]) -> dict[str, Any]:
    return {
        "fromBlock": quantity(first),
        "toBlock": quantity(last),
        "address": contracts,
        "topics": [TRANSFER_TOPIC],
    }


def _settled(logs: list[Any], blocks: list[dict[str, Any]]) -> bool:
    """Every log's block hash is its header's: the chain did not move between the calls."""
    hashes = {int(b["number"], 16): b["hash"] for b in blocks}
    return all(
        hashes.get(int(log["blockNumber"], 16)) == log.get("blockHash")
        for log in logs
        if isinstance(log, dict) and _is_quantity(log.get("blockNumber"))
    )


def _is_quantity(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("0x") and len(value) > 2


def _number(node: JsonRpc, value: Any, what: str) -> int:
    if not _is_quantity(value):
        raise _unusable(node, f"{what} is not a hex quantity: {value!r:.80}", retryable=False)
    return int(value, 16)


def _unusable(node: JsonRpc, problem: str, *, retryable: bool = True) -> FetchError:
    """An answer the source cannot use; retryable unless asking again cannot change it."""
    client = node.client
    return FetchError(
        f"{client.source}: {problem}",
        source=client.source,
        url=client.redact_url(client.base_url),
        status=None,
        retryable=retryable,
    )
