"""The learner's own AWS SDK clients, pointed at the lab, and a guard that keeps them off AWS.

A handler a learner writes is AWS code: it makes ``boto3.client("dynamodb")`` or
``boto3.resource("dynamodb").Table(name)`` with default settings, at module level or inside the
handler, as it would on Lambda. While a local lab runs, ``redirect(endpoint_url, region,
credentials)`` makes such a client talk to the lab, whatever ``~/.aws``, ``AWS_PROFILE`` or
``AWS_ENDPOINT_URL`` say, by setting the process environment that botocore reads when it builds
a client; ``SdkRedirect.restore()`` puts every variable back as it was.

Why environment variables win (botocore 1.44, read in its installed source; the same order is
documented in the AWS SDKs and Tools Reference Guide, "Service-specific endpoints",
https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html, and boto3's guides
"Configuration" and "Credentials", https://boto3.amazonaws.com/v1/documentation/api/latest/guide/):

* **Endpoint.** ``botocore/configprovider.py``, ``ConfiguredEndpointProvider.provide`` looks in
  this order: the service's own variable (``AWS_ENDPOINT_URL_DYNAMODB``,
  ``AWS_ENDPOINT_URL_DYNAMODB_STREAMS``: ``_get_service_env_var_name`` upper-cases the
  hyphenised service id, ``dynamodb-streams`` for the client ``dynamodbstreams``), then
  ``AWS_ENDPOINT_URL``, then the profile's ``services`` section, then its ``endpoint_url``. Only
  an ``endpoint_url=`` passed to the client beats it (``botocore/args.py``,
  ``ClientArgsCreator._compute_configured_endpoint_url``), and it is skipped entirely when
  ``ignore_configured_endpoint_urls`` is true (``_ignore_configured_endpoint_urls``), so the
  redirect sets ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=false``.
* **Credentials.** ``botocore/credentials.py``, ``create_credential_resolver`` puts
  ``EnvProvider`` (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN`` or
  ``AWS_SECURITY_TOKEN``, ``AWS_CREDENTIAL_EXPIRATION``, ``AWS_ACCOUNT_ID``) first, before
  assume-role, the profile's providers (``credential_process``, SSO, the credentials file),
  the container and the instance metadata. It drops ``EnvProvider`` only for a profile set on
  the session itself (``boto3.Session(profile_name=...)``), not for ``AWS_PROFILE``.
* **Region and the rest.** ``botocore/configprovider.py``, ``BOTOCORE_DEFAUT_SESSION_VARIABLES``
  gives each setting its variable, read before the config file: ``AWS_DEFAULT_REGION`` (the one
  botocore reads; ``AWS_REGION`` is set too for other SDKs and tools), ``AWS_USE_FIPS_ENDPOINT``
  and ``AWS_USE_DUALSTACK_ENDPOINT`` (DynamoDB's endpoint rules refuse either with a custom
  endpoint: "FIPS and custom endpoint are not supported"), ``AWS_ENDPOINT_DISCOVERY_ENABLED``
  (``botocore/client.py``, ``_register_endpoint_discovery`` skips discovery only for an
  ``endpoint_url=`` argument, not a configured one), ``AWS_ACCOUNT_ID_ENDPOINT_MODE``,
  ``AWS_CSM_ENABLED``, and ``AWS_CONFIG_FILE`` / ``AWS_SHARED_CREDENTIALS_FILE``, which the
  redirect points at an empty file so that no profile setting is read at all.

boto3 keeps one default session (``boto3.DEFAULT_SESSION``, made by the first
``boto3.client(...)``), and a session keeps the credentials it resolved, so the redirect drops
it: the next default client builds a fresh session from the redirected environment.

A client made before the redirect keeps its AWS endpoint and credentials. So while a redirect is
active, a guard checks every request botocore is about to make: only loopback hosts and the
lab's own endpoint host pass; anything else raises ``AWSRequestRefusedError`` before the request
is signed (so no expiring credentials are refreshed for it) and before a socket is opened.
The guard wraps ``botocore.endpoint.Endpoint.make_request``: ``BaseClient._make_request``
(``botocore/client.py``) hands it every service request of every client, old or new, with the
resolved URL in ``request_dict["url"]``, after the ``before-call`` event that botocore's Stubber
answers. The retry loop is inside it (``Endpoint._send_request``; ``_do_get_response`` returns
a send error to that loop, whose checks in ``botocore/retryhandler.py`` and
``botocore/retries/standard.py`` retry only connection errors), so the refusal is raised once,
unchanged. It also wraps ``botocore.httpsession.URLLib3Session.send``, which the credential
fetchers of the instance metadata service and containers call directly.

A redirect to a DynamoDB Local that labkit started carries that server's ``ServerWatch``
(``_health.py``): for a request to it, the guard checks the server before each attempt (in
``URLLib3Session.send``), gives the call the lab's read timeout, and turns a network error of the
finished call (in ``Endpoint.make_request``) into ``BackendStoppedError``, as on the lab's own
clients.

The same wrapper is the one place where labkit can see what a function's code sends, whatever
client it made: ``watching(watcher)`` has ``watcher(service, operation, request_dict,
response)`` called after each request the guard let through (the event source mapping uses it
to notice a function writing to its own source table: ``esm/_loops.py``). The wrapper is
installed while a redirect is active or a watcher is registered, and removed when neither is.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse, urlsplit

import boto3
from botocore.endpoint import Endpoint
from botocore.httpsession import URLLib3Session

from .._errors import AWSRequestRefusedError

if TYPE_CHECKING:
    from ._health import ServerWatch

__all__ = [
    "SdkRedirect",
    "Watcher",
    "active_redirects",
    "check_request",
    "is_loopback",
    "redirect",
    "redirect_service",
    "watching",
]

# The variables the redirect sets; {endpoint}, {region}, {key}, {secret} are filled in.
_SET = {
    "AWS_ENDPOINT_URL_DYNAMODB": "{endpoint}",
    "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": "{endpoint}",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false",
    "AWS_ACCESS_KEY_ID": "{key}",
    "AWS_SECRET_ACCESS_KEY": "{secret}",
    "AWS_DEFAULT_REGION": "{region}",
    "AWS_REGION": "{region}",
    "AWS_USE_FIPS_ENDPOINT": "false",
    "AWS_USE_DUALSTACK_ENDPOINT": "false",
    "AWS_ENDPOINT_DISCOVERY_ENABLED": "false",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "AWS_CSM_ENABLED": "false",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
# The variables the redirect removes: each would add to, or override, the lab's credentials or
# settings (a profile, a session token the lab's key does not go with, an expiry, an account).
_REMOVE = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ACCOUNT_ID",
)
# A proxy from the environment would carry even a loopback request off the machine: the lab's
# hosts are added to the proxy exceptions (urllib's ``proxy_bypass``, which botocore asks).
_NO_PROXY = ("NO_PROXY", "no_proxy")
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")

# What the lab emulates, for the refusal's wording (``Endpoint._endpoint_prefix`` values).
_LOCAL_SERVICES = {
    "dynamodb": ("DynamoDB", "boto3.client('dynamodb') or boto3.resource('dynamodb')"),
    "streams.dynamodb": ("DynamoDB Streams", "boto3.client('dynamodbstreams')"),
}

_lock = threading.RLock()
_active: list[SdkRedirect] = []
# The hosts the guard lets through besides loopback, or None when no redirect is active. Read
# without the lock on every request (it is replaced whole, never changed in place).
_allowed: frozenset[str] | None = None
# (host, port) of a redirect's DynamoDB Local -> its watch; replaced whole, like _allowed.
_watched: dict[tuple[str, int | None], ServerWatch] = {}
# (endpoint prefix such as "dynamodb", operation name, request_dict, (http response, parsed))
Watcher = Callable[[str | None, str, dict[str, Any], Any], None]
_watch_counts: dict[Watcher, int] = {}
_watchers: tuple[Watcher, ...] = ()  # read without the lock on every request: replaced whole


@functools.lru_cache(maxsize=256)
def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 (also IPv4-mapped) and ``localhost``."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


class SdkRedirect:
    """What one ``redirect()`` changed, and the way back: ``restore()`` (safe to call twice)."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        values: Mapping[str, str | None],
        watch: ServerWatch | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.host = (urlparse(endpoint_url).hostname or "").lower()
        self.address = _address(endpoint_url)
        self.watch = watch
        self.region = region
        self.values = dict(values)  # what was set (None: removed)
        self.saved: dict[str, str | None] = {}  # what was there before
        self.saved_default_session: Any = None
        self.active = False

    def __repr__(self) -> str:
        state = "active" if self.active else "restored"
        return f"<SdkRedirect {state}: DynamoDB and DynamoDB Streams -> {self.endpoint_url}>"

    def __enter__(self) -> SdkRedirect:
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def restore(self) -> None:
        """Put back every variable and ``boto3.DEFAULT_SESSION`` as they were before."""
        with _lock:
            if not self.active:
                return
            self.active = False
            index = _active.index(self)
            _active.pop(index)
            if index < len(_active):
                # A later redirect is still in force: it saw this one's values, so it takes over
                # what this one saved, and puts that back when it is restored in its turn.
                later = _active[index]
                later.saved = {**later.saved, **self.saved}
                later.saved_default_session = self.saved_default_session
            else:
                _apply(self.saved)
                boto3.DEFAULT_SESSION = self.saved_default_session
            _update_allowed()
            if not _active and not _watch_counts:
                _uninstall_guard()


