"""The tracer on a blocked shard: a step that writes nothing but lets waiting records through
(lesson 08's "deploy the fix") is told as a delivery, not as "the function was not invoked"."""

from __future__ import annotations

from typing import Any

import labkit


def test_a_step_without_a_record_that_delivers_waiting_records_is_narrated(lab, table_name):
    source, target_name = table_name("orders"), table_name("processed")
    orders = lab.create_table(source)
    target = lab.create_table(target_name, stream=None)

    def fragile(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            pk = record["dynamodb"]["Keys"]["pk"]["S"]
            if pk == "bad":
                raise ValueError("cannot handle bad")
            target.put_item(Item={"pk": pk})
            print(f"{pk}: done")

    def fixed(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            pk = record["dynamodb"]["Keys"]["pk"]["S"]
            target.put_item(Item={"pk": pk})
            print(f"{pk}: done")

    trigger = lab.trigger(source, fragile)
    trace = labkit.Tracer(lab, trigger, target=target_name)
    with trace.step("Insert the bad order"):
        orders.put_item(Item={"pk": "bad"})
    with trace.step("Deploy the fix"):
        trigger.handler = fixed

    blocked, fix = trace.steps
    assert not blocked.invocations[0].ok and blocked.targets_after[target_name] == []
    assert fix.records == [] and fix.invocations and fix.invocations[-1].ok
    paragraphs = trace.transcript().paragraphs
    assert "Failed: ValueError: cannot handle bad" in paragraphs[0]
    assert "was not invoked" not in paragraphs[1]
    assert "records were still waiting" in paragraphs[1]
    assert "bad: done" in paragraphs[1] and f"Wrote bad to {target_name}" in paragraphs[1]


def test_a_step_with_neither_record_nor_invocation_is_still_told_as_no_change(lab, table_name):
    source = table_name("orders")
    orders = lab.create_table(source)
    orders.put_item(Item={"pk": "o1", "n": 1})
    trigger = lab.trigger(source, lambda event, context: None, function_name="noop")
    trigger.run_until_idle()
    trace = labkit.Tracer(lab, trigger)
    with trace.step("Write o1 again, unchanged"):
        orders.put_item(Item={"pk": "o1", "n": 1})
    (paragraph,) = trace.transcript().paragraphs
    assert "the function was not invoked" in paragraph
