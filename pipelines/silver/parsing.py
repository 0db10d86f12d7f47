"""The Spark half of a silver micro-batch: bronze lines -> typed candidate rows.

Bronze is read as text lines (the raw line is what quarantine keeps). Each line is routed to the
parser of its (source, endpoint): the source comes from the bronze ``source=`` folder, the
endpoint -- only for sources with several payload shapes -- from the line's canonical prefix
(``{"dataset":..,"endpoint":..``, which the envelope writer always produces), else from a JSON
path. Each line is then JSON-parsed exactly once, with the envelope schema of its parser (the
payload typed to that parser's shape), and exploded into one row per record.

Every output row is one of:

* a record (``_is_record``), typed to the dataset's declared columns, with ``reason`` null when
  it is structurally valid or naming the field that is wrong;
* a refused line (``_is_record``; a blank line, a line that is not a JSON object, malformed
  JSON, a missing envelope field, an unsupported ``schema_version``, a payload that does not
  fit the parser's shape, no parser at all), with ``reason`` and the line as ``raw``;
* a line without records (an empty answer, or an endpoint the dataset ignores): not a record,
  kept only so ``bronze_lines`` counts it.

``_line_head`` marks one row per line, so the driver counts bronze lines from the collected rows
without another Spark action.
"""

from __future__ import annotations

from functools import reduce

import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_type
from pyspark.sql.types import DataType, StringType, StructField, StructType

from pipelines.contracts import quarantine as reasons
from pipelines.contracts.envelope import KEY_IN_PATH, SCHEMA_VERSION, SOURCE_IN_PATH
from pipelines.ingestion.payloads import (
    Envelope,
    PayloadParser,
    Record,
    first_problem,
    param_column,
)
from pipelines.ingestion.sql_records import INSTANT_TEXT
from pipelines.silver.spec import DatasetSpec

#: The envelope major version silver reads. ``schema_version`` is read as text, so a JSON ``1``,
#: ``1.0``, ``"1"`` or ``"1.0"`` all say major version 1 (a minor version only adds fields,
#: which parsers ignore); any other major version is refused, naming it.
SUPPORTED_MAJOR_VERSION = SCHEMA_VERSION
SUPPORTED_VERSION_TEXT = rf"^{SUPPORTED_MAJOR_VERSION}(\.[0-9]+)?\z"
#: How much of an unsupported version a reason quotes (reasons are grouped and counted).
QUOTED_VERSION_CHARS = 40
ENVELOPE_TEXT_FIELDS = (
    "source",
    "dataset",
    "endpoint",
    "params",  # an object, kept as its raw JSON text
    "fetched_at",
    "ingest_id",
    "schema_version",
)
#: Fields a usable envelope must have (``dataset`` and ``endpoint`` are implied by the route).
REQUIRED_ENVELOPE_FIELDS = ("source", "ingest_id", "fetched_at", "payload")
CORRUPT = "_corrupt_record"
#: The endpoint of a canonical envelope line (keys sorted: ``dataset`` first, then ``endpoint``).
CANONICAL_ENDPOINT = r'^\{"dataset":"[^"]*","endpoint":"([^"\\]*)"'
#: How much of a line the routing and text checks read (a canonical line's dataset and endpoint
#: fit well within it).
_PREFIX_CHARS = 256
#: Book-keeping columns of the candidate rows (dropped before the gate).
REASON, RAW, LINE_HEAD, IS_RECORD = "reason", "raw", "_line_head", "_is_record"
NO_ROUTE = -1
#: Per-line columns of a parsed line: its fetch time, the problem of its per-line values.
FETCHED_AT, _LINE_RECORD_PROBLEM = "_fetched_at", "_line_record_problem"


def bronze_lines(text_lines: DataFrame) -> DataFrame:
    """The streaming text source with the columns routing needs: ``value`` (the line),
    ``bronze_file`` (lake-relative object key) and ``path_source`` (its ``source=`` folder)."""
    path = F.col("_metadata.file_path")
    return text_lines.select(
        "value",
        F.regexp_extract(path, KEY_IN_PATH, 1).alias("bronze_file"),
        F.regexp_extract(path, SOURCE_IN_PATH, 1).alias("path_source"),
    )


