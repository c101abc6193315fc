"""The function's own AWS SDK clients reach the lab, and nothing reaches AWS (issue 12, item 2).

While a local lab runs, a boto3 client or resource made with default settings (in a cell, at a
function module's top level, inside a handler) talks to the lab with its credentials and region,
whatever the AWS configuration says; a request bound anywhere else is refused before it is sent;
``lab.close()`` puts everything back. The hostile-configuration cases run in a subprocess with
their own AWS files and variables, so that nothing leaks into (or out of) this test session;
an audit hook there records every DNS lookup and socket connect, which is how "nothing was sent"
is proved.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.endpoint import Endpoint
from botocore.httpsession import URLLib3Session

import labkit
from labkit.backend import _sdk
from labkit.backend._connect import CREDENTIALS

ROOT = Path(__file__).resolve().parents[1]

# Run in a subprocess. It starts a lab on the session's DynamoDB Local (LABKIT_ENDPOINT_URL, so no
# second server), and prints one JSON document of what it saw.
_SCRIPT = r"""
import json, os, sys

hosts = []  # every host this process looked up or connected to


def audit(event, args):
    if event == "socket.getaddrinfo":
        hosts.append(str(args[0]))
    elif event == "socket.connect" and isinstance(args[1], tuple):
        hosts.append(str(args[1][0]))


sys.addaudithook(audit)

import boto3
import botocore.endpoint

import labkit as lk
from labkit.backend import _sdk

refusals = []  # each call of the guard's check that refused: one per attempt
check = _sdk.check_request


def counting_check(url, service=None):
    try:
        check(url, service)
    except lk.AWSRequestRefusedError:
        refusals.append(url)
        raise


_sdk.check_request = counting_check
out = {}

# Made before lk.start(): one at AWS by name, one with default settings (the profile's region,
# and AWS_ENDPOINT_URL or the profile's endpoint when the configuration names one).
early_aws = boto3.client(
    "dynamodb", region_name="us-east-1", endpoint_url="https://dynamodb.us-east-1.amazonaws.com"
)
early_default = boto3.client("dynamodb")
out["early_default"] = early_default.meta.endpoint_url
env_before = dict(os.environ)
session_before = boto3.DEFAULT_SESSION
original_make_request = botocore.endpoint.Endpoint.make_request

lab = lk.start()
table_name, target_name = sys.argv[2], sys.argv[3]
lab.create_table(table_name)
lab.create_table(target_name, stream=None)
os.environ["TABLE"] = target_name
hosts_at_start = len(hosts)

client = boto3.client("dynamodb")
out["client"] = {
    "endpoint": client.meta.endpoint_url,
    "region": client.meta.region_name,
    # one page can miss it on a server other tests share: ask from just before its name
    "tables": client.list_tables(ExclusiveStartTableName=table_name[:-1], Limit=5)["TableNames"],
    "access_key": client._request_signer._credentials.access_key,
}
table = boto3.resource("dynamodb").Table(table_name)
table.put_item(Item={"pk": "order-1", "status": "new"})
out["resource"] = {
    "endpoint": table.meta.client.meta.endpoint_url,
    "region": table.meta.client.meta.region_name,
    "status": table.table_status,
}
streams = boto3.client("dynamodbstreams")
out["streams"] = {
    "endpoint": streams.meta.endpoint_url,
    "tables": [s["TableName"] for s in streams.list_streams(TableName=table_name)["Streams"]],
}
out["lab_items"] = lab.items(table_name)

# A function module, imported after lk.start(), with a module-level resource and a handler that
# makes its own: both must write to the lab.
sys.path.insert(0, sys.argv[1])
import function

trigger = lab.trigger(table_name, function.handler)
invocations = trigger.run_until_idle()
out["handler"] = {
    "errors": [i.error for i in invocations if i.error],
    "target": lab.items(target_name),
    "endpoints": function.ENDPOINTS,
}

out["refused"] = {}
for label, call in {
    "early_aws": lambda: early_aws.list_tables(),
    "early_default": lambda: early_default.list_tables(),
    "sqs": lambda: boto3.client("sqs").list_queues(),
}.items():
    before = len(refusals)
    try:
        call()
    except lk.AWSRequestRefusedError as exc:
        out["refused"][label] = {
            "message": str(exc), "url": exc.url, "service": exc.service,
            "attempts": len(refusals) - before,
        }
    except Exception as exc:
        out["refused"][label] = {"other": f"{type(exc).__name__}: {exc}"}
    else:
        out["refused"][label] = {"other": "sent"}

