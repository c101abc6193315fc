"""What labkit starts listens on 127.0.0.1 only: DynamoDB Local (through labkit/java's launcher)
and JupyterLab.

The listening sockets are read from the kernel, not from labkit: with ``ss -ltn`` and, where it is
available, also from /proc/net/tcp and tcp6 (the only source when ``ss`` is missing). Connections
go only to this machine's own addresses.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _streamcheck import as_event, at_least, read_until

import labkit
from labkit import _lab
from labkit.__main__ import jupyter_command, jupyter_environment
from labkit.backend import _server
from labkit.backend._install import find_dynamodb_local
from labkit.backend._java import find_java
from labkit.backend._server import LocalServer, _answers, free_port

_PROC_NET = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column


# -- reading the kernel's listening sockets -----------------------------------------------------
def _from_ss(port: int) -> set[str]:
    out = subprocess.run(["ss", "-ltn"], capture_output=True, text=True, check=True).stdout
    found = set()
    for line in out.splitlines()[1:]:  # the first line is the header
        local = line.split()[3]  # 127.0.0.1:8000, [::ffff:127.0.0.1]:8000, *:8000, [::]:8000
        host, _, local_port = local.rpartition(":")
        if local_port == str(port):
            found.add(host.strip("[]").split("%")[0])  # "127.0.0.1%lo" names an interface
    return found


def _proc_address(hex_address: str) -> str:
    """/proc/net/tcp{,6} print an address as 32-bit words, each in host (little-endian) order."""
    raw = bytes.fromhex(hex_address)
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(raw))


def _from_proc(port: int) -> set[str]:
    found = set()
    for table in _PROC_NET:
        if not table.exists():
            continue  # no IPv6 on this machine
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if fields[3] == _LISTEN and int(hex_port, 16) == port:
                found.add(_proc_address(address))
    return found


def listening_on(port: int) -> set[str]:
    """The local addresses that TCP sockets listen on at ``port``, as the kernel reports them.

    Both sources must agree where both exist, so a parsing slip in either cannot pass unseen.
    """
    sources = {}
    if shutil.which("ss"):
        sources["ss -ltn"] = _from_ss(port)
    if _PROC_NET[0].exists():
        sources["/proc/net/tcp{,6}"] = _from_proc(port)
    assert sources, "neither `ss` nor /proc/net/tcp is available to list listening sockets"
    normalized = {name: {_canonical(a) for a in found} for name, found in sources.items()}
    assert len({frozenset(v) for v in normalized.values()}) == 1, sources
    return next(iter(normalized.values()))


def _canonical(address: str) -> str:
    if address == "*":
        return "::"  # ss's way to print the IPv6 wildcard (dual-stack: every interface)
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)  # Java listens on [::ffff:127.0.0.1] for 127.0.0.1
    return str(mapped or ip)


def only_loopback(addresses: set[str]) -> bool:
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def own_other_addresses() -> set[str]:
    """This machine's own non-loopback addresses (never another machine's)."""
    found: set[str] = set()
    with_hostname = shutil.which("hostname")
    if with_hostname:
        out = subprocess.run([with_hostname, "-I"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            found.update(out.stdout.split())
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        # A UDP "connect" sends nothing; it only asks the kernel which local address it would use.
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as udp:
                udp.connect((probe, 9))
                found.add(udp.getsockname()[0])
        except OSError:
            pass
    return {
        a
        for a in found
        if not ipaddress.ip_address(a.split("%")[0]).is_loopback
        and not ipaddress.ip_address(a.split("%")[0]).is_link_local  # needs a scope to reach
    }


def connects(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except ConnectionRefusedError:
        return False


# -- DynamoDB Local ---------------------------------------------------------------------------
@pytest.mark.dynamodb_local
def test_dynamodb_local_listens_on_loopback_only_and_the_lab_works(request):
    lab = _lab._launch(None)  # a server of its own, beside the session's
    try:
        server = lab.server
        assert server is not None
        assert server.loopback_only is True, server.exposed_because
        assert server.exposed_because is None
        assert "LoopbackLauncher" in server.command()

        assert listening_on(server.port) == {"127.0.0.1"}
        for address in own_other_addresses():
            assert not connects(address, server.port), f"{address}:{server.port} answered"

        name = f"{request.node.name}.stream"
        table = lab.create_table(name)
        table.put_item(Item={"pk": "a", "n": 1})
        reader = labkit.StreamReader(lab.streams, lab.stream_arn(name))
        records = read_until(reader, at_least(1))
        assert [as_event(r) for r in records] == [
            ("INSERT", {"pk": "a"}, None, {"pk": "a", "n": 1})
        ]
    finally:
        lab.close()
    assert not _answers(server.port)


@pytest.mark.dynamodb_local
def test_an_unsupported_dynamodb_local_falls_back_to_every_interface_and_says_so(
    monkeypatch, capsys
):
    """The launcher run without DynamoDB Local's classes stands for a DynamoDB Local whose
    internals changed: it must refuse before listening, and labkit must fall back and tell."""
    monkeypatch.setattr(_server, "_launcher_unusable", {})
    real_command = LocalServer.command
    launcher_runs = []

    def launcher_alone(self: LocalServer, *, loopback: bool | None = None) -> list[str]:
        cmd = real_command(self, loopback=loopback)
        if "-cp" in cmd:
            launcher_runs.append(self.port)
            cmd[cmd.index("-cp") + 1] = str(_server.LAUNCHER_DIR)
        return cmd

    monkeypatch.setattr(LocalServer, "command", launcher_alone)
    jar, java = find_dynamodb_local(), find_java()
    first, second = LocalServer(jar, java, free_port()), LocalServer(jar, java, free_port())
    try:
        first.start()
        assert first.loopback_only is False
        assert first.exposed_because is not None
        assert first.exposed_because.startswith("LoopbackLauncher: unsupported DynamoDB Local")
        assert "NoClassDefFoundError" in first.exposed_because
        notice = capsys.readouterr().err
        assert "listens on every network interface" in notice and str(first.port) in notice
        assert _answers(first.port)
        assert not only_loopback(listening_on(first.port))
        for address in own_other_addresses():  # the check above would catch this exposure
            assert connects(address, first.port)

        second.start()  # the same Java and jar: the launcher is not tried again
        assert launcher_runs == [first.port]
        assert second.loopback_only is False and _answers(second.port)
    finally:
        first.stop()
        second.stop()


# -- JupyterLab -------------------------------------------------------------------------------
def test_jupyterlab_from_labkit_listens_on_loopback_only(tmp_path):
    """tests/test_cli.py checks the command's arguments; this runs it and asks the kernel."""
    port = free_port()
    cmd = jupyter_command(port, tmp_path, as_root=hasattr(os, "geteuid") and os.geteuid() == 0)
    env = {
        **jupyter_environment("t" * 48),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),  # none of the learner's settings
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    log = tmp_path / "jupyter.log"
    with log.open("wb") as out:
        jupyter = subprocess.Popen(
            [*cmd, "--ServerApp.open_browser=False"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not _answers(port):
            assert jupyter.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "JupyterLab did not listen within 60 s"
            time.sleep(0.1)
        assert listening_on(port) == {"127.0.0.1"}
        for address in own_other_addresses():
            assert not connects(address, port), f"{address}:{port} answered"
    finally:
        jupyter.terminate()
        try:
            jupyter.wait(timeout=15)
        except subprocess.TimeoutExpired:
            jupyter.kill()
            jupyter.wait()