def parse_lines(lines: DataFrame, spec: DatasetSpec) -> DataFrame:
    """Candidate rows of one micro-batch (see the module docstring), over the columns of
    ``spec.schema`` plus ``reason``, ``raw``, ``_line_head`` and ``_is_record``."""
    routed = lines.withColumn("_route", _route(spec))
    branches = [
        _parsed_branch(routed.where(F.col("_route") == index), parser, spec)
        for index, parser in enumerate(spec.parsers)
    ]
    branches.append(_unparsed_branch(routed.where(F.col("_route") < 0), spec))
    return reduce(DataFrame.unionByName, branches)


def spark_types(schema: pa.Schema) -> dict[str, DataType]:
    return {field.name: from_arrow_type(field.type) for field in schema}


# --- routing ---------------------------------------------------------------------------------


#: The envelope read for its endpoint alone (a line the canonical prefix does not route).
_ENDPOINT_ONLY = StructType([StructField("endpoint", StringType())])


def line_endpoint() -> Column:
    """The envelope endpoint of a line: from the canonical prefix, else by JSON path."""
    # On a prefix: a regex on the column converts the whole line (kilobytes) to a Java string.
    # A prefix that cuts the endpoint short fails the regex, and the JSON path answers.
    canonical = F.regexp_extract(_line_prefix(), CANONICAL_ENDPOINT, 1)
    # Read as the envelope is (from_json): get_json_object's parser refuses the NaN and
    # infinity literals that from_json (and DuckDB) take, and routed such lines nowhere.
    by_path = F.from_json("value", _ENDPOINT_ONLY, {"mode": "PERMISSIVE"})["endpoint"]
    return F.coalesce(F.nullif(canonical, F.lit("")), by_path)


def _route(spec: DatasetSpec) -> Column:
    """Index of the parser of each line; -1 when none (ignored endpoint or no parser)."""
    multi = sources_needing_endpoint(spec)
    endpoint = line_endpoint()
    route: Column = F.lit(NO_ROUTE)
    for index, parser in reversed(list(enumerate(spec.parsers))):
        matches = F.col("path_source") == parser.source
        if parser.source in multi and parser.endpoints:
            matches = matches & endpoint.isin(*parser.endpoints)
        route = F.when(matches, F.lit(index)).otherwise(route)
    return route


def sources_needing_endpoint(spec: DatasetSpec) -> set[str]:
    """Sources with more than one parser or ignored endpoint: only their lines need the
    endpoint to be routed (the others are routed by folder alone, at no parsing cost)."""
    counts: dict[str, int] = {}
    for source in [p.source for p in spec.parsers] + [i.source for i in spec.ignored]:
        counts[source] = counts.get(source, 0) + 1
    return {s for s, n in counts.items() if n > 1}


# --- a parser's lines ------------------------------------------------------------------------


def envelope_schema(payload_type: DataType) -> StructType:
    return StructType(
        [
            *(StructField(name, StringType()) for name in ENVELOPE_TEXT_FIELDS),
            StructField("payload", payload_type),
            StructField(CORRUPT, StringType()),
        ]
    )


def _envelope_fields(lines: DataFrame, parser: PayloadParser) -> DataFrame:
    """The lines with their envelope parsed (once, typed to the parser's payload) and the
    per-line values the records read."""
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
    return lines.select(
        "value",
        "bronze_file",
        "path_source",
        F.from_json("value", envelope_schema(parser.payload_type), options).alias("e"),
    ).select(
        "value",
        "bronze_file",
        "path_source",
        "e.*",
        # Declared request parameters and the fetch time, read once per line (not once per
        # exploded record).
        *(
            F.get_json_object("e.params", f"$.{name}").alias(param_column(name))
            for name in parser.params
        ),
        fetched_at_instant(F.col("e.fetched_at")).alias(FETCHED_AT),
    )


