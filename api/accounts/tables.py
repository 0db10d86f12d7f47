"""The tables of the operational database (SQLAlchemy 2 typed ORM): the one home of its
schema. Alembic's migrations under ``migrations/versions`` create exactly these (a test
compares them).

Times are stored in UTC and always read back timezone-aware, on SQLite (which keeps no
offset) as on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from api.accounts.principal import Role


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give a UTC time")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


#: Significant digits an exact decimal is read with (the column's 38, and room to spare).
_STORED_DIGITS = 60


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact decimal on every backend: ``NUMERIC(38, 18)`` on PostgreSQL, text on SQLite.

    SQLite has no decimal type (SQLAlchemy's ``Numeric`` would round-trip through a float and
    lose digits past the fifteenth), so there the value is kept as its canonical string.
    Quantities and money in the portfolios are these.
    """

    impl = Numeric(38, 18)
    cache_ok = True
    #: Digits after the point kept; more is refused rather than rounded silently.
    SCALE = 18

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(38, self.SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Decimal | str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"an exact decimal is stored, not {value!r}")
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > self.SCALE:
            raise ValueError(f"{value} has more than {self.SCALE} digits after the point")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        # PostgreSQL pads to the column's scale: trailing zeros go, so 1.5 reads back as 1.5
        # on both backends (and 100 as 100, not normalize()'s 1E+2).
        # normalize() and quantize() round to the context's precision: 28 digits by default,
        # fewer than the column's 38, so they run with room for every stored digit.
        with decimal.localcontext(prec=_STORED_DIGITS):
            exact = Decimal(str(value)).normalize()
            exponent = exact.as_tuple().exponent
            positive = isinstance(exponent, int) and exponent > 0
            return exact.quantize(Decimal(1)) if positive else exact


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UtcDateTime(),
        Decimal: ExactDecimal(),
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Stored lower-case: one account per address whatever its spelling.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32), default=Role.EXPLORER.value)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Tokens issued before this instant are refused (a password change ends old sessions).
    password_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The last TOTP time-step accepted: a code is never accepted twice.
    totp_last_counter: Mapped[int | None] = mapped_column(Integer, default=None)


class RefreshToken(Base):
    """One refresh token of a session; a session (family) is the chain of its rotations."""

    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    replaced_by: Mapped[str | None] = mapped_column(String(64), default=None)
    client_address: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(256), default=None)


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: The public part of the key, shown in lists.
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    #: sha256 hex of the whole key: the key itself is shown once and never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: Space-separated :class:`~api.accounts.principal.Scope` values.
    scopes: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class AuditEntry(Base):
    """One security-relevant action. Rows are only ever added, except that deleting a user
    replaces their id by a pseudonym (no foreign key: entries outlive users)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    actor_user_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    actor_pseudonym: Mapped[str | None] = mapped_column(String(64), default=None)
    #: The user an action was done to when not the actor (an admin's change of a tier).
    subject_user_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    subject_pseudonym: Mapped[str | None] = mapped_column(String(64), default=None)
    client_address: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(256), default=None)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
