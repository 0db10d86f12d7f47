"""Dagster definitions for the lakehouse (issue 5); empty until then."""