def _parsed_branch(lines: DataFrame, parser: PayloadParser, spec: DatasetSpec) -> DataFrame:
    parsed = _envelope_fields(lines, parser)
    envelope = Envelope(
        source=F.col("source"),
        endpoint=F.col("endpoint"),
        fetched_at=F.col(FETCHED_AT),
        declared=parser.params,
    )
    # What the parser derives from the envelope alone, also once per line.
    per_line = parser.line_record(envelope)
    prepared = _with_casts(parsed, per_line).withColumn(
        "_prepared", parser.prepare(F.col("payload"))
    )
    line_problem = _line_problem(parser, F.col("_prepared"))
    exploded = prepared.select(
        "*",
        line_problem.alias("_line_problem"),
        per_line.problem().alias(_LINE_RECORD_PROBLEM),
        *(value.alias(_line_column(name)) for name, value in per_line.columns.items()),
        # explode_outer: a refused line, and a line without records, stay as one row. (A plain
        # explode would also make Spark infer a filter that parses every line twice.)
        F.posexplode_outer(F.when(line_problem.isNull(), parser.items(F.col("_prepared")))).alias(
            "_pos", "_item"
        ),
    )
    record = parser.record(F.col("_item"), envelope)
    refused_line = F.col("_line_problem").isNotNull()
    is_record = F.col("_pos").isNotNull() | refused_line
    # The per-line checks come before the record's (see PayloadParser.line_record).
    problems = (F.col("_line_problem"), F.col(_LINE_RECORD_PROBLEM), record.problem())
    reason = F.when(is_record, F.coalesce(*problems))
    lineage = {
        "source": F.col("source"),
        "ingest_id": F.col("ingest_id"),
        "fetched_at": envelope.fetched_at,
        "bronze_file": F.col("bronze_file"),
    }
    line_columns = {name: F.col(_line_column(name)) for name in per_line.columns}
    # a parser may name its source more precisely
    columns = lineage | line_columns | record.columns
    raw = F.when(
        reason.isNotNull(), F.when(refused_line, F.col("value")).otherwise(F.to_json("_item"))
    )
    return _candidate_rows(_with_casts(exploded, record), spec, columns, reason, raw, is_record)


def _with_casts(rows: DataFrame, record: Record) -> DataFrame:
    """``rows`` with the casts ``record`` reads, each computed once (in a projection of its
    own: Spark keeps it apart since the next one reads each cast more than once)."""
    clash = set(record.casts) & set(rows.columns)
    if clash:
        raise ValueError(f"casts named like existing columns: {sorted(clash)}")
    return rows.select("*", *(cast.alias(name) for name, cast in record.casts.items()))


def _line_column(name: str) -> str:
    return f"_line_{name}"


def _text_problems(nothing_parsed: Column, malformed: Column) -> list[tuple[Column, str | Column]]:
    """Why a line is no envelope at all: it is blank, not a JSON object, or not JSON
    (``malformed``). A line of which any envelope field was read is not blank, so the blank
    test -- a regex that scans a whole usable line before failing, about 7% of a bar's parse --
    runs only where ``nothing_parsed`` (the ``And`` stops at its left side)."""
    value = F.col("value")
    return [
        (nothing_parsed & value.rlike(r"^\s*\z"), reasons.BLANK_LINE.text()),
        (~_opens_an_object(value), reasons.NOT_A_JSON_OBJECT.text()),
        (malformed, reasons.MALFORMED_JSON.text()),
    ]


def _line_prefix() -> Column:
    return F.substring("value", 1, _PREFIX_CHARS)


def _opens_an_object(value: Column) -> Column:
    """Whether the line's first character other than white space is ``{``. Tested on the line's
    prefix: Spark's regex functions convert the whole line to a Java string first, which cost
    every line of kilobytes a copy and a scan; only a prefix of white space alone needs the
    whole line."""
    prefix = _line_prefix()
    return F.when(prefix.rlike(r"^\s*\z"), value.rlike(r"^\s*\{")).otherwise(
        prefix.rlike(r"^\s*\{")
    )


def _version_problems() -> list[tuple[Column, str | Column]]:
    version = F.col("schema_version")
    quoted = F.substring(version, 1, QUOTED_VERSION_CHARS)
    return [
        (version.isNull(), reasons.ENVELOPE_FIELD_MISSING.text(name="schema_version")),
        (
            ~version.rlike(SUPPORTED_VERSION_TEXT),
            F.format_string(
                reasons.UNSUPPORTED_SCHEMA_VERSION.text(
                    version="%s", major=SUPPORTED_MAJOR_VERSION
                ),
                quoted,
            ),
        ),
    ]


def fetched_at_instant(text: Column) -> Column:
    """The envelope's fetch time: null unless a timestamp within UTC years 1-9999. Spark parses
    instants far beyond them, which no reader of silver or quarantine in Python could load, so
    such a line is refused like any other unreadable ``fetched_at``."""
    instant = F.when(text.rlike(INSTANT_TEXT), text).try_cast("timestamp")
    return F.when(F.year(instant).between(1, 9999), instant)


