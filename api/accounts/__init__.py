"""Accounts: users, credentials, sessions, API keys and the audit log, kept in the operational
database (SQLAlchemy + Alembic), apart from the analytics serving store."""