out["hosts_while_running"] = hosts[hosts_at_start:]
out["lab_endpoint"] = lab.endpoint_url
lab.close()
del os.environ["TABLE"]
out["env_restored"] = dict(os.environ) == env_before
out["env_diff"] = sorted(
    k for k in set(os.environ) | set(env_before) if os.environ.get(k) != env_before.get(k)
)
out["session_restored"] = boto3.DEFAULT_SESSION is session_before
out["guard_removed"] = botocore.endpoint.Endpoint.make_request is original_make_request
out["hosts"] = hosts
print("RESULT " + json.dumps(out, default=str))
"""

_FUNCTION = """
import os

import boto3

# module level, as a Lambda function's code often makes its clients
ENDPOINTS = [boto3.client("dynamodb").meta.endpoint_url]
copies = boto3.resource("dynamodb").Table(os.environ["TABLE"])


def handler(event, context):
    table = boto3.resource("dynamodb").Table(os.environ["TABLE"])
    ENDPOINTS.append(table.meta.client.meta.endpoint_url)
    for record in event["Records"]:
        key = record["dynamodb"]["Keys"]["pk"]["S"]
        table.put_item(Item={"pk": key, "by": "handler"})
        copies.update_item(
            Key={"pk": key},
            UpdateExpression="SET module_level = :t",
            ExpressionAttributeValues={":t": True},
        )