def _line_problem(parser: PayloadParser, prepared: Column) -> Column:
    """Why a whole line is refused (null when it is usable)."""
    unparsed = F.col(CORRUPT).isNotNull()
    nothing_parsed = F.coalesce(*(F.col(name) for name in ENVELOPE_TEXT_FIELDS)).isNull()
    checks: list[tuple[Column, str | Column]] = [
        *_text_problems(nothing_parsed, unparsed & nothing_parsed),
        # Every other field is text, so only the payload can fail to fit the schema.
        (unparsed, reasons.PAYLOAD_SHAPE.text(shape=parser.shape)),
        *(
            (F.col(name).isNull(), reasons.ENVELOPE_FIELD_MISSING.text(name=name))
            for name in REQUIRED_ENVELOPE_FIELDS
        ),
        *_endpoint_problems(parser),
        (F.col(FETCHED_AT).isNull(), reasons.FETCHED_AT_NOT_TIMESTAMP.text()),
        *_version_problems(),
        (
            F.col("source") != F.col("path_source"),
            reasons.SOURCE_FOLDER_MISMATCH.text(),
        ),
    ]
    extra = parser.line_problem(prepared)
    if extra is not None:
        checks.append((extra.isNotNull(), extra))
    return first_problem(checks)


def _endpoint_problems(parser: PayloadParser) -> list[tuple[Column, str | Column]]:
    """A line routed by its folder alone must still be of an endpoint the parser reads."""
    if not parser.endpoints:
        return []
    endpoint = F.col("endpoint")
    return [
        (endpoint.isNull(), reasons.ENVELOPE_FIELD_MISSING.text(name="endpoint")),
        (
            ~endpoint.isin(*parser.endpoints),
            F.format_string(
                reasons.NO_PARSER_FOR_ENDPOINT.text(source=parser.source, endpoint="%s"), endpoint
            ),
        ),
    ]


# --- lines no parser reads -------------------------------------------------------------------


def _unparsed_branch(lines: DataFrame, spec: DatasetSpec) -> DataFrame:
    """Lines of an ignored endpoint (counted, no records) and lines no parser reads (refused)."""
    envelope = F.from_json(
        "value",
        envelope_schema(StringType()),
        {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT},
    )
    with_envelope = lines.withColumn("e", envelope).withColumn("_endpoint", F.col("e.endpoint"))
    # Null-safe: a line without an endpoint (not JSON at all) is refused, not left unjudged.
    ignored = F.coalesce(
        reduce(
            Column.__or__,
            (
                (F.col("path_source") == i.source) & (F.col("_endpoint") == i.endpoint)
                for i in spec.ignored
            ),
            F.lit(False),
        ),
        F.lit(False),
    )
    nothing_parsed = F.coalesce(*(F.col("e").getField(n) for n in ENVELOPE_TEXT_FIELDS)).isNull()
    no_parser = F.format_string(
        reasons.NO_PARSER_IN_DATASET.text(source="%s", endpoint="%s", dataset=spec.name),
        F.col("path_source"),
        F.col("_endpoint"),
    )
    refusal = first_problem(
        [
            *_text_problems(nothing_parsed, nothing_parsed),
            (F.col("_endpoint").isNull(), reasons.ENVELOPE_FIELD_MISSING.text(name="endpoint")),
            (F.lit(True), no_parser),
        ]
    )
    reason = F.when(~ignored, refusal)
    columns = {
        "source": F.col("e").getField("source"),
        "ingest_id": F.col("e").getField("ingest_id"),
        "fetched_at": fetched_at_instant(F.col("e").getField("fetched_at")),
        "bronze_file": F.col("bronze_file"),
    }
    raw = F.when(reason.isNotNull(), F.col("value"))
    return _candidate_rows(with_envelope, spec, columns, reason, raw, ~ignored)


def _candidate_rows(
    rows: DataFrame,
    spec: DatasetSpec,
    columns: dict[str, Column],
    reason: Column,
    raw: Column,
    is_record: Column,
) -> DataFrame:
    """The common shape of every branch: the declared columns, each cast to its declared type
    (null where the parser does not fill it), then the book-keeping columns."""
    head = F.col("_pos").isNull() | (F.col("_pos") == 0) if "_pos" in rows.columns else F.lit(True)
    typed = [
        columns.get(name, F.lit(None)).cast(spark_type).alias(name)
        for name, spark_type in spark_types(spec.schema).items()
    ]
    return rows.select(
        *typed,
        reason.alias(REASON),
        raw.alias(RAW),
        head.alias(LINE_HEAD),
        is_record.alias(IS_RECORD),
    )
