"""The consumer process of test_hard_kills.py: an idempotent replicator, killed at random.

    python _replicator.py URL SOURCE TARGET CHECKPOINTS LOG BATCH STOP

It connects to the DynamoDB Local at URL (it starts none) and attaches the handler
``replicator`` to SOURCE's stream with a durable checkpoint table, so that a new process resumes
after the last batch a killed one completed. The handler applies each record to TARGET with a
conditional write keyed on the item's key and the record's sequence number (``_seq``): a record
is applied only if the stored ``_seq`` is lower, a REMOVE leaves a tombstone (``_deleted``) that
carries its ``_seq``. Applying a record twice, or an older one after a newer, changes nothing: the
handler is idempotent, which is what at-least-once delivery asks of it.

After applying a record, the handler appends ``<pk> <sequence number> <eventName> <applied|stale>``
to LOG, flushed and fsynced, so the line survives a SIGKILL of this process. It polls until the
file STOP exists and a run started after that finds nothing left, then exits 0.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from botocore.exceptions import ClientError

from labkit import _lab


def main() -> int:
    url, source, target, checkpoints, log_path, batch, stop = sys.argv[1:8]
    lab = _lab._external(url)
    dynamodb = lab.dynamodb
    log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 (open for the process's life)

    def apply(record: dict[str, Any]) -> str:
        data = record["dynamodb"]
        seq = data["SequenceNumber"]
        if record["eventName"] == "REMOVE":
            item = {**data["Keys"], "_deleted": {"BOOL": True}}
        else:
            item = dict(data["NewImage"])
        item["_seq"] = {"N": seq}
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
            return "stale"  # this record, or a later one of the item, is already applied
        return "applied"

    def replicator(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            outcome = apply(record)
            data = record["dynamodb"]
            log.write(
                f"{data['Keys']['pk']['S']} {data['SequenceNumber']} "
                f"{record['eventName']} {outcome}\n"
            )
            log.flush()
            os.fsync(log.fileno())

    trigger = lab.trigger(
        source,
        replicator,
        batch_size=int(batch),
        checkpoint_table=checkpoints,
        function_name="replicator",
    )
    while True:
        stopping = os.path.exists(stop)  # looked at before the run: see the docstring
        invocations = trigger.run_until_idle()
        for invocation in invocations:
            if not invocation.ok:  # retried on the next run; the test shows this output
                print(f"invocation failed: {invocation.error}", file=sys.stderr, flush=True)
        if not invocations and stopping:
            break
        time.sleep(0.01)
    trigger.close()
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
