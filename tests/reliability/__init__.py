"""Reliability tests: labkit under stress (fixtures and the ``soak`` marker: conftest.py)."""