"""

# Fake but complete AWS configurations that would, without the lab, send a default client to
# another region, another endpoint and other credentials. The third value: what a default client
# made before lk.start() meets when called (in the second, botocore cannot even resolve an
# endpoint: account-id endpoints with FIPS; either way nothing is sent).
_CONFIGS = {
    "profile-with-endpoint": (
        "[profile learner]\n"
        "region = eu-west-1\n"
        "endpoint_url = https://profile-endpoint.example.invalid\n"
        "[default]\nregion = ap-southeast-2\n",
        {"AWS_ENDPOINT_URL": "https://example.invalid"},
        "refused",
    ),
    "services-fips-discovery": (
        "[profile learner]\n"
        "region = eu-west-1\n"
        "services = learner-services\n"
        "endpoint_discovery_enabled = true\n"
        "account_id_endpoint_mode = required\n"
        "credential_process = /bin/false\n"
        "[services learner-services]\n"
        "dynamodb =\n  endpoint_url = https://services-endpoint.example.invalid\n",
        {
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
            "AWS_USE_FIPS_ENDPOINT": "true",
            "AWS_USE_DUALSTACK_ENDPOINT": "true",
            "AWS_SESSION_TOKEN": "FAKESESSIONTOKEN",
            "AWS_ACCOUNT_ID": "123456789012",
        },
        "EndpointResolutionError",
    ),
}


def _hostile_env(tmp_path: Path, config: str, extra: dict[str, str], endpoint: str) -> dict:
    (tmp_path / "config").write_text(config)
    (tmp_path / "credentials").write_text(
        "[learner]\naws_access_key_id = AKIAFAKELEARNERKEY01\n"
        "aws_secret_access_key = fakeLearnerSecretKey0000000000000000000\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABKIT_"))}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_PROFILE="learner",
        LABKIT_ENDPOINT_URL=endpoint,
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        **extra,
    )
    return env


def _run(tmp_path: Path, env: dict, tables: list[str]) -> dict:
    (tmp_path / "function.py").write_text(_FUNCTION)
    (tmp_path / "script.py").write_text(_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(tmp_path / "script.py"), str(tmp_path), *tables],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout + done.stderr
    return json.loads(lines[-1].removeprefix("RESULT "))


@pytest.mark.parametrize("config", sorted(_CONFIGS))
def test_default_clients_reach_the_lab_and_nothing_reaches_aws(lab, table_name, tmp_path, config):
    text, extra, early_default = _CONFIGS[config]
    source, target = table_name("orders"), table_name("copies")
    out = _run(tmp_path, _hostile_env(tmp_path, text, extra, lab.endpoint_url), [source, target])
    endpoint = out["lab_endpoint"]
    assert endpoint.startswith("http://127.0.0.1:")
    assert not out["early_default"].startswith("http://127.0.0.1")  # the configuration's own

    # a client, a resource's Table and a streams client made with defaults: the lab's endpoint,
    # region and credentials, whatever the profile says
    assert out["client"]["endpoint"] == endpoint
    assert out["client"]["region"] == "us-east-1"
    assert out["client"]["access_key"] == CREDENTIALS["aws_access_key_id"]
    assert source in out["client"]["tables"]
    assert out["resource"] == {"endpoint": endpoint, "region": "us-east-1", "status": "ACTIVE"}
    assert out["streams"]["endpoint"] == endpoint
    assert source in out["streams"]["tables"]
    assert out["lab_items"] == [{"pk": "order-1", "status": "new"}]

    # a function's module-level client and the one its handler makes: both wrote to the lab
    assert out["handler"]["errors"] == []
    assert out["handler"]["endpoints"] == [endpoint, endpoint]
    assert out["handler"]["target"] == [{"pk": "order-1", "by": "handler", "module_level": True}]

    # a client made before lk.start(), and a service the lab does not emulate: refused, once,
    # with the cause and the fix
    refused = out["refused"]
    assert refused["early_aws"]["url"] == "https://dynamodb.us-east-1.amazonaws.com/"
    assert refused["early_aws"]["service"] == "dynamodb"
    assert "made before lk.start()" in refused["early_aws"]["message"]
    assert refused["sqs"]["service"] == "sqs"
    assert "only DynamoDB and DynamoDB Streams" in refused["sqs"]["message"]
    if early_default != "refused":
        assert refused.pop("early_default")["other"].startswith(early_default)
    for label in refused:
        assert "other" not in refused[label], refused[label]
        assert refused[label]["attempts"] == 1  # botocore did not retry it
        assert "nothing was sent" in refused[label]["message"]
        assert "\nFix: " in refused[label]["message"]
        assert "LABKIT_USE_AWS=1" in refused[label]["message"]

    # nothing was looked up or connected to but this machine, while the lab ran
    assert out["hosts_while_running"], "the audit hook saw the lab's own connections"
    assert set(out["hosts_while_running"]) <= {"127.0.0.1"}, out["hosts_while_running"]
    assert not [h for h in out["hosts"] if "invalid" in h or "amazonaws" in h], out["hosts"]

    # lab.close() put back every variable, boto3's default session and botocore itself
    assert out["env_restored"], out["env_diff"]
    assert out["session_restored"]
    assert out["guard_removed"]


def test_a_handler_given_to_lab_trigger_writes_to_the_lab(lab, table_name):
    source, target = table_name("orders"), table_name("copies")
    lab.create_table(source)
    lab.create_table(target, stream=None)

    def handler(event, context):
        table = boto3.resource("dynamodb").Table(os.environ.get("TABLE", target))
        for record in event["Records"]:
            table.put_item(Item={"pk": record["dynamodb"]["Keys"]["pk"]["S"], "copied": True})

    lab.table(source).put_item(Item={"pk": "order-1"})
    trigger = lab.trigger(source, handler)
    invocations = trigger.run_until_idle()
    assert [i.error for i in invocations if i.error] == []
    assert lab.items(target) == [{"pk": "order-1", "copied": True}]
    assert boto3.client("dynamodb").meta.endpoint_url == lab.endpoint_url


def test_a_request_to_aws_is_refused_before_it_is_signed_or_sent(lab, monkeypatch):
    sent = []
    monkeypatch.setattr(_sdk, "_original_session_send", lambda *a: sent.append(a))
    early = boto3.client(
        "dynamodb",
        endpoint_url="https://dynamodb.eu-west-1.amazonaws.com",
        region_name="eu-west-1",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="secret",
    )
    with pytest.raises(labkit.AWSRequestRefusedError) as caught:
        early.list_tables()
    error = caught.value
    assert isinstance(error, labkit.BackendError)
    assert error.url == "https://dynamodb.eu-west-1.amazonaws.com/"
    assert str(error) == f"{error.what}\nFix: {error.fix}"
    assert sent == []


# -- redirect() itself: no server needed -------------------------------------------------------
@pytest.fixture
def clean_env(monkeypatch):
    """The AWS variables a learner might have set, so that restore() has something to restore.

    monkeypatch puts the environment back afterwards whatever happens; the tests check restore()
    before that.
    """
    monkeypatch.setenv("AWS_PROFILE", "learner")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://example.invalid")
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    monkeypatch.setenv("NO_PROXY", "intranet.example")
    return dict(os.environ)


def _redirect(url: str) -> _sdk.SdkRedirect:
    return _sdk.redirect(url, "us-east-1", CREDENTIALS)


@pytest.mark.usefixtures("clean_env")
def test_redirect_sets_the_variables_and_restore_puts_back_exactly_what_was_there():
    before, session = dict(os.environ), boto3.DEFAULT_SESSION
    sdk = _redirect("http://127.0.0.1:9/")
    try:
        assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:9"
        assert os.environ["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] == "http://127.0.0.1:9"
        assert os.environ["AWS_ACCESS_KEY_ID"] == "labkit"
        assert os.environ["AWS_DEFAULT_REGION"] == os.environ["AWS_REGION"] == "us-east-1"
        assert os.environ["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] == "false"
        assert "AWS_PROFILE" not in os.environ and "AWS_SESSION_TOKEN" not in os.environ
        assert os.environ["NO_PROXY"].split(",")[:2] == ["intranet.example", "localhost"]
        assert os.environ["AWS_ENDPOINT_URL"] == "https://example.invalid"  # others: refused
        assert boto3.DEFAULT_SESSION is None
        assert Endpoint.make_request is _sdk._guarded_make_request
        assert URLLib3Session.send is _sdk._guarded_session_send
    finally:
        sdk.restore()
    assert dict(os.environ) == before
    assert boto3.DEFAULT_SESSION is session
    sdk.restore()  # twice is harmless
    assert dict(os.environ) == before
    if not _sdk.active_redirects():  # the session's lab may hold its own redirect
        assert Endpoint.make_request is _sdk._original_make_request
        assert URLLib3Session.send is _sdk._original_session_send


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("close_first", ["outer", "inner"])
def test_two_redirects_restored_in_either_order_leave_the_environment_as_it_was(close_first):
    before = dict(os.environ)
    outer = _redirect("http://127.0.0.1:9")
    inner = _redirect("http://localhost:10")
    try:
        first, second = (outer, inner) if close_first == "outer" else (inner, outer)
        first.restore()
        assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == second.endpoint_url
        second.restore()
    finally:
        outer.restore()
        inner.restore()
    assert dict(os.environ) == before


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8000/", True),
        ("http://127.8.9.10:8000/", True),
        ("http://localhost:8000/", True),
        ("http://[::1]:8000/", True),
        ("http://[::ffff:127.0.0.1]:8000/", True),
        ("http://dynamodb-local:8000/", True),  # the lab's own LABKIT_ENDPOINT_URL host
        ("https://dynamodb.us-east-1.amazonaws.com/", False),
        ("https://sqs.us-east-1.amazonaws.com/", False),
        ("http://169.254.169.254/latest/api/token", False),  # instance metadata
        ("http://10.0.0.5:8000/", False),
        ("http://localhost.example.com/", False),
    ],
)
def test_only_loopback_and_the_labs_own_host_are_allowed(url, allowed):
    sdk = _sdk.redirect("http://dynamodb-local:8000", "us-east-1", CREDENTIALS)
    try:
        if allowed:
            _sdk.check_request(url, "dynamodb")
        else:
            with pytest.raises(labkit.AWSRequestRefusedError):
                _sdk.check_request(url, "dynamodb")
    finally:
        sdk.restore()


def test_without_a_redirect_nothing_is_checked(monkeypatch):
    monkeypatch.setattr(_sdk, "_allowed", None)  # as if no lab ran (the session's lab may)
    _sdk.check_request("https://dynamodb.us-east-1.amazonaws.com/", "dynamodb")


def test_a_lab_on_aws_redirects_nothing():
    session = boto3.Session(
        aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret", region_name="eu-west-1"
    )
    aws_lab = labkit.Lab(None, on_aws=True, session=session)
    assert aws_lab.sdk is None
    aws_lab.close()
