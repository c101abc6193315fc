"""DynamoDB's rule for table names, checked in one place for every role a table name plays
(a table, the table a trigger reads, a checkpoint table, an on-failure destination)."""

from __future__ import annotations

import re

from ._errors import InvalidTableNameError

__all__ = ["TABLE_NAME", "check_table_name"]

# "Table names must be between 3 and 255 characters long, and can contain only a-z, A-Z, 0-9,
# '_', '-' and '.'" (DynamoDB developer guide, "Supported data types and naming rules").
TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


def check_table_name(name: object, role: str = "table name") -> str:
    """A DynamoDB table name, or InvalidTableNameError saying what is wrong with it."""
    if callable(name):
        raise InvalidTableNameError(
            f"The {role} is a function ({getattr(name, '__name__', name)!r}), not a table name.",
            "pass the table's name first and the handler second: lab.trigger('orders', handler).",
        )
    if not isinstance(name, str) or not TABLE_NAME.fullmatch(name):
        raise InvalidTableNameError(
            f"{name!r} is not a valid DynamoDB {role}: names are 3 to 255 characters of a-z, "
            "A-Z, 0-9, '_', '-' and '.'.",
            "choose a name such as 'orders' or 'orders_processed'.",
        )
    return name
