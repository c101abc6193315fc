"""Class-data sharing (AppCDS) for DynamoDB Local: an archive of its classes, built once.

Class-data sharing cuts DynamoDB Local's start by about 40% (``bench/cold_start.py``): the JVM
maps the classes DynamoDB Local needs, already parsed and verified, from an archive instead of
loading them one by one from 120 jars. ``python -m labkit install`` builds the archive once
(``ensure_class_data_archive``) in the cache folder, under a key made of the Java runtime, the
jar's SHA-256, the launcher and the JVM flags. Whoever starts a ``LocalServer`` looks the archive
up (``find_class_data_archive``) and hands it to the server, which uses it when it is intact and
starts without it otherwise: the server never looks for an archive itself, so this module (which
starts a server for its training run) and ``_server`` do not import each other in a circle.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import BackendStartError
from .._paths import cache_dir
from ._install import DynamoDBLocalJar
from ._java import JavaRuntime
from ._server import JVM_FLAGS, LAUNCHER_DIR, LocalServer, free_port

__all__ = ["ClassDataArchive", "ensure_class_data_archive", "find_class_data_archive"]

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
        for p in sorted(LAUNCHER_DIR.glob("*.class"))
    ]
    inputs = [
        f"format {_CDS_FORMAT}",
        f"java {real_java} {java.version}",
        *libjvm,
        f"jar {jar.folder.resolve()} {jar.sha256}",
        *libs,
        *launcher,
        " ".join(JVM_FLAGS),
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
        for path in sorted(LAUNCHER_DIR.glob("*.class")):
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

    server = LocalServer(
        jar,
        java,
        free_port(),
        extra_jvm=(f"-XX:DumpLoadedClassList={class_list}",),
        class_path=class_path,
    )
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
    java_cmd = [str(java.path), *JVM_FLAGS]
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
        "jvm_flags": list(JVM_FLAGS),
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


class _CannotArchive(BackendStartError):
    """The archive cannot be built with this Java and jar: no use trying again."""
