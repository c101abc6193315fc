"""The consumer process of test_chaos.py: a background replicator that the test torments.

    python _chaos_consumer.py URL SOURCE TARGET CHECKPOINTS LOG REPLIES BATCH

It connects to the DynamoDB Local at URL (it starts none) and runs "the trigger cell" of a
notebook: it defines the function ``replicator`` (timeout 1 s) and makes and starts its trigger on
SOURCE with a durable checkpoint table, in the background (``trigger.start()``). The handler is
the idempotent replicator of ``_replicator.py``: each record is written to TARGET only if the
stored ``_seq`` is lower, a REMOVE leaves a tombstone; each record handled appends
``<pk> <sequence number> <eventName> <applied|stale>`` to LOG, flushed and fsynced (so the line
survives a SIGKILL).

It reads commands on stdin, one a line, and appends its answer to REPLIES:

* ``stall``: the next invocation applies the first half of its batch, then stalls past the
  function's timeout (a pure-Python wait, ended at the timeout as Lambda ends a call); the batch
  is retried. Answered once the timed-out invocation is in the trigger's log.
* ``restart``: ``trigger.stop()``, then ``trigger.start()``.
* ``rerun``: run the trigger cell again (the function defined anew, the same trigger made again).
* ``finish``: stop, deliver what is left, close the trigger and the lab, and answer with the
  labkit threads still alive and the poller errors; then exit 0.

Each answer says how many background pollers run (``pollers=N``). Before each fault it writes a
marker line ``# <fault>`` to LOG, so that the test can tell which fault a duplicate follows.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

from botocore.exceptions import ClientError

from labkit import _lab

TIMEOUT_S = 1
WAIT_S = 60.0


def main() -> int:
    url, source, target, checkpoints, log_path, replies_path, batch = sys.argv[1:8]
    lab = _lab._external(url)
    dynamodb = lab.dynamodb
    log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 (open for the process's life)
    log_lock = threading.Lock()
    stall_next, stalled = threading.Event(), threading.Event()

    def write(line: str) -> None:
        with log_lock:
            log.write(line + "\n")
            log.flush()
            os.fsync(log.fileno())

    def reply(text: str) -> None:
        with open(replies_path, "a", encoding="utf-8") as out:
            out.write(text + "\n")

    def apply(record: dict[str, Any]) -> None:
        data = record["dynamodb"]
        seq = data["SequenceNumber"]
        if record["eventName"] == "REMOVE":
            item = {**data["Keys"], "_deleted": {"BOOL": True}}
        else:
            item = dict(data["NewImage"])
        item["_seq"] = {"N": seq}
        outcome = "applied"
        try:
            dynamodb.put_item(
                TableName=target,
                Item=item,
                ConditionExpression="attribute_not_exists(#seq) OR #seq < :seq",
                ExpressionAttributeNames={"#seq": "_seq"},
                ExpressionAttributeValues={":seq": {"N": seq}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            outcome = "stale"
        write(f"{data['Keys']['pk']['S']} {seq} {record['eventName']} {outcome}")

    def cell() -> Any:
        """The notebook cell that makes the trigger: run once, and again on ``rerun``."""

        def replicator(event: dict[str, Any], context: Any) -> None:
            records = event["Records"]
            stall_at = len(records) // 2 if stall_next.is_set() else len(records)
            for record in records[:stall_at]:
                apply(record)
            if stall_at < len(records):
                stall_next.clear()
                write(f"# stall {records[0]['dynamodb']['SequenceNumber']}")
                stalled.set()
                while True:  # past the timeout: the lab ends the call here
                    time.sleep(0.01)

        function = lab.function("replicator", replicator, timeout=TIMEOUT_S)
        trigger = lab.trigger(source, function, batch_size=int(batch), checkpoint_table=checkpoints)
        return trigger.start(idle_sleep=0.02)

    def pollers() -> int:
        return sum(t.name == f"labkit-trigger-{source}" for t in threading.enumerate())

    def timeouts(trigger: Any) -> int:
        return sum(bool(i.error and "timed out" in i.error) for i in trigger.invocations)

    def until(condition: Any) -> bool:
        deadline = time.monotonic() + WAIT_S
        while not condition():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    trigger = cell()
    reply(f"started pollers={pollers()}")
    for line in sys.stdin:
        command = line.strip()
        if command == "stall":
            before = timeouts(trigger)
            stall_next.set()
            ok = until(stalled.is_set) and until(lambda t=trigger, n=before: timeouts(t) > n)
            stalled.clear()
            reply(f"stall {'done' if ok else 'not seen'} pollers={pollers()}")
        elif command == "restart":
            write("# restart")
            trigger.stop()
            stopped = pollers()
            trigger.start(idle_sleep=0.02)
            reply(f"restart stopped={stopped} pollers={pollers()}")
        elif command == "rerun":
            write("# rerun")
            trigger = cell()
            reply(f"rerun pollers={pollers()}")
        elif command == "finish":
            trigger.stop()
            while trigger.run_until_idle():
                pass
            errors = list(trigger.poller_errors)
            trigger.close()
            lab.close()
            left = sorted(t.name for t in threading.enumerate() if t.name.startswith("labkit"))
            reply("finish " + json.dumps({"threads": left, "poller_errors": errors}))
            break
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
