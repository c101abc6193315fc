"""Shared fixtures: one real DynamoDB Local for the whole session, and unique table names per test.

Tests that use the ``lab`` fixture are marked ``dynamodb_local`` automatically, so
``pytest -m "not dynamodb_local"`` runs only the tests that need no Java and no server.
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent

# labkit is imported from the checkout when it is not installed (``pip install -e .`` makes this a
# no-op). The tests folder holds ``_streamcheck.py``, the helpers shared by several test modules.
try:
    import labkit
except ImportError:
    sys.path.insert(0, str(ROOT))
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from _streamcheck import delete_tables  # noqa: E402

import labkit  # noqa: E402

_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_counter = itertools.count(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "lab" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.dynamodb_local)


@pytest.fixture(scope="session")
def lab() -> Iterator[labkit.Lab]:
    """One DynamoDB Local (or $LABKIT_ENDPOINT_URL) for the whole session, closed at its end."""
    the_lab = labkit.start()
    try:
        yield the_lab
    finally:
        the_lab.close()


@pytest.fixture
def table_name(request: pytest.FixtureRequest, lab: labkit.Lab) -> Iterator[Callable[[str], str]]:
    """``table_name("orders")`` gives a name no other test uses on the shared server.

    The name is the test's own name (sanitized, so a failing test's tables are easy to find in
    the server), a session-wide counter, and the label. The tables are deleted after the test.
    """
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")[:80] or "test"
    made: list[str] = []

    def make(label: str = "t") -> str:
        name = f"{stem}.{next(_counter)}.{label}"
        assert _TABLE_NAME.match(name), name
        made.append(name)
        return name

    yield make
    delete_tables(lab, made)
