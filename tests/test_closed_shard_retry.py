"""A failed batch on a shard that has closed (its stream was disabled) is retried in a later
run exactly once: the trigger does not read the ended shard again while that batch waits."""

from __future__ import annotations

from typing import Any


def test_a_retried_batch_on_a_closed_shard_is_delivered_once(lab, table_name):
    name = table_name("orders")
    orders = lab.create_table(name)
    calls: list[list[str]] = []
    fail = [True]

    def handler(event: dict[str, Any], context: Any) -> None:
        calls.append([r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]])
        if fail[0]:
            raise RuntimeError("not yet")

    trigger = lab.trigger(name, handler)  # unlimited retries: the shard blocks
    for pk in ("a", "b", "c"):
        orders.put_item(Item={"pk": pk})
    lab.dynamodb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    first = trigger.run_until_idle()
    assert [i.ok for i in first] == [False] and calls == [["a", "b", "c"]]
    fail[0] = False
    second = trigger.run_until_idle()
    assert [i.ok for i in second] == [True]
    assert calls[1:] == [["a", "b", "c"]]  # the same batch once, not twice
    assert trigger.run_until_idle() == []