def redirect(
    endpoint_url: str,
    region: str,
    credentials: Mapping[str, str],
    *,
    watch: ServerWatch | None = None,
) -> SdkRedirect:
    """Point default boto3 clients (DynamoDB, DynamoDB Streams) at ``endpoint_url``.

    ``credentials`` holds ``aws_access_key_id`` and ``aws_secret_access_key`` (the lab's
    ``CREDENTIALS``). Until ``restore()``, requests to any host other than loopback or this
    endpoint's are refused with ``AWSRequestRefusedError`` before they are sent. With the
    ``watch`` of the DynamoDB Local behind the endpoint, a request to it that finds the server
    gone raises ``BackendStoppedError`` (see the module's docstring).
    """
    endpoint_url = endpoint_url.rstrip("/")
    fill = {
        "endpoint": endpoint_url,
        "region": region,
        "key": credentials["aws_access_key_id"],
        "secret": credentials["aws_secret_access_key"],
    }
    values: dict[str, str | None] = {name: v.format(**fill) for name, v in _SET.items()}
    values.update(dict.fromkeys(_REMOVE))
    host = (urlparse(endpoint_url).hostname or "").lower()
    for name in _NO_PROXY:
        values[name] = _no_proxy(os.environ.get(name), host)
    return _activate(SdkRedirect(endpoint_url, region, values, watch), values)


