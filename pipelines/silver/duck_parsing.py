"""The DuckDB half of a silver micro-batch's parse: bronze lines -> typed candidate rows.

The vectorised twin of :mod:`pipelines.silver.parsing` (read its docstring for what every output
row is): the same routing, the same envelope and line checks in the same order, the same
columns and reasons, in one DuckDB query built from each parser's SQL half
(:mod:`pipelines.ingestion.sql_records`):

* each line is routed to the parser of its (source, endpoint) (the endpoint read from the
  canonical prefix, else by JSON path, only for sources that need it);
* its envelope is read once with ``json_transform``, every field as text and the payload typed
  to the parser's shape (derived from the parser's declared payload type), and whether the
  payload fits that shape is tested on the JSON itself (``json_transform`` turns a misfit into
  nulls rather than failing, where Spark's reader flags the line);
* per-line values (request parameters, the fetch time, the parser's line record) are computed
  once per line, then the items are exploded and each record built.

:class:`LineParse` holds the query's text, built once per dataset and connection, and runs it over
a table of lines at a time as plain SQL: the caller decides where the rows go (the DuckDB
staging copies them to Parquet). The connection must use the UTC time zone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Mapping, Sequence

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql.types import ArrayType, DataType, MapType, StringType, StructType

from pipelines.contracts import quarantine as reasons
from pipelines.ingestion.payloads import PayloadParser
from pipelines.ingestion.sql_records import (
    Sql,
    SqlEnvelope,
    SqlRecord,
    field,
    first_problem,
    identifier,
    instant,
    is_in,
    literal,
    matches,
    param_column,
    when,
    within_silver_years,
)
from pipelines.silver.parsing import (
    CANONICAL_ENDPOINT,
    ENVELOPE_TEXT_FIELDS,
    IS_RECORD,
    LINE_HEAD,
    NO_ROUTE,
    QUOTED_VERSION_CHARS,
    RAW,
    REASON,
    REQUIRED_ENVELOPE_FIELDS,
    SUPPORTED_MAJOR_VERSION,
    SUPPORTED_VERSION_TEXT,
    sources_needing_endpoint,
)
from pipelines.silver.spec import DatasetSpec

#: Java's ``\s`` (what Spark's regexes call white space; RE2's lacks the vertical tab).
_SPACE = r"[ \t\n\x0B\f\r]"
_BLANK = f"^{_SPACE}*" + r"\z"
_LINES = "_rwa_lines"
_JSON_LINE = "(CASE WHEN json_valid(value) THEN value END)"
_FETCHED_AT = "_fetched_at"
_LINE_PROBLEM, _LINE_RECORD_PROBLEM = "_line_problem", "_line_record_problem"


class LineParse:
    """The parse of ``spec``'s lines on ``con``, for one table of lines after another: the
    parsers' SQL functions are registered once, and each table runs the query's text (built
    once per set of sources the tables hold) as plain SQL. (A DuckDB relation built over each
    table cost more Python time than DuckDB's own work on 16 MB of lines, and DuckDB plans the
    branch of a parser no line reaches as long as one that parses them all.)"""

    def __init__(self, con: duckdb.DuckDBPyConnection, spec: DatasetSpec) -> None:
        for parser in spec.parsers:
            parser.register_sql_functions(con)
        self.con = con
        self.spec = spec
        self._queries: dict[frozenset[str], str] = {}

    @contextlib.contextmanager
    def over(self, lines: pa.Table) -> Iterator[str]:
        """The parse query of ``lines`` (``value``, ``bronze_file``, ``path_source``; a table
        the query may read more than once), to run on the connection while they are its
        input: candidate rows, the columns of ``spec.schema`` (DuckDB types), then ``reason``,
        ``raw``, ``_line_head``, ``_is_record`` (see the module docstring)."""
        sources = frozenset(str(s) for s in pc.unique(lines.column("path_source")).to_pylist())
        if sources not in self._queries:
            self._queries[sources] = parse_query(self.spec, sources or None)
        self.con.register(_LINES, lines)
        try:
            yield self._queries[sources]
        finally:
            self.con.unregister(_LINES)


def parse_query(spec: DatasetSpec, sources: Collection[str] | None = None) -> str:
    """The whole parse as one SQL query over the lines (a view named ``_rwa_lines``); with
    ``sources``, of lines whose ``path_source`` is one of them (the branches of other sources'
    parsers are left out: the rows are the same)."""
    known = {parser.source for parser in spec.parsers}
    multi = sources_needing_endpoint(spec)
    # Each branch reads the lines routed to it straight from the input (a table: it can be
    # scanned once per branch), so no branch waits for, nor memory holds, a routed copy of
    # all of them; the route is cheap where the folder decides it.
    branches = [
        _parsed_branch(_routed(spec, index), parser, spec)
        for index, parser in enumerate(spec.parsers)
        if sources is None or parser.source in sources
    ]
    # A line has no parser when its folder has none, or its endpoint none of its folder's.
    if sources is None or any(source not in known or source in multi for source in sources):
        branches.append(_unparsed_branch(_routed(spec, NO_ROUTE), spec))
    return "\nUNION ALL\n".join(f"SELECT * FROM ({branch})" for branch in branches)


def _routed(spec: DatasetSpec, route: int) -> str:
    """The lines of the branch ``route`` with ``_json``: the line where it is valid JSON, else
    null. (The JSON functions read ``_json``: inside TRY they would still fail, as DuckDB casts
    the line to JSON once, outside every TRY.)"""
    return (
        f"(SELECT *, {_JSON_LINE} AS _json FROM {_LINES}"
        f" WHERE {_route(spec, _JSON_LINE)} = {route})"
    )


def duck_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type of a declared (Arrow) silver column type."""
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    if pa.types.is_decimal(arrow_type):
        return f"DECIMAL({arrow_type.precision}, {arrow_type.scale})"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"{duck_type(arrow_type.value_type)}[]"
    simple = {
        pa.string(): "VARCHAR",
        pa.large_string(): "VARCHAR",
        pa.float64(): "DOUBLE",
        pa.float32(): "FLOAT",
        pa.int64(): "BIGINT",
        pa.int32(): "INTEGER",
        pa.int16(): "SMALLINT",
        pa.bool_(): "BOOLEAN",
        pa.date32(): "DATE",
    }
    if arrow_type not in simple:
        raise ValueError(f"no DuckDB type for silver column type {arrow_type}")
    return simple[arrow_type]


