"""Fixtures of the reliability tests, beside the session-wide ones of ``tests/conftest.py``.

``tests/conftest.py`` applies here unchanged: the session's ``lab`` (one DynamoDB Local for the
whole run), ``table_name``, the automatic ``dynamodb_local`` marker, and ``tests/`` on
``sys.path`` (so ``_esm`` and ``_streamcheck`` import as in the other test modules).

Tests marked ``soak`` are long (about a minute each): pyproject's ``addopts`` deselects them
(``-m "not soak"``), so ``make test`` does not collect them; ``make soak`` runs them with
``-m soak``. Their short variants run in ``make test``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from _esm import trigger_factory

import labkit
from labkit import _lab


@pytest.fixture
def make_trigger(lab: labkit.Lab) -> Iterator[Callable[..., labkit.Trigger]]:
    yield from trigger_factory(lab)


@pytest.fixture
def fresh_lab() -> Iterator[labkit.Lab]:
    """A DynamoDB Local of the test's own, stopped at its end.

    For the soak tests: DynamoDB Local slows down as stream records pile up on one server
    (PutItem p50 2.3 ms after 10,000 records, 16 ms after 40,000), so a long test on the
    session's shared server would measure the tests that ran before it, and slow those after it.
    """
    the_lab = _lab._launch(None)
    try:
        yield the_lab
    finally:
        the_lab.close()
