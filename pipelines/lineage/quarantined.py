"""Quarantined records looked up as served numbers are: by asset and time.

``silver/quarantine`` keeps a refused record's ``raw`` text (the record as the source sent it,
or the whole bronze line when the line was refused), the reason, and the record's bronze
object and envelope id; it has no asset or time column (a refused record may lack either). A
row answers an (asset, time) question when its raw record, or for a refused line the one
payload element, names the time, and its envelope names the asset: the asset's id or symbol
is a token of the envelope's request parameters (``SIM_SPOT_BTC_USD``: BTC) or of the raw
record.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from pipelines.contracts.reference import Asset
from pipelines.lineage.answer import Quarantined, Row
from pipelines.lineage.bronze import locate, names_instant
from pipelines.lineage.layers import Layers, is_

_TOKEN = re.compile(r"[A-Za-z0-9]+")


def _tokens(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_tokens(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(_tokens(item) for item in value[:50]))
    return {token.upper() for token in _TOKEN.findall(value)} if isinstance(value, str) else set()


def _raw(text: str | None) -> Any:
    try:
        return json.loads(text or "")
    except ValueError:
        return text


def _names_asset(asset: Asset, *values: Any) -> bool:
    wanted = {asset.asset_id.upper(), asset.symbol.upper()}
    return any(wanted & _tokens(value) for value in values)


def quarantined(layers: Layers, dataset: str, asset_id: str, ts: dt.datetime) -> list[Quarantined]:
    """The quarantined records of ``dataset`` about ``asset_id`` at ``ts``."""
    asset = layers.assets.get(asset_id)
    if asset is None:
        return []
    found = []
    for row in _rows(layers, dataset):
        raw = _raw(row.get("raw"))
        # a refused line's raw is the envelope: the record is its element naming the time
        record = raw.get("payload") if isinstance(raw, dict) and "payload" in raw else raw
        item = locate(record, ts)
        if item is None and not names_instant(record, ts):
            continue
        ref = layers.bronze.reference(row["bronze_file"] or "", row["ingest_id"] or "", ts)
        envelope = layers.bronze.envelope(ref.object_key, ref.ingest_id)
        params = envelope.envelope.get("params") if envelope is not None else None
        if _names_asset(asset, params, raw if item is None else item[1]):
            found.append(Quarantined(row, ref))
    return found


def _rows(layers: Layers, dataset: str) -> list[Row]:
    uri = layers.paths.quarantine
    if not layers.lake.exists(uri):
        return []
    table = layers.lake.table(uri).to_pyarrow_dataset().to_table(filter=is_("dataset", dataset))
    rows: list[Row] = table.to_pylist()
    return rows