# --- routing ---------------------------------------------------------------------------------


def line_endpoint(json: Sql) -> Sql:
    """The envelope endpoint of a line: from the canonical prefix, else by JSON path (``json``:
    the line where it is valid JSON, else null)."""
    canonical = f"nullif(regexp_extract(value, {literal(CANONICAL_ENDPOINT)}, 1), '')"
    return f"coalesce({canonical}, json_extract_string({json}, '$.endpoint'))"


def _route(spec: DatasetSpec, json: Sql) -> Sql:
    multi = sources_needing_endpoint(spec)
    branches = []
    for index, parser in enumerate(spec.parsers):
        condition = f"path_source = {literal(parser.source)}"
        if parser.source in multi and parser.endpoints:
            condition += f" AND {is_in(line_endpoint(json), parser.endpoints)}"
        branches.append(f"WHEN {condition} THEN {index}")
    if not branches:
        return str(NO_ROUTE)
    return f"(CASE {' '.join(branches)} ELSE {NO_ROUTE} END)"


# --- the shape of a payload ------------------------------------------------------------------


def json_structure(data_type: DataType) -> str:
    """The ``json_transform`` structure of a parser's payload type (text fields as VARCHAR)."""
    if isinstance(data_type, StringType):
        return '"VARCHAR"'
    if isinstance(data_type, ArrayType):
        return f"[{json_structure(data_type.elementType)}]"
    if isinstance(data_type, MapType):
        if not isinstance(data_type.valueType, StringType):
            raise ValueError(f"payload maps must hold text, not {data_type.valueType}")
        return '"MAP(VARCHAR, VARCHAR)"'
    if isinstance(data_type, StructType):
        fields = ", ".join(f"{_json_key(f.name)}: {json_structure(f.dataType)}" for f in data_type)
        return "{" + fields + "}"
    raise ValueError(f"payload types are text, arrays, maps and structs, not {data_type}")


