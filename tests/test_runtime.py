"""The Lambda runtime around a handler, tried with handlers written the way AWS's samples are:
module-level clients, table names from environment variables, Powertools, a handler that runs
past its timeout, one that changes its event, one that returns 7 MB.

AWS sources of the expectations: "Lambda function handler in Python" and "Understanding the
Lambda execution environment lifecycle" (module code runs once per environment, on the cold
start); "Defined runtime environment variables" (reserved variables); "Configure Lambda
function timeout" (``Task timed out after N.NN seconds``); "Lambda quotas" (6 MB invocation
payload, request and response); "Working with Lambda function logs" (``START``, ``END`` and
``REPORT RequestId`` lines); awslambdaric's ``LambdaContext`` (``memory_limit_in_mb`` is read from
``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``, a string).
"""

from __future__ import annotations

import json
import re
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import labkit

REPLICA = """
import os

import boto3

# As every Lambda guide recommends: the client at module level, the table from the environment.
table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
COLD_STARTS = []
COLD_STARTS.append(1)


def handler(event, context):
    for record in event["Records"]:
        if record["eventName"] == "REMOVE":
            table.delete_item(Key={"pk": record["dynamodb"]["Keys"]["pk"]["S"]})
        else:
            table.put_item(Item={"pk": record["dynamodb"]["Keys"]["pk"]["S"], "copied": True})
    print(f"copied {len(event['Records'])} record(s); module loaded {len(COLD_STARTS)} time(s)")
    return {"cold_starts": len(COLD_STARTS)}
"""


