"""Tests of the analytics API; the sample data they load is in tests/fixtures/sample_data.py."""
