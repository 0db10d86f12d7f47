"""What reading the lake by name raises: one class per mistake a reader can fix, each naming
what exists (the closest matches first), so a typo in a notebook is fixed from the message."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from pipelines.core.errors import DataContractError, NotFoundError, RwaError


def closest(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The up to ``n`` choices most like ``word`` (difflib's ratio, best first)."""
    return difflib.get_close_matches(word, list(choices), n=n, cutoff=0.5)


def _listing(word: str, known: Sequence[str], what: str) -> str:
    near = closest(word, known)
    hint = f"did you mean {', '.join(repr(c) for c in near)}? " if near else ""
    return f"{hint}{what}: {', '.join(known) if known else '(none)'}"


class LakeAccessError(RwaError):
    """Base class of the errors of :mod:`pipelines.lake.access`."""


class UnknownTableError(LakeAccessError, NotFoundError):
    """No table of the lake has this name. ``known``: every table name; ``suggestions``: the
    closest of them."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        self.known = tuple(known)
        self.suggestions = tuple(closest(name, known))
        super().__init__(f"unknown lake table {name!r}; {_listing(name, known, 'tables')}")


class TableNotBuiltError(LakeAccessError, NotFoundError):
    """The table is declared but the lake holds none yet (its pipeline step has not run)."""

    def __init__(self, name: str, uri: str) -> None:
        self.name = name
        self.uri = uri
        super().__init__(f"{name} is a lake table but none is written at {uri} yet: run its step")


class UnknownColumnError(LakeAccessError, DataContractError):
    """A column asked for (to read or filter on) is not in the table's schema."""

    def __init__(self, table: str, columns: Sequence[str], available: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.available = tuple(available)
        first = self.columns[0]
        super().__init__(
            f"{table} has no column {', '.join(repr(c) for c in self.columns)}; "
            f"{_listing(first, self.available, 'columns')}"
        )


class UnknownAssetError(LakeAccessError, NotFoundError):
    """No row of the table, and no asset of the reference catalogue, has this asset id."""

    def __init__(self, table: str, asset: str, known: Sequence[str]) -> None:
        self.table = table
        self.asset = asset
        self.known = tuple(known)
        super().__init__(f"unknown asset {asset!r} in {table}; {_listing(asset, known, 'assets')}")


class VersionNotFoundError(LakeAccessError, NotFoundError):
    """The version or instant asked for is not in the table's history (before its first
    commit, after its last, or removed by vacuum)."""

    def __init__(self, table: str, as_of: object, detail: str) -> None:
        self.table = table
        self.as_of = as_of
        super().__init__(f"{table} has no readable version at {as_of!r}: {detail}")


class UnsupportedFilterError(LakeAccessError, DataContractError):
    """A filter the table cannot take (an asset filter on a table without ``asset_id``, a time
    window on one without a time column); the message says which filters it takes."""
