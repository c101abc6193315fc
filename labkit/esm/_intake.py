"""Reading a shard into its lanes: GetRecords, shaping, filtering, and choosing the lane.

Each GetRecords asks for as many records as the API allows; what the lanes cannot take yet waits
in the shard's buffer and is handed out just as a read of the missing number of records would have
been, so the batches are the same, for a fraction of the calls. Records a filter rejects are never
delivered, and are marked done so the checkpoint moves past them all the same.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable

from ._batching import Entry, ShardWork
from ._loops import READ_ORDER
from ._metrics import Recorder
from ._options import TriggerConfig
from ._stream import StreamReader

__all__ = ["READ_LIMIT", "fill"]

READ_LIMIT = 1000  # records a GetRecords call asks for: the API's ceiling


def fill(
    work: ShardWork,
    reader: StreamReader,
    config: TriggerConfig,
    clock: Callable[[], float],
    *,
    live: bool = False,
    recorder: Recorder | None = None,
) -> bool:
    """Read records into the shard's lanes until each could make a full batch.

    In live mode a read that returns fewer records than it asked for has caught up with the
    shard, so the pass goes on to invoke without asking again first. True when a filtered-out
    record was finished (progress without an invocation). ``recorder`` counts each read and
    each filtering for the metrics, and dates each record's arrival.
    """
    recorder = recorder or Recorder()
    wanted = config.batch_size * config.parallelization_factor
    queued = sum(len(lane.queue) for lane in work.lanes)
    progressed = False
    caught_up = False
    while queued < wanted:
        if not work.buffer:
            if work.shard.ended:
                # Read to its end already: what it held is in the lanes or committed.
                # Reading it again (from the checkpoint) would queue a waiting batch twice.
                work.exhausted = True
                break
            read = reader.read(work.shard, READ_LIMIT)
            recorder.polled(clock(), len(read))
            if not read:
                work.exhausted = True
                break
            work.buffer.extend(read)
            work.read_order, work.read_at = next(READ_ORDER), time.time()
            work.notices = (*work.notices, *reader.take_notices())
            caught_up = len(read) < READ_LIMIT
        now = clock()
        looked = filtered = 0
        for _ in range(min(wanted - queued, len(work.buffer))):
            looked += 1
            raw = work.buffer.popleft()
            shaped, notes = reader.shape(raw, reader.stream_arn)
            notes, work.notices = (*work.notices, *notes), ()  # a trim notice: next record
            created = reader.created_of(shaped, now)
            sequence = reader.sequence_of(raw)
            entry = Entry(shaped, sequence, now, created, notes=notes, raw=raw, shaper=reader.shape)
            entry.order, entry.arrived = work.read_order, recorder.arrival(created, work.read_at)
            work.entries.append(entry)
            if config.filters is not None and not config.filters.matches(shaped):
                entry.done = True  # never delivered, checkpointed all the same
                progressed = True
                filtered += 1
                continue
            lane = work.lanes[0]  # one item key always on one lane
            if len(work.lanes) > 1:
                lane = work.lanes[zlib.crc32(reader.key_of(shaped).encode()) % len(work.lanes)]
            lane.queue.append(entry)
            queued += 1
        if config.filters is not None and looked:
            recorder.filtered(now, filtered)
        if not work.buffer and (work.shard.iterator is None or (live and caught_up)):
            break
    return progressed