def _write(folder: Path, name: str, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def test_a_handler_string_runs_module_code_once_per_environment(lab, table_name, tmp_path):
    source, replica = table_name("orders"), table_name("replica")
    orders = lab.create_table(source)
    lab.create_table(replica, stream=None)
    _write(tmp_path, "replica", REPLICA)
    function = lab.function(
        "replicate-orders", "replica.handler", code=tmp_path, environment={"TABLE_NAME": replica}
    )
    trigger = lab.trigger(source, function, batch_size=1)
    orders.put_item(Item={"pk": "o1"})
    orders.put_item(Item={"pk": "o2"})
    first, second = trigger.run_until_idle()
    assert [i.result for i in (first, second)] == [{"cold_starts": 1}, {"cold_starts": 1}]
    assert "Init Duration" in first.logs[-1] and "Init Duration" not in second.logs[-1]
    assert [item["pk"] for item in lab.items(replica)] == ["o1", "o2"]
    # A new version of the code (the lab's deploy): the next invocation is a cold start.
    time.sleep(0.01)
    _write(tmp_path, "replica", REPLICA.replace("copied {len", "copied again {len"))
    orders.put_item(Item={"pk": "o3"})
    (third,) = trigger.run_until_idle()
    assert third.output == ("copied again 1 record(s); module loaded 1 time(s)",)
    assert "Init Duration" in third.logs[-1]
    assert trigger.environments.cold_starts == 2


def test_logs_are_framed_as_cloudwatch_shows_them(lab, table_name):
    name = table_name("orders")
    orders = lab.create_table(name)

    def handler(event: dict[str, Any], context: Any) -> None:
        import logging
        import sys
        import threading

        print("from print")
        print("from stderr", file=sys.stderr)
        logging.getLogger().warning("from logging")
        worker = threading.Thread(target=lambda: print("from a thread"))
        worker.start()
        worker.join()

    trigger = lab.trigger(name, lab.function("logger", handler, memory_size=256))
    orders.put_item(Item={"pk": "a"})
    (invocation,) = trigger.run_until_idle()
    rid = invocation.request_id
    assert invocation.logs[0] == f"START RequestId: {rid} Version: $LATEST"
    assert invocation.output[:2] == ("from print", "from stderr")
    assert re.fullmatch(rf"\[WARNING\]\t\S+Z\t{rid}\tfrom logging", invocation.output[2])
    assert invocation.output[3] == "from a thread"
    assert invocation.logs[-2] == f"END RequestId: {rid}"
    assert re.fullmatch(
        rf"REPORT RequestId: {rid}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 256 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms",
        invocation.logs[-1],
    )


def test_module_output_comes_before_start_on_a_cold_start_only(lab, table_name, tmp_path):
    # "Lambda execution environment lifecycle": the Init phase (the module's code) runs before
    # the first Invoke, so CloudWatch Logs shows its output before that invocation's START.
    name = table_name("orders")
    orders = lab.create_table(name)
    _write(
        tmp_path,
        "chatty",
        """
        print("loading the module")


        def handler(event, context):
            print("handling", len(event["Records"]))
        """,
    )
    trigger = lab.trigger(name, lab.function("chatty", "chatty.handler", code=tmp_path))
    orders.put_item(Item={"pk": "a"})
    (cold,) = trigger.run_until_idle()
    orders.put_item(Item={"pk": "b"})
    (warm,) = trigger.run_until_idle()
    assert cold.logs[0] == "loading the module"
    assert cold.logs[1] == f"START RequestId: {cold.request_id} Version: $LATEST"
    assert cold.output == ("loading the module", "handling 1")
    assert warm.logs[0] == f"START RequestId: {warm.request_id} Version: $LATEST"
    assert warm.output == ("handling 1",)
    assert "Init Duration" in cold.logs[-1] and "Init Duration" not in warm.logs[-1]


def test_powertools_logger_and_tracer_run_as_published(lab, table_name, tmp_path):
    name = table_name("orders")
    orders = lab.create_table(name)
    _write(
        tmp_path,
        "app",
        """
        from aws_lambda_powertools import Logger, Tracer
        from aws_lambda_powertools.utilities.batch import (
            BatchProcessor, EventType, process_partial_response,
        )
        from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
            DynamoDBRecord,
        )

        logger = Logger(service="orders")
        tracer = Tracer(service="orders")
        processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


        @tracer.capture_method
        def record_handler(record: DynamoDBRecord):
            logger.info("processing", extra={"key": record.dynamodb.keys["pk"]})


        @logger.inject_lambda_context
        @tracer.capture_lambda_handler
        def handler(event, context):
            return process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        """,
    )
    function = lab.function("powertools-orders", "app.handler", code=tmp_path)
    trigger = lab.trigger(name, function, function_response_types=["ReportBatchItemFailures"])
    orders.put_item(Item={"pk": "a"})
    (invocation,) = trigger.run_until_idle()
    assert invocation.ok, invocation.logs
    assert invocation.result == {"batchItemFailures": []}
    (line,) = invocation.output
    logged = json.loads(line)
    assert logged["message"] == "processing" and logged["key"] == "a"
    assert logged["function_name"] == "powertools-orders"
    assert logged["function_memory_size"] == "128" and logged["cold_start"] is True


def test_powertools_idempotency_runs_as_published(lab, table_name, tmp_path):
    # As Powertools' idempotency docs show it: the persistence layer at module level, its table
    # from the environment, the Lambda context registered so that an in-progress record expires
    # with the function's remaining time. A redelivered batch has no effect the second time.
    source, store, counts = table_name("orders"), table_name("idem"), table_name("counts")
    orders = lab.create_table(source)
    lab.create_table(store, key="id", stream=None)
    lab.create_table(counts, stream=None)
    _write(
        tmp_path,
        "count_once",
        """
        import os

        import boto3
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function,
        )

        persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])
        config = IdempotencyConfig(event_key_jmespath="eventID")
        counts = boto3.resource("dynamodb").Table(os.environ["COUNTS_TABLE"])


        @idempotent_function(data_keyword_argument="record", config=config,
                             persistence_store=persistence)
        def count(record):
            counts.update_item(Key={"pk": "orders"}, UpdateExpression="ADD n :one",
                               ExpressionAttributeValues={":one": 1})
            return record["eventID"]


        def handler(event, context):
            config.register_lambda_context(context)
            return [count(record=record) for record in event["Records"]]
        """,
    )
    function = lab.function(
        "count-once",
        "count_once.handler",
        code=tmp_path,
        environment={"IDEMPOTENCY_TABLE": store, "COUNTS_TABLE": counts},
    )
    trigger = lab.trigger(source, function)
    orders.put_item(Item={"pk": "o1"})
    orders.put_item(Item={"pk": "o2"})
    (first,) = trigger.run_until_idle()
    again = trigger.redeliver(first)
    assert first.ok and again.ok, (first.logs, again.logs)
    assert again.result == first.result == [r["eventID"] for r in first.records]
    assert lab.items(counts) == [{"pk": "orders", "n": 2}]
    stored = lab.items(store)
    assert len(stored) == 2 and {i["status"] for i in stored} == {"COMPLETED"}


def test_reserved_variables_and_the_context_come_from_the_function(lab, table_name):
    name = table_name("orders")
    orders = lab.create_table(name)
    seen: dict[str, Any] = {}

    def handler(event: dict[str, Any], context: Any) -> None:
        import os

        names = ("AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_REGION")
        seen.update({n: os.environ.get(n) for n in (*names, "_HANDLER", "STAGE")})
        seen["memory"] = context.memory_limit_in_mb
        seen["remaining"] = context.get_remaining_time_in_millis()

    function = lab.function("orders-audit", handler, environment={"STAGE": "lab"}, timeout=9)
    orders.put_item(Item={"pk": "a"})
    lab.trigger(name, function).run_until_idle()
    assert seen["AWS_LAMBDA_FUNCTION_NAME"] == "orders-audit"
    assert seen["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128" == seen["memory"]
    assert seen["AWS_REGION"] == lab.region and seen["STAGE"] == "lab"
    assert seen["_HANDLER"].endswith(".handler")
    assert 3000 < seen["remaining"] <= 9000
    import os

    assert "STAGE" not in os.environ  # set only while the function runs


def test_a_call_past_the_timeout_is_a_function_error_that_never_blocks(lab, table_name):
    name = table_name("orders")
    orders = lab.create_table(name)

    def slow(event: dict[str, Any], context: Any) -> None:
        time.sleep(0.05)
        print("started")
        while True:  # pure Python: the lab can stop it at its next instruction
            time.sleep(0.01)

    trigger = lab.trigger(name, lab.function("slow", slow, timeout=1), maximum_retry_attempts=1)
    orders.put_item(Item={"pk": "a"})
    began = time.monotonic()
    invocations = trigger.run_until_idle()
    took = time.monotonic() - began
    assert [i.error for i in invocations] == ["Task timed out after 1.00 seconds"] * 2
    assert [i.attempt for i in invocations] == [1, 2]
    assert len(trigger.discards) == 1
    assert invocations[0].output == ("started",)
    assert re.search(r"Task timed out after 1\.00 seconds$", invocations[0].logs[-3])
    assert "Status: timeout" in invocations[0].logs[-1]
    assert took < 4  # two calls of one second each, never the handler's forever
    trigger.close()
    time.sleep(0.1)
    import threading

    assert not [t for t in threading.enumerate() if t.name == "labkit-function-slow"]


def test_a_timed_out_call_blocked_in_c_keeps_nothing_waiting(lab, table_name, capsys):
    """time.sleep is one C call: the lab cannot stop its thread before it returns. Until then
    the trigger, another function, os.environ and the notebook's own output are free of it."""
    import os
    import threading

    name = table_name("orders")
    orders = lab.create_table(name)

    def stuck(event: dict[str, Any], context: Any) -> None:
        print("calling")
        time.sleep(2.5)  # blocks in C, like a socket read with no timeout

    def quick(event: dict[str, Any], context: Any) -> None:
        print(os.environ["COLOUR"])

    slow = lab.trigger(name, lab.function("stuck", stuck, timeout=1), maximum_retry_attempts=0)
    fast = lab.trigger(name, lab.function("quick", quick, environment={"COLOUR": "blue"}))
    orders.put_item(Item={"pk": "a"})
    began = time.monotonic()
    (timed_out,) = slow.run_until_idle()
    assert timed_out.error == "Task timed out after 1.00 seconds"
    assert timed_out.output == ("calling",)
    (stuck_thread,) = [t for t in threading.enumerate() if t.name == "labkit-function-stuck"]
    assert stuck_thread.is_alive()  # still inside time.sleep
    assert "COLOUR" not in os.environ and os.environ.get("AWS_LAMBDA_FUNCTION_NAME") != "stuck"
    print("the caller's own line")  # not taken for the timed-out invocation's output
    (ran,) = fast.run_until_idle()  # another function's variables: no wait for the stuck call
    assert ran.output == ("blue",)
    assert time.monotonic() - began < 2.0
    assert "the caller's own line" in capsys.readouterr().out
    stuck_thread.join(3)
    assert not stuck_thread.is_alive()  # ended at its next instruction once the sleep returned
    assert timed_out.output == ("calling",)


def test_every_attempt_gets_a_fresh_copy_of_the_event(lab, table_name):
    name = table_name("orders")
    orders = lab.create_table(name)
    attempts: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        attempts.append([r["dynamodb"]["NewImage"]["pk"]["S"] for r in event["Records"]])
        for record in event["Records"]:
            record["dynamodb"]["NewImage"]["pk"]["S"] = "changed"
        event["Records"].pop()
        if len(attempts) == 1:
            raise RuntimeError("transient")

    trigger = lab.trigger(name, handler, maximum_retry_attempts=2)
    orders.put_item(Item={"pk": "a"})
    orders.put_item(Item={"pk": "b"})
    trigger.run_until_idle()
    assert attempts == [["a", "b"], ["a", "b"]]


def test_a_response_over_6_mb_fails_the_invocation(lab, table_name):
    name = table_name("orders")
    orders = lab.create_table(name)

    def big(event: dict[str, Any], context: Any) -> str:
        return "x" * (7 * 1024 * 1024)

    trigger = lab.trigger(name, big, maximum_retry_attempts=0)
    orders.put_item(Item={"pk": "a"})
    (invocation,) = trigger.run_until_idle()
    assert not invocation.ok
    assert invocation.error is not None
    assert invocation.error.startswith("Function.ResponseSizeTooLarge: Response payload size")
    assert invocation.result is None


def test_a_batch_shrinks_to_keep_the_payload_within_6_mb(lab, table_name):
    name = table_name("orders")
    lab.create_table(name, stream="NEW_IMAGE")
    sizes: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        sizes.append(len(json.dumps(event).encode()))

    blob = "y" * 300_000
    lab.put_items(name, [{"pk": f"o{i:02}", "blob": blob} for i in range(30)])
    trigger = lab.trigger(name, handler, batch_size=100)
    invocations = trigger.run_until_idle()
    assert sum(len(i.records) for i in invocations) == 30
    assert len(invocations) >= 2
    assert max(sizes) <= 6 * 1024 * 1024


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"handler": "replica"}, "not of the form 'module.function'"),
        ({"handler": "missing.handler"}, "has no missing.py"),
        ({"handler": "broken.handler"}, "syntax error on line 1"),
        ({"handler": "replica.nothing"}, "defines no 'nothing'"),
        ({"handler": "asyncy.handler"}, "async function"),
        ({"environment": {"TABLE_NAME": 5}}, "Lambda's environment variables are strings"),
        ({"environment": {"AWS_REGION": "eu-west-1"}}, "AWS_REGION is reserved"),
        ({"environment": {"1BAD": "x"}}, "is not one Lambda accepts"),
        ({"timeout": 0}, "timeout=0 is out of range"),
        ({"timeout": 901}, "timeout=901 is out of range"),
        ({"memory_size": 127}, "memory_size=127 is out of range"),
        ({"memory_size": 10_241}, "memory_size=10241 is out of range"),
        ({"function_name": "no spaces"}, "is not a function name Lambda accepts"),
        ({"function_name": "x" * 65}, "is not a function name Lambda accepts"),
    ],
)
def test_a_bad_function_is_refused_when_it_is_defined(lab, tmp_path, kwargs, words):
    _write(tmp_path, "replica", REPLICA)
    _write(tmp_path, "broken", "def handler(event, context)\n    return 1\n")
    _write(tmp_path, "asyncy", "async def handler(event, context):\n    return 1\n")
    args = {"function_name": "f", "handler": "replica.handler", "code": tmp_path, **kwargs}
    with pytest.raises(labkit.FunctionError) as caught:
        lab.function(**args)
    assert words in str(caught.value)
    assert "Fix:" in str(caught.value)