def redirect_service(variable: str, endpoint_url: str, region: str) -> SdkRedirect:
    """Point one more service's default clients at a lab server, by its service-specific
    variable (``AWS_ENDPOINT_URL_KINESIS`` for the local Kinesis of lesson 15: the same
    "Service-specific endpoints" rule as above). Stacks on the lab's DynamoDB redirect, which
    must be in force; ``restore()`` puts the variable back.
    """
    endpoint_url = endpoint_url.rstrip("/")
    values: dict[str, str | None] = {variable: endpoint_url}
    return _activate(SdkRedirect(endpoint_url, region, values, None), values)


def _activate(sdk: SdkRedirect, values: dict[str, str | None]) -> SdkRedirect:
    with _lock:
        sdk.saved = {name: os.environ.get(name) for name in values}
        sdk.saved_default_session = boto3.DEFAULT_SESSION
        _apply(values)
        boto3.DEFAULT_SESSION = None  # the next boto3.client() builds a session from the above
        sdk.active = True
        _active.append(sdk)
        _update_allowed()
        _install_guard()
    return sdk


@contextmanager
def watching(watcher: Watcher) -> Iterator[None]:
    """While the block runs, call ``watcher(service, operation, request_dict, response)`` after
    every request a botocore client sends (one the guard refused is never sent, nor watched).
    The same watcher registered by several threads at once is called once per request. A
    watcher must be quick and must not raise: it runs inside the caller's request."""
    global _watchers
    with _lock:
        _watch_counts[watcher] = _watch_counts.get(watcher, 0) + 1
        _watchers = tuple(_watch_counts)
        _install_guard()
    try:
        yield
    finally:
        with _lock:
            _watch_counts[watcher] -= 1
            if not _watch_counts[watcher]:
                del _watch_counts[watcher]
            _watchers = tuple(_watch_counts)
            if not _active and not _watch_counts:
                _uninstall_guard()


def active_redirects() -> list[SdkRedirect]:
    """The redirects in force, oldest first."""
    with _lock:
        return list(_active)


