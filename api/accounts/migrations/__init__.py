"""Alembic migrations of the operational database (run by :mod:`api.accounts.migrate`)."""
