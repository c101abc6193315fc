"""LABKIT_DB_PATH: DynamoDB Local keeps its tables on disk (-dbPath), so a checkpoint table
outlives the process that wrote it, and a trigger made in a new process resumes after the last
record completed. Without it the server is in memory: a new process starts from no tables
(README, "The trigger"; issue 13: say what is true of a restarted kernel)."""

from __future__ import annotations

from typing import Any

import pytest

import labkit
from labkit._lab import _launch


def _run(lab: Any, seen: list[str], keys: list[str]) -> None:
    def count(event: dict[str, Any], context: Any) -> None:
        seen.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"])

    trigger = lab.trigger(
        "orders",
        count,
        starting_position="TRIM_HORIZON",
        checkpoint_table="checkpoints",
        function_name="count",
    )
    for key in keys:
        lab.table("orders").put_item(Item={"pk": key})
    trigger.run_until_idle()
    trigger.close()


def test_tables_and_checkpoints_outlive_the_server_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_DB_PATH", str(tmp_path / "db"))
    first = _launch(None)
    seen: list[str] = []
    try:
        first.create_table("orders")
        _run(first, seen, ["o1", "o2"])
    finally:
        first.close()
    assert seen == ["o1", "o2"]
    second = _launch(None)  # a new DynamoDB Local process on the same folder
    try:
        assert first.server is not None and second.server is not None
        assert second.server.java_pid != first.server.java_pid
        assert "orders" in second.dynamodb.list_tables()["TableNames"]
        _run(second, seen, ["o3"])
    finally:
        second.close()
    assert seen == ["o1", "o2", "o3"]  # resumed after o2: nothing again, nothing skipped


def test_in_memory_a_new_server_starts_from_no_tables(monkeypatch):
    monkeypatch.delenv("LABKIT_DB_PATH", raising=False)
    first = _launch(None)
    try:
        first.create_table("orders")
    finally:
        first.close()
    second = _launch(None)
    try:
        assert "orders" not in second.dynamodb.list_tables()["TableNames"]
    finally:
        second.close()


def test_a_db_path_that_cannot_be_a_folder_is_refused(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("LABKIT_DB_PATH", str(blocker / "db"))
    with pytest.raises(labkit.BackendError) as caught:
        _launch(None)
    assert "LABKIT_DB_PATH" in str(caught.value) and "Fix:" in str(caught.value)
