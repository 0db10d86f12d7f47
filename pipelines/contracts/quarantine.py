"""Every quarantine reason the project gives, declared once, with where it is decided.

A reason is the text a refused record carries into ``silver/quarantine`` (or a bronze object
into ``silver/quarantined_objects``). Operators group and count reasons by their text, and tests
assert them, so each text is written here only; the places that decide a refusal name the
entry (``UNKNOWN_SYMBOL_ID.text()``, ``FIELD_MISSING.text(label=...)``) instead of spelling it.

Levels:

* ``line`` -- a whole bronze line is refused (not an envelope, no parser, a payload that does
  not fit its parser's shape): decided by the Spark parsing engine or a parser's
  ``line_problem``;
* ``record`` -- one record of a line is refused: structurally (a typed setter of ``Record`` or a
  parser's own check) or by the quality gate (``quality: ...``, the suites' rules);
* ``object`` -- every record of a bronze object is refused with it (quarantined whole), or the
  object's row in ``silver/quarantined_objects`` says why it is listed.

``decided_in`` is the module that decides the refusal (the test of this registry checks that
it names the entry). Placeholders are ``str.format`` fields; where Spark fills one from a column
the caller passes ``"%s"`` and formats the result with ``F.format_string``.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Literal

Level = Literal["line", "record", "object"]

_PARSING = "pipelines.silver.parsing"
_RECORD = "pipelines.ingestion.payloads"
_COINGECKO = "pipelines.ingestion.coingecko.parsers"
_DEFILLAMA = "pipelines.ingestion.defillama.parsers"
_FRED = "pipelines.ingestion.fred.parsers"
_WORLDBANK = "pipelines.ingestion.worldbank.parsers"
_RSS = "pipelines.ingestion.news.parsers"
_NEWSAPI = "pipelines.ingestion.newsapi.parsers"
_SIMULATED = "pipelines.ingestion.simulated.parsers"
_EVM = "pipelines.ingestion.evm.parsers"


@dataclass(frozen=True, slots=True)
class QuarantineReason:
    """One reason: a stable ``code``, its text ``template``, its level and where it is decided."""

    code: str
    template: str
    level: Level
    decided_in: str

    def text(self, **values: object) -> str:
        """The reason's text with its placeholders filled."""
        return self.template.format(**values)

    @property
    def pattern(self) -> re.Pattern[str]:
        """Matches every text this reason can take (a placeholder matches any text)."""
        parts = []
        for literal, field, _spec, _conversion in string.Formatter().parse(self.template):
            parts.append(re.escape(literal))
            if field is not None:
                parts.append(".*?")
        return re.compile("".join(parts), re.DOTALL)

    def matches(self, text: str) -> bool:
        return self.pattern.fullmatch(text) is not None


def _line(code: str, template: str, decided_in: str = _PARSING) -> QuarantineReason:
    return QuarantineReason(code, template, "line", decided_in)


def _record(code: str, template: str, decided_in: str = _RECORD) -> QuarantineReason:
    return QuarantineReason(code, template, "record", decided_in)


# --- lines: the envelope and routing (the Spark parsing engine) -------------------------------

BLANK_LINE = _line("blank_line", "blank line")
NOT_A_JSON_OBJECT = _line("not_a_json_object", "line is not a JSON object")
MALFORMED_JSON = _line("malformed_json", "malformed JSON line")
PAYLOAD_SHAPE = _line("payload_shape", "payload does not fit the {shape} shape")
ENVELOPE_FIELD_MISSING = _line("envelope_field_missing", "envelope field '{name}' is missing")
FETCHED_AT_NOT_TIMESTAMP = _line(
    "fetched_at_not_timestamp", "envelope field 'fetched_at' is not a timestamp"
)
UNSUPPORTED_SCHEMA_VERSION = _line(
    "unsupported_schema_version",
    "unsupported envelope schema_version '{version}' (silver reads major version {major})",
)
SOURCE_FOLDER_MISMATCH = _line(
    "source_folder_mismatch", "envelope field 'source' does not match its bronze source= folder"
)
NO_PARSER_FOR_ENDPOINT = _line(
    "no_parser_for_endpoint", "no silver parser for source '{source}' endpoint '{endpoint}'"
)
NO_PARSER_IN_DATASET = _line(
    "no_parser_in_dataset",
    "no silver parser for source '{source}' endpoint '{endpoint}' in dataset '{dataset}'",
)

# --- lines: a parser's payload as a whole ------------------------------------------------------

NO_TOKENS_IN_USD = _line(
    "no_tokens_in_usd",
    "payload has no 'tokensInUsd' to split a shared protocol's TVL by token",
    _DEFILLAMA,
)
NO_OBSERVATIONS = _line("no_observations", "payload has no 'observations' array", _FRED)
NOT_METADATA_AND_ROWS = _line(
    "not_metadata_and_rows", "payload is not [metadata, rows]", _WORLDBANK
)
ROWS_NOT_OBSERVATIONS = _line(
    "rows_not_observations", "payload rows are not an array of observations", _WORLDBANK
)
NO_ARTICLES = _line("no_articles", "payload has no 'articles' array", _NEWSAPI)
NO_LOGS = _line("no_logs", "payload has no 'logs' array", _EVM)
FEED_UNREADABLE = _line("feed_unreadable", "feed refused: it could not be read ({error})", _RSS)
#: ``problem``: why the feed is no RSS/Atom document (``pipelines.ingestion.news.feed_problem``).
FEED_REFUSED = _line("feed_refused", "feed refused: {problem}", _RSS)

