"""Accounts over HTTP (a running server), on SQLite and on PostgreSQL, and their units."""
