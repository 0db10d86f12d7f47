"""Schema evolution policy of the silver tables, enforced before a stream starts.

* A column declared in the dataset's spec but missing from an existing table is added to the
  table (a metadata-only Delta commit: no data file is rewritten; old rows read it as null).
* A column whose type in the table differs from the declared one stops the job with a
  :class:`DataContractError` naming the table, column and both types: readers rely on the
  declared types, and rewriting a table is a decision for a person, not a stream.
* Columns the table has beyond the declaration are left alone.

Payload-side changes never reach here: an additive field in a payload is ignored (or carried
once a parser declares it), a field whose type changed or that went missing refuses the
affected records with a reason naming the field (see :mod:`pipelines.silver.spec`).
"""

from __future__ import annotations

import pyarrow as pa
from deltalake.schema import Field as DeltaField

from pipelines.core.errors import DataContractError
from pipelines.lake.delta import DeltaLake


def enforce_table_contract(lake: DeltaLake, uri: str, declared: pa.Schema) -> list[str]:
    """Check an existing table against ``declared`` and add missing declared columns; returns
    the names of the columns added (none when the table does not exist yet)."""
    if not lake.exists(uri):
        return []
    table = lake.table(uri)
    current_types = {field.name: field.type for field in table.to_pyarrow_dataset().schema}
    conflicts = [
        f"column '{field.name}' is {_type_name(current_types[field.name])} in the table, "
        f"{_type_name(field.type)} in the contract"
        for field in declared
        if field.name in current_types and not _same_type(current_types[field.name], field.type)
    ]
    if conflicts:
        raise DataContractError(
            f"{uri}: the table does not match its declared schema (docs/data-model.md): "
            + "; ".join(conflicts)
        )
    missing = [field for field in declared if field.name not in current_types]
    if missing:
        table.alter.add_columns([DeltaField.from_arrow(field) for field in missing])
    return [field.name for field in missing]


def _same_type(stored: pa.DataType, declared: pa.DataType) -> bool:
    """Delta stores strings and lists in their large/view Arrow forms on read; compare what
    the types mean, not how Arrow lays them out."""
    return _normal(stored) == _normal(declared)


def _normal(type_: pa.DataType) -> pa.DataType:
    if pa.types.is_large_string(type_) or pa.types.is_string_view(type_):
        return pa.string()
    if pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_list_view(type_):
        return pa.list_(_normal(type_.value_type))
    if pa.types.is_timestamp(type_):
        return pa.timestamp("us", tz="UTC" if type_.tz else None)
    return type_


def _type_name(type_: pa.DataType) -> str:
    return str(_normal(type_))
