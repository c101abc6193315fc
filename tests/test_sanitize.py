"""notebooks/sanitize.cfg replaces what it names and nothing else.

The file is read exactly as nbval reads it (``nbval.plugin.get_sanitize_patterns``) and applied in
its order, as nbval does for each output. The samples are copied from the stored outputs of the
lessons (repr, JSON, HTML table cell) and from a live DynamoDB Local; the item data beside them
holds times of the same shapes, which are lesson data and must reach nbval's comparison untouched.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from nbval.plugin import get_sanitize_patterns

CFG = Path(__file__).resolve().parents[1] / "notebooks" / "sanitize.cfg"

# Times of every shape the sanitizers look for, as item data: never replaced.
ITEM_TIMES = (
    "{'pk': 'order-1', 'created_at': '2026-01-02T03:04:05.678', "
    "'paid_at': '2026-01-02T03:04:05Z', 'shipped_at': '2026-01-02T03:04:05.678Z'}"
)


def _sections() -> dict[str, list[tuple[str, str]]]:
    """Section name -> its (regex, replace) pairs, parsed the way nbval parses the whole file."""
    text = CFG.read_text()
    parts = re.split(r"^\[([a-z0-9-]+)\]$", text, flags=re.MULTILINE)  # text, name, body, ...
    pairs = zip(parts[1::2], parts[2::2], strict=True)
    return {name: get_sanitize_patterns(body) for name, body in pairs}


SECTIONS = _sections()


def sanitize(text: str) -> str:
    """What nbval compares: every pattern of the file, in order."""
    for regex, replace in get_sanitize_patterns(CFG.read_text()):
        text = re.sub(regex, replace, text)
    return text


def test_each_section_has_one_pattern_and_says_why():
    text = CFG.read_text()
    assert SECTIONS, "no sections"
    for name, pairs in SECTIONS.items():
        assert len(pairs) == 1, f"[{name}] must hold one regex/replace pair, not {len(pairs)}"
        comment = text.split(f"[{name}]\n", 1)[1].split("regex: ", 1)[0]
        assert comment.startswith("# "), f"[{name}] needs a comment saying why it exists"
    # nbval reads every regex/replace pair in the file, including any outside a section.
    assert sum(len(p) for p in SECTIONS.values()) == len(get_sanitize_patterns(text))


LABEL = "2026-11-29T17:19:44.045"

# (section, sample from real output, what nbval must compare)
CASES = [
    (
        "stream-label",  # lesson 02: a stream record's repr
        " 'eventSourceARN': 'arn:aws:dynamodb:ddblocal:000000000000:table/orders/stream/"
        f"{LABEL}'}}",
        " 'eventSourceARN': 'arn:aws:dynamodb:ddblocal:000000000000:table/orders/stream/"
        "STREAM-LABEL'}",
    ),
    (
        "stream-label",  # lesson 11: the CloudFormation template, as JSON
        f'"EventSourceArn": "arn:aws:dynamodb:ddblocal:000000000000:table/orders/stream/{LABEL}",',
        '"EventSourceArn": "arn:aws:dynamodb:ddblocal:000000000000:table/orders/stream/'
        'STREAM-LABEL",',
    ),
    (
        "stream-label",  # lesson 11: the IAM policy table, an HTML cell
        '<td style="text-align:left">arn:aws:dynamodb:ddblocal:000000000000:table/orders/stream/'
        f"{LABEL}</td>",
        '<td style="text-align:left">arn:aws:dynamodb:ddblocal:000000000000:table/orders/stream/'
        "STREAM-LABEL</td>",
    ),
    (
        "stream-label",  # describe_stream / describe_table, as a repr and as JSON
        f"'StreamLabel': '{LABEL}', 'LatestStreamLabel': '{LABEL}'",
        "'StreamLabel': 'STREAM-LABEL', 'LatestStreamLabel': 'STREAM-LABEL'",
    ),
    (
        "stream-label",
        f'"LatestStreamLabel": "{LABEL}"',
        '"LatestStreamLabel": "STREAM-LABEL"',
    ),
    (
        "approximate-creation-time",  # lessons 00-02: a stream record's repr (a float now)
        " 'dynamodb': {'ApproximateCreationDateTime': 1795972680.0,\n",
        " 'dynamodb': {'ApproximateCreationDateTime': EPOCH,\n",
    ),
    (
        "approximate-creation-time",  # the same, as stored before labkit sent a float
        " 'dynamodb': {'ApproximateCreationDateTime': 1795972680,\n",
        " 'dynamodb': {'ApproximateCreationDateTime': EPOCH,\n",
    ),
    (
        "failure-document-arrival-times",  # lesson 08: the failure document's repr
        "  'approximateArrivalOfFirstRecord': '2026-11-29T17:19:00Z',\n"
        "  'approximateArrivalOfLastRecord': '2026-11-29T17:19:00Z',",
        "  'approximateArrivalOfFirstRecord': 'ISO-UTC-TIME',\n"
        "  'approximateArrivalOfLastRecord': 'ISO-UTC-TIME',",
    ),
    (
        "failure-document-arrival-times",  # the same document as JSON (an SQS message body)
        '"approximateArrivalOfFirstRecord": "2026-11-29T17:19:00Z"',
        '"approximateArrivalOfFirstRecord": "ISO-UTC-TIME"',
    ),
    (
        "failure-document-timestamp",  # lesson 08: the failure document's repr
        " 'version': '1.0',\n 'timestamp': '2026-11-29T17:19:22.125Z',",
        " 'version': '1.0',\n 'timestamp': 'ISO-UTC-TIME',",
    ),
    ("writefile", "Writing functions/replica.py", "WRITING functions/replica.py"),
    ("writefile", "Overwriting functions/replica.py\n", "WRITING functions/replica.py\n"),
    # the same words anywhere else are a function's or a learner's output: compared
    ("writefile", "Writing functions/replica.py done", "Writing functions/replica.py done"),
    ("writefile", "Overwriting the notes.txt", "Overwriting the notes.txt"),
    (
        "report-durations",  # lesson 02: a cold start's REPORT line, as a repr (tabs as \t)
        "\\tDuration: 0.03 ms\\tBilled Duration: 1 ms\\tMemory Size: 128 MB"
        "\\tInit Duration: 0.94 ms'",
        "\\tDuration: N ms\\tBilled Duration: N ms\\tMemory Size: 128 MB\\tInit Duration: N ms'",
    ),
    (
        "report-durations",  # a timed-out call's REPORT line, printed (real tabs)
        "\tDuration: 1000.00 ms\tBilled Duration: 1000 ms\tMemory Size: 128 MB\tStatus: timeout",
        "\tDuration: N ms\tBilled Duration: N ms\tMemory Size: 128 MB\tStatus: timeout",
    ),
    (
        "report-max-memory",
        "\\tMemory Size: 128 MB\\tMax Memory Used: 1 MB\\tStatus: timeout'",
        "\\tMemory Size: 128 MB\\tMax Memory Used: N MB\\tStatus: timeout'",
    ),
    (
        "remaining-time",  # lesson 02: show_runtime's line in Invocation.output
        " 'context.get_remaining_time_in_millis() = 2998')",
        " 'context.get_remaining_time_in_millis() = MS')",
    ),
]

# The same words as item data, with no tab before them or no call: lesson data, compared.
ITEM_TIMINGS = (
    "{'pk': 'run-1', 'note': 'Duration: 5 ms', 'limits': 'Max Memory Used: 3 MB', "
    "'remaining': 2998, 'get_remaining_time_in_millis': 2998}"
)


@pytest.mark.parametrize(("section", "sample", "expected"), CASES)
def test_the_pattern_replaces_what_it_names(section, sample, expected):
    ((regex, replace),) = SECTIONS[section]
    assert re.sub(regex, replace, sample) == expected
    assert sanitize(sample) == expected  # and no other pattern gets there first


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_the_pattern_leaves_item_times_alone(section):
    ((regex, replace),) = SECTIONS[section]
    assert re.sub(regex, replace, ITEM_TIMES) == ITEM_TIMES
    assert re.sub(regex, replace, ITEM_TIMINGS) == ITEM_TIMINGS


def test_a_report_line_keeps_all_but_its_id_timings_and_memory_used():
    """A REPORT line as labkit writes it: the request id, durations and memory used vary; the
    configured Memory Size and the Status never do."""
    line = (
        "REPORT RequestId: 4f96656b-295d-41ed-89db-7c509bad4089\tDuration: 1000.00 ms\t"
        "Billed Duration: 1000 ms\tMemory Size: 128 MB\tMax Memory Used: 1 MB\t"
        "Init Duration: 0.72 ms\tStatus: timeout"
    )
    expected = (
        "REPORT RequestId: UUID\tDuration: N ms\tBilled Duration: N ms\tMemory Size: 128 MB\t"
        "Max Memory Used: N MB\tInit Duration: N ms\tStatus: timeout"
    )
    assert sanitize(line) == expected  # printed
    assert sanitize(repr(line)) == repr(expected)  # in a tuple's repr, tabs are '\\t'


def test_only_the_label_changes_in_a_record_beside_item_times():
    record = (
        "{'eventName': 'INSERT', 'dynamodb': {'NewImage': {'created_at': {'S': "
        "'2026-01-02T03:04:05.678'}}}, 'eventSourceARN': "
        f"'arn:aws:dynamodb:ddblocal:000000000000:table/orders/stream/{LABEL}'}}"
    )
    assert sanitize(record) == record.replace(LABEL, "STREAM-LABEL")
    assert sanitize(ITEM_TIMES) == ITEM_TIMES


def test_the_patterns_match_live_dynamodb_local_output(lab, table_name):
    """DynamoDB Local's own strings (not only copies in this file) are what the patterns expect."""
    name = table_name("orders")
    lab.create_table(name)
    table = lab.dynamodb.describe_table(TableName=name)["Table"]
    arn, label = table["LatestStreamArn"], table["LatestStreamLabel"]
    stream = lab.streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert arn.endswith(f"/stream/{label}") and stream["StreamLabel"] == label
    for text in (repr(table), repr(stream)):
        assert label in text
        assert label not in sanitize(text), text


def test_the_report_patterns_match_labkit_s_own_report_lines(lab, table_name):
    """The REPORT line of a real invocation (cold, then warm) is what the patterns expect."""
    name = table_name("orders")
    table = lab.create_table(name)

    def remaining(event, context):
        print(f"context.get_remaining_time_in_millis() = {context.get_remaining_time_in_millis()}")

    trigger = lab.trigger(name, lab.function("remaining", remaining), batch_size=1)
    table.put_item(Item={"pk": "a"})
    table.put_item(Item={"pk": "b"})
    cold, warm = trigger.run_until_idle()
    expected = (
        "REPORT RequestId: UUID\tDuration: N ms\tBilled Duration: N ms\t"
        "Memory Size: 128 MB\tMax Memory Used: N MB"
    )
    assert sanitize(cold.logs[-1]) == expected + "\tInit Duration: N ms"
    assert sanitize(warm.logs[-1]) == expected
    assert sanitize(repr(warm.logs[-1])) == repr(expected)
    assert sanitize(repr(cold.output)) == "('context.get_remaining_time_in_millis() = MS',)"
