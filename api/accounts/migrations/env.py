"""Alembic's environment: migrations run on the connection :mod:`api.accounts.migrate` hands
over (``config.attributes["connection"]``), never on a URL of their own."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

# The alert, notification and event tables live beside the accounts' on the same base:
# imported so that the metadata Alembic compares holds the whole operational schema (the
# imports from accounts up to them, allowed in pyproject's import contracts).
import api.alerts.tables
import api.events.tables
import api.notifications.tables
import api.portfolios.tables  # noqa: F401
from api.accounts.tables import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run the migrations through api.accounts.migrate (rwa db migrate)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite alters tables by copying them; batch mode does that for later migrations.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