def _json_key(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fits(path: str, data_type: DataType) -> Sql:
    """Whether the value at JSON ``path`` of the line (``_json``) has the shape ``data_type``
    asks for, as Spark's JSON reader judges it: any value fits text; an array must be an array
    whose non-null elements fit; an object (struct or map) an object whose non-null values fit.
    Judged from the types at each typed path (wildcards for elements), so no element is
    copied out of the line."""
    checks = list(_shape_checks(path, data_type, many=False))
    return "(" + " AND ".join(checks) + ")" if checks else "TRUE"


def surely_fits(value: Sql, data_type: DataType, depth: int = 0) -> Sql:
    """True where ``value``, what ``json_transform`` made of a JSON value for ``data_type``,
    proves that the JSON value fits it (then :func:`fits` need not read the line's JSON again,
    which costs as much as ``json_transform`` itself); false where it cannot tell. A misfit
    leaves a mark: ``json_transform`` makes a list or a map of anything but an array or an
    object null, and a struct of anything but an object a struct whose fields are all null;
    so a non-null list whose elements are proven, a non-null map (of text) and a struct with a
    non-null field whose non-text fields are proven were sent as the shape asks. (A JSON null
    becomes a null as a misfit does: never proven, left to :func:`fits`.)"""
    if isinstance(data_type, StringType):
        return "TRUE"
    if isinstance(data_type, ArrayType):
        if isinstance(data_type.elementType, StringType):
            return f"({value} IS NOT NULL)"
        element = f"_e{depth}"
        each = surely_fits(element, data_type.elementType, depth + 1)
        every = f"coalesce(list_bool_and(list_transform({value}, lambda {element}: {each})), TRUE)"
        return f"({value} IS NOT NULL AND {every})"
    if isinstance(data_type, MapType):
        if not isinstance(data_type.valueType, StringType):
            raise ValueError(f"payload maps must hold text, not {data_type.valueType}")
        return f"({value} IS NOT NULL)"
    if isinstance(data_type, StructType):
        filled = " OR ".join(f"{field(value, f.name)} IS NOT NULL" for f in data_type)
        proven = [
            surely_fits(field(value, f.name), f.dataType, depth)
            for f in data_type
            if not isinstance(f.dataType, StringType)
        ]
        return "(" + " AND ".join([f"{value} IS NOT NULL", f"({filled or 'FALSE'})", *proven]) + ")"
    raise ValueError(f"payload types are text, arrays, maps and structs, not {data_type}")


def _shape_checks(path: str, data_type: DataType, *, many: bool) -> Iterator[Sql]:
    if isinstance(data_type, StringType):
        return
    if isinstance(data_type, ArrayType):
        allowed = "ARRAY"
    elif isinstance(data_type, MapType | StructType):
        allowed = "OBJECT"
    else:
        raise ValueError(f"payload types are text, arrays, maps and structs, not {data_type}")
    types = f"json_type(_json, {literal(path)})"
    if many:  # a list of the types of every value the wildcards reach
        yield f"len(list_filter({types}, lambda t: t NOT IN ('{allowed}', 'NULL'))) = 0"
    else:
        yield f"coalesce({types} IN ('{allowed}', 'NULL'), TRUE)"
    if isinstance(data_type, ArrayType):
        yield from _shape_checks(f"{path}[*]", data_type.elementType, many=True)
    elif isinstance(data_type, MapType):
        yield from _shape_checks(f"{path}.*", data_type.valueType, many=True)
    elif isinstance(data_type, StructType):
        for f in data_type:
            yield from _shape_checks(f"{path}.{_json_key(f.name)}", f.dataType, many=many)


# --- a parser's lines ------------------------------------------------------------------------


def _envelope_structure(payload: str) -> str:
    fields = ", ".join(f'"{name}": "VARCHAR"' for name in ENVELOPE_TEXT_FIELDS)
    return "{" + fields + f', "payload": {payload}' + "}"


def fetched_at_instant(text: Sql) -> Sql:
    """The envelope's fetch time: null unless a timestamp within UTC years 1-9999."""
    parsed = instant(text)
    return when(within_silver_years(parsed), parsed)


def _parsed_branch(lines: str, parser: PayloadParser, spec: DatasetSpec) -> str:
    structure = _envelope_structure(json_structure(parser.payload_type))
    params = "".join(
        f", TRY(json_extract_string(e.params, {literal('$.' + _json_key(name))}))"
        f" AS {identifier(param_column(name))}"
        for name in parser.params
    )
    envelope_fields = ", ".join(f"e.{identifier(name)} AS {name}" for name in ENVELOPE_TEXT_FIELDS)
    # Whether the payload fits is judged on the line's JSON (json_transform makes a misfit
    # nulls) unless the transformed payload proves it; a malformed line has no JSON to judge
    # (it is refused as malformed).
    proven = surely_fits("e.payload", parser.payload_type)
    fit = f"(CASE WHEN {proven} THEN TRUE ELSE {fits('$.payload', parser.payload_type)} END)"
    parsed = (
        f"SELECT value, bronze_file, path_source, {envelope_fields}, e.payload AS payload,"
        f" e IS NULL AS _malformed, (e IS NOT NULL AND NOT coalesce({fit}, FALSE)) AS _misfit"
        f"{params}, {fetched_at_instant('e.fetched_at')} AS {_FETCHED_AT}"
        f" FROM (SELECT *, json_transform(_json, {literal(structure)}) AS e FROM {lines})"
    )
    envelope = SqlEnvelope(
        source="source", endpoint="endpoint", fetched_at=_FETCHED_AT, declared=parser.params
    )
    per_line = parser.sql_line_record(envelope)
    line_problem = _line_problem(parser, "_prepared")
    prepared = (
        f"SELECT *, {parser.sql_prepare('payload')} AS _prepared"
        f" FROM ({_with_casts(parsed, per_line)})"
    )
    line_columns = "".join(
        f", {value} AS {identifier(_line_column(name))}" for name, value in per_line.columns.items()
    )
    checked = (
        f"SELECT *, {line_problem} AS {_LINE_PROBLEM},"
        f" {per_line.problem()} AS {_LINE_RECORD_PROBLEM}{line_columns},"
        f" {parser.sql_items('_prepared')} AS _items FROM ({prepared})"
    )
    # One row per item, or one row with a null position for a refused line and for a line
    # without items (it is counted, as Spark's posexplode_outer keeps it).
    usable = f"{_LINE_PROBLEM} IS NULL AND len(_items) > 0"
    exploded = (
        f"SELECT *, _items[_pos + 1] AS _item FROM (SELECT *,"
        f" unnest(CASE WHEN {usable} THEN range(len(_items)) ELSE [NULL] END) AS _pos"
        f" FROM ({checked}))"
    )
    record = parser.sql_record("_item", envelope)
    refused_line = f"({_LINE_PROBLEM} IS NOT NULL)"
    is_record = f"(_pos IS NOT NULL OR {refused_line})"
    problem = f"coalesce({_LINE_PROBLEM}, {_LINE_RECORD_PROBLEM}, {record.problem()})"
    reason = when(is_record, problem)
    lineage = {
        "source": "source",
        "ingest_id": "ingest_id",
        "fetched_at": _FETCHED_AT,
        "bronze_file": "bronze_file",
    }
    line_values = {name: identifier(_line_column(name)) for name in per_line.columns}
    columns = lineage | line_values | record.columns
    item_json = "CAST(to_json(_item) AS VARCHAR)"
    raw = when(f"{reason} IS NOT NULL", when(refused_line, "value", item_json))
    head = "(_pos IS NULL OR _pos = 0)"
    return _candidate_rows(
        _with_casts(exploded, record), spec, columns, reason, raw, head, is_record
    )


def _with_casts(rows: str, record: SqlRecord) -> str:
    """``rows`` with the casts ``record`` reads, each computed once, in a projection of its own."""
    if not record.casts:
        return rows
    casts = ", ".join(f"{value} AS {identifier(name)}" for name, value in record.casts.items())
    return f"SELECT *, {casts} FROM ({rows})"


def _line_column(name: str) -> str:
    return f"_line_{name}"


def _text_problems(nothing_parsed: Sql, malformed: Sql) -> list[tuple[Sql, Sql]]:
    """Why a line is no envelope at all: blank, not a JSON object, or not JSON."""
    return [
        (
            f"({nothing_parsed} AND {matches('value', _BLANK)})",
            literal(reasons.BLANK_LINE.text()),
        ),
        (f"NOT {matches('value', f'^{_SPACE}*[{{]')}", literal(reasons.NOT_A_JSON_OBJECT.text())),
        (malformed, literal(reasons.MALFORMED_JSON.text())),
    ]


def _nothing_parsed(fields: Mapping[str, Sql]) -> Sql:
    return f"(coalesce({', '.join(fields[name] for name in ENVELOPE_TEXT_FIELDS)}) IS NULL)"


def _version_problems() -> list[tuple[Sql, Sql]]:
    quoted = f"substring(schema_version, 1, {QUOTED_VERSION_CHARS})"
    unsupported = reasons.UNSUPPORTED_SCHEMA_VERSION.text(
        version="%s", major=SUPPORTED_MAJOR_VERSION
    )
    return [
        (
            "(schema_version IS NULL)",
            literal(reasons.ENVELOPE_FIELD_MISSING.text(name="schema_version")),
        ),
        (
            f"NOT {matches('schema_version', SUPPORTED_VERSION_TEXT)}",
            _format(unsupported, quoted),
        ),
    ]


def _format(template: str, *values: Sql) -> Sql:
    """``template`` with its ``%s`` filled from ``values`` (a null value as ``null``, as
    Spark's ``format_string`` writes it)."""
    filled = ", ".join(f"coalesce(CAST({value} AS VARCHAR), 'null')" for value in values)
    return f"printf({literal(template.replace('%', '%%').replace('%%s', '%s'))}, {filled})"


def _line_problem(parser: PayloadParser, prepared: Sql) -> Sql:
    """Why a whole line is refused (null when it is usable)."""
    nothing_parsed = _nothing_parsed({name: name for name in ENVELOPE_TEXT_FIELDS})
    unparsed = "(_malformed OR _misfit)"
    checks: list[tuple[Sql, Sql]] = [
        *_text_problems(nothing_parsed, f"({unparsed} AND {nothing_parsed})"),
        (unparsed, literal(reasons.PAYLOAD_SHAPE.text(shape=parser.shape))),
        *(
            (f"({name} IS NULL)", literal(reasons.ENVELOPE_FIELD_MISSING.text(name=name)))
            for name in REQUIRED_ENVELOPE_FIELDS
        ),
        *_endpoint_problems(parser),
        (f"({_FETCHED_AT} IS NULL)", literal(reasons.FETCHED_AT_NOT_TIMESTAMP.text())),
        *_version_problems(),
        ("(source <> path_source)", literal(reasons.SOURCE_FOLDER_MISMATCH.text())),
    ]
    extra = parser.sql_line_problem(prepared)
    if extra is not None:
        checks.append((f"({extra}) IS NOT NULL", extra))
    return first_problem(checks)


def _endpoint_problems(parser: PayloadParser) -> list[tuple[Sql, Sql]]:
    """A line routed by its folder alone must still be of an endpoint the parser reads."""
    if not parser.endpoints:
        return []
    no_parser = reasons.NO_PARSER_FOR_ENDPOINT.text(source=parser.source, endpoint="%s")
    return [
        ("(endpoint IS NULL)", literal(reasons.ENVELOPE_FIELD_MISSING.text(name="endpoint"))),
        (f"NOT {is_in('endpoint', parser.endpoints)}", _format(no_parser, "endpoint")),
    ]


# --- lines no parser reads -------------------------------------------------------------------


def _unparsed_branch(lines: str, spec: DatasetSpec) -> str:
    """Lines of an ignored endpoint (counted, no records) and lines no parser reads (refused)."""
    structure = _envelope_structure('"VARCHAR"')
    fields = {name: f"e.{identifier(name)}" for name in ENVELOPE_TEXT_FIELDS}
    with_envelope = (
        f"SELECT *, e.endpoint AS _endpoint FROM"
        f" (SELECT *, json_transform(_json, {literal(structure)}) AS e FROM {lines})"
    )
    ignored = " OR ".join(
        f"(path_source = {literal(i.source)} AND _endpoint = {literal(i.endpoint)})"
        for i in spec.ignored
    )
    ignored = f"coalesce({ignored}, FALSE)" if ignored else "FALSE"
    nothing_parsed = _nothing_parsed(fields)
    no_parser = reasons.NO_PARSER_IN_DATASET.text(source="%s", endpoint="%s", dataset=spec.name)
    refusal = first_problem(
        [
            *_text_problems(nothing_parsed, nothing_parsed),
            ("(_endpoint IS NULL)", literal(reasons.ENVELOPE_FIELD_MISSING.text(name="endpoint"))),
            ("TRUE", _format(no_parser, "path_source", "_endpoint")),
        ]
    )
    reason = when(f"NOT {ignored}", refusal)
    columns = {
        "source": fields["source"],
        "ingest_id": fields["ingest_id"],
        "fetched_at": fetched_at_instant(fields["fetched_at"]),
        "bronze_file": "bronze_file",
    }
    raw = when(f"{reason} IS NOT NULL", "value")
    return _candidate_rows(with_envelope, spec, columns, reason, raw, "TRUE", f"NOT {ignored}")


def _candidate_rows(
    rows: str,
    spec: DatasetSpec,
    columns: Mapping[str, Sql],
    reason: Sql,
    raw: Sql,
    head: Sql,
    is_record: Sql,
) -> str:
    """The common shape of every branch: the declared columns, each cast to its declared type
    (null where the parser does not fill it), then the book-keeping columns."""
    typed: Sequence[str] = [
        f"CAST({columns.get(field.name, 'NULL')} AS {duck_type(field.type)})"
        f" AS {identifier(field.name)}"
        for field in spec.schema
    ]
    return (
        f"SELECT {', '.join(typed)}, {reason} AS {REASON}, {raw} AS {RAW},"
        f" {head} AS {LINE_HEAD}, {is_record} AS {IS_RECORD} FROM ({rows})"
    )
