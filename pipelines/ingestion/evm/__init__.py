"""The EVM JSON-RPC source: ERC-20 ``Transfer`` logs of the reference tokens' contracts.

The connector (:mod:`.connector`) on a JSON-RPC client (:mod:`.rpc`), with adaptive block-range
paging (:mod:`.paging`) and checkpoints (:mod:`.checkpoints`); the page shape and encodings
(:mod:`.logs`) and the parser into ``silver/transfers`` (:mod:`.parsers`).
"""

from pipelines.ingestion.evm.connector import EvmSource
from pipelines.ingestion.evm.logs import EVM, LOGS_ENDPOINT, TRANSFER_TOPIC, ZERO_ADDRESS
from pipelines.ingestion.evm.parsers import TransferLogs

__all__ = ["EVM", "LOGS_ENDPOINT", "TRANSFER_TOPIC", "ZERO_ADDRESS", "EvmSource", "TransferLogs"]