def check_request(url: str, service: str | None = None) -> None:
    """Raise ``AWSRequestRefusedError`` if a redirect is active and ``url`` may not be reached."""
    allowed = _allowed  # one read: redirect() and restore() replace it whole
    if allowed is None:
        return
    host = (urlsplit(url).hostname or "").lower()
    if host in allowed or is_loopback(host):
        return
    with _lock:
        lab_url = _active[-1].endpoint_url if _active else ""
    raise _refusal(url, service, lab_url)


def _refusal(url: str, service: str | None, lab_url: str) -> AWSRequestRefusedError:
    where = url.split("?", 1)[0]
    if service in _LOCAL_SERVICES:
        local, make = _LOCAL_SERVICES[service]
        why = (
            f"This {local} client points at {where} rather than at the lab: it was most likely "
            "made before lk.start() (or given that endpoint_url), so it kept AWS's endpoint."
        )
        fix = (
            f"make the client after lk.start() with default settings ({make}), or use "
            "lab.dynamodb, lab.streams or lab.table(name)"
        )
    else:
        name = f"an {service!r}" if service else "this"
        why = (
            f"The lab emulates only DynamoDB and DynamoDB Streams, so {name} client has "
            f"nowhere local to go (it would have reached {where}), or the client was made "
            "before lk.start()."
        )
        fix = (
            "use only DynamoDB and DynamoDB Streams in the lab, with clients made after lk.start()"
        )
    return AWSRequestRefusedError(
        f"labkit refused to send a request to {where}: while a local lab runs (at {lab_url}), "
        f"nothing it starts may reach AWS or another machine, and nothing was sent. {why}",
        f"{fix}. To use real AWS on purpose, close the lab, set LABKIT_USE_AWS=1 and start again.",
        url=where,
        service=service,
    )


# -- the environment ---------------------------------------------------------------------------
def _apply(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _no_proxy(current: str | None, host: str) -> str:
    hosts = [h.strip() for h in (current or "").split(",") if h.strip()]
    for extra in (*_LOOPBACK_NAMES, host):
        if extra and extra not in hosts:
            hosts.append(extra)
    return ",".join(hosts)


# -- the guard ---------------------------------------------------------------------------------
def _update_allowed() -> None:
    global _allowed, _watched
    _allowed = frozenset(sdk.host for sdk in _active) if _active else None
    _watched = {sdk.address: sdk.watch for sdk in _active if sdk.watch is not None}


def _address(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return (parts.hostname or "").lower(), port


def _watch_for(url: str) -> ServerWatch | None:
    """The watch of the lab's DynamoDB Local if ``url`` is on it, else None."""
    watched = _watched  # one read: replaced whole
    return watched.get(_address(url)) if watched else None


_original_make_request = Endpoint.make_request
_original_session_send = URLLib3Session.send


def _guarded_make_request(self: Endpoint, operation_model: Any, request_dict: Any) -> Any:
    service = getattr(self, "_endpoint_prefix", None)
    url = request_dict.get("url") or self.host
    check_request(url, service)
    watch = _watch_for(url)
    if watch is None:
        response = _original_make_request(self, operation_model, request_dict)
    else:
        watch.cap_read_timeout(request_dict.get("context"))
        try:
            response = _original_make_request(self, operation_model, request_dict)
        except Exception as exc:
            if (error := watch.translate(exc, getattr(operation_model, "name", ""))) is not None:
                raise error from exc
            raise
    for watcher in _watchers:
        watcher(service, operation_model.name, request_dict, response)
    return response


def _guarded_session_send(self: URLLib3Session, request: Any) -> Any:
    check_request(request.url)
    if (watch := _watch_for(request.url)) is not None:
        watch.check()  # before every attempt, so no retry goes to a server seen gone
    return _original_session_send(self, request)


def _install_guard() -> None:
    Endpoint.make_request = _guarded_make_request  # type: ignore[method-assign]
    URLLib3Session.send = _guarded_session_send  # type: ignore[method-assign]


def _uninstall_guard() -> None:
    # Put the originals back only where the guard is still the one installed; if someone wrapped
    # it since, the wrapper stays, and it lets everything through once no redirect is active.
    if Endpoint.make_request is _guarded_make_request:
        Endpoint.make_request = _original_make_request  # type: ignore[method-assign]
    if URLLib3Session.send is _guarded_session_send:
        URLLib3Session.send = _original_session_send  # type: ignore[method-assign]
