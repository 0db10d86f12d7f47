"""The EVM JSON-RPC source: ERC-20 ``Transfer`` logs of the reference tokens' contracts.

The page shape and encodings (:mod:`.logs`), the parser into ``silver/transfers``
(:mod:`.parsers`).
"""

from pipelines.ingestion.evm.logs import EVM, LOGS_ENDPOINT, TRANSFER_TOPIC, ZERO_ADDRESS
from pipelines.ingestion.evm.parsers import TransferLogs

__all__ = ["EVM", "LOGS_ENDPOINT", "TRANSFER_TOPIC", "ZERO_ADDRESS", "TransferLogs"]