# --- records: the typed setters of Record ------------------------------------------------------

FIELD_MISSING = _record("field_missing", "field '{label}' is missing")
FIELD_NOT_FINITE = _record("field_not_finite", "field '{label}' is not a finite number")
#: ``kind``: "a number", "an integer", "a timestamp", "a Unix time in seconds", "a date", ...
FIELD_NOT_A = _record("field_not_a", "field '{label}' is not {kind}")
FIELD_BEYOND_LIMIT = _record(
    "field_beyond_limit", "field '{label}' is out of range (beyond ±{limit:g})"
)
FIELD_YEAR_OUT_OF_RANGE = _record(
    "field_year_out_of_range", "field '{label}' is out of range (years 1-9999)", _FRED
)

# --- records: a parser's own checks and reference lookups -------------------------------------

SYMBOL_ID_CHARACTERS = _record(
    "symbol_id_characters",
    "symbol_id has characters other than ASCII letters, digits and . _ + -",
    _SIMULATED,
)
UNKNOWN_SYMBOL_ID = _record("unknown_symbol_id", "unknown symbol_id", _SIMULATED)
UNSUPPORTED_PERIOD_ID = _record("unsupported_period_id", "unsupported period_id", _SIMULATED)
UNKNOWN_COINGECKO_COIN = _record("unknown_coingecko_coin", "unknown CoinGecko coin id", _COINGECKO)
SHORT_CANDLE = _record("short_candle", "candle has fewer than 5 values", _COINGECKO)
UNKNOWN_ASSET_PARAM = _record("unknown_asset_param", "unknown asset in params.asset", _SIMULATED)
UNKNOWN_DEFILLAMA_SLUG = _record("unknown_defillama_slug", "unknown DefiLlama slug", _DEFILLAMA)
UNKNOWN_GECKO_ID_PARAM = _record(
    "unknown_gecko_id_param", "unknown CoinGecko id in params.gecko_id", _DEFILLAMA
)
UNKNOWN_GECKO_ID = _record("unknown_gecko_id", "unknown CoinGecko id", _DEFILLAMA)
NOT_A_TRANSFER_LOG = _record(
    "not_a_transfer_log",
    "log is not an ERC-20 Transfer (topic0 Transfer(address,address,uint256), 3 topics)",
    _EVM,
)
UNKNOWN_CONTRACT = _record(
    "unknown_contract", "contract address is no reference asset on params.chain", _EVM
)
NO_BLOCK_TIME = _record("no_block_time", "no timestamp for the log's block in the page", _EVM)
NO_DECIMALS = _record("no_decimals", "no decimals() answer (0-77) for the token contract", _EVM)

# --- records: the quality gate ------------------------------------------------------------------

#: One failed rule of a suite (``says``: the rule in words, ``expectation``: the GX type). A row
#: failing several rules carries them all, joined by :data:`QUALITY_SEPARATOR`.
QUALITY_CHECK = _record(
    "quality_check", "quality: {says} ({expectation})", "pipelines.quality.suites"
)
QUALITY_SEPARATOR = "; "

# --- objects ---------------------------------------------------------------------------------

#: Why an object is broken (``silver/quarantined_objects.reason``); ``share`` and ``max_share``
#: are fractions.
OBJECT_BROKEN = QuarantineReason(
    "object_broken",
    "{refused} of {records_in} records refused ({share:.1%}), above "
    "RWA_QUALITY_MAX_FAILURE_SHARE ({max_share:.1%}); top reasons: {reasons}",
    "object",
    "pipelines.quality.objects",
)
#: The reason of each valid record of a broken object (``broken``: its OBJECT_BROKEN text).
QUARANTINED_WHOLE = QuarantineReason(
    "quarantined_whole",
    "bronze object quarantined whole: {broken}",
    "object",
    "pipelines.silver.stream",
)
#: The reason of each record of an object an operator set aside.
OBJECT_SET_ASIDE = QuarantineReason(
    "object_set_aside",
    "bronze object set aside by an operator (rwa quarantine set-aside)",
    "object",
    "pipelines.silver.stream",
)
#: ``silver/quarantined_objects.reason`` of an object set aside before silver listed it
#: (``note``: ``": <the operator's note>"``, or empty).
SET_ASIDE_UNJUDGED = QuarantineReason(
    "set_aside_unjudged",
    "set aside by an operator before silver judged it{note}",
    "object",
    "pipelines.silver.quarantine",
)
#: ``silver/quarantined_objects.reason`` of a listed object an operator then set aside.
SET_ASIDE_NOTE = QuarantineReason(
    "set_aside_note", "{reason}; set aside: {note}", "object", "pipelines.silver.quarantine"
)

#: Every reason, in the order declared.
REASONS: tuple[QuarantineReason, ...] = tuple(
    value for value in tuple(globals().values()) if isinstance(value, QuarantineReason)
)
#: The order texts are attributed in: most specific first (declared so), and templates that
#: begin with a placeholder last, since they match the end of any text.
_BY_SPECIFICITY = sorted(REASONS, key=lambda reason: reason.template.startswith("{"))


def reason_for(text: str) -> QuarantineReason | None:
    """The registry entry a reason text comes from (None: a reason nobody declared)."""
    return next((reason for reason in _BY_SPECIFICITY if reason.matches(text)), None)
