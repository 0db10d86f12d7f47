"""The shape of an ERC-20 ``Transfer`` log page: what the EVM connector lands and the simulated
source imitates, and the JSON-RPC encodings both use.

A page is the answer for one block range ``[fromBlock, toBlock]`` of one chain, read for a set
of token contracts (``addresses``). Its payload keeps each JSON-RPC answer as the node sent it:

``{"fromBlock": "0x..", "toBlock": "0x..", "addresses": ["0x.."],
"logs": [<eth_getLogs result items: address, topics, data, blockNumber, blockHash, logIndex,
transactionHash, transactionIndex, removed, ...>],
"blocks": [{"number", "hash", "timestamp", "parentHash"} of eth_getBlockByNumber],
"decimals": [{"address", "result": <eth_call decimals() answer>}]}``

``blocks`` holds the headers of the range's first and last block and of every block with a log
(``eth_getLogs`` gives no time; some nodes add ``blockTimestamp`` to each log, which is used
when present). The range is part of the payload because silver records it: a later page over
the same blocks (a re-read after a reorg) supersedes every earlier log of those blocks
(docs/connectors.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: The envelope ``source`` of the real connector.
EVM = "evm"
#: The one endpoint of the ``transfers`` dataset: a page of ``eth_getLogs`` answers.
LOGS_ENDPOINT = "eth_getLogs"
#: keccak256("Transfer(address,address,uint256)"): topic0 of every ERC-20 (and ERC-721)
#: Transfer event. ERC-20 indexes from and to (3 topics); ERC-721 also the token id (4).
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
#: Mints come from it, burns go to it.
ZERO_ADDRESS = "0x" + "0" * 40
#: The selector of ``decimals()`` (keccak256 of the signature, first 4 bytes).
DECIMALS_SELECTOR = "0x313ce567"


def quantity(value: int) -> str:
    """A JSON-RPC quantity: ``0x`` and lower-case hex without leading zeros."""
    if value < 0:
        raise ValueError(f"a quantity is not negative, got {value}")
    return hex(value)


def word(value: int) -> str:
    """A 32-byte ABI word (``0x`` + 64 hex digits), as ``data`` and ``eth_call`` return."""
    return "0x" + format(value, "064x")


def address_topic(address: str) -> str:
    """An address as an indexed topic: left-padded to 32 bytes."""
    return "0x" + "0" * 24 + address.lower().removeprefix("0x")


def page_payload(
    first: int,
    last: int,
    addresses: Sequence[str],
    logs: list[dict[str, Any]],
    blocks: list[dict[str, Any]],
    decimals: list[dict[str, Any]],
) -> dict[str, Any]:
    """The payload of one page (see the module docstring)."""
    return {
        "fromBlock": quantity(first),
        "toBlock": quantity(last),
        "addresses": [address.lower() for address in addresses],
        "logs": logs,
        "blocks": blocks,
        "decimals": decimals,
    }
