"""The workshop's parts that need no hub: settings, memory cap, Java heap, progress and grades.

The hub itself, two learners in Chromium and the instructor's page: tests/workshop/
(``make test-workshop``).
"""

from __future__ import annotations

import csv
import io
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from labkit import BackendError
from labkit.backend._connect import env_java_heap
from labkit.teach._results import Attempt, Item
from labkit.workshop._cgroup import MemoryCgroups, memory_cgroups, parse_size
from labkit.workshop._progress import grades_csv, page, progress
from labkit.workshop._settings import Settings, learner_names


def test_learners_are_numbered_so_they_sort_in_order():
    assert learner_names(3) == ["learner01", "learner02", "learner03"]
    assert learner_names(120)[0] == "learner001"
    assert sorted(learner_names(30)) == learner_names(30)


@pytest.mark.parametrize(
    ("text", "size"),
    [("1g", 2**30), ("768m", 768 * 2**20), ("512MiB", 512 * 2**20), ("4096", 4096)],
)
def test_memory_sizes(text: str, size: int):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "0", "lots", "1.5g", "-1g"])
def test_a_memory_size_that_is_not_one_is_refused(text: str):
    with pytest.raises(ValueError, match="not a memory size"):
        parse_size(text)


def test_the_java_heap_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LABKIT_JAVA_HEAP", raising=False)
    assert env_java_heap() == ()
    monkeypatch.setenv("LABKIT_JAVA_HEAP", "256m")
    assert env_java_heap() == ("-Xmx256m",)
    monkeypatch.setenv("LABKIT_JAVA_HEAP", "256 MB")
    with pytest.raises(BackendError, match="LABKIT_JAVA_HEAP"):
        env_java_heap()


def _settings(tmp_path: Path, learners: list[str]) -> Settings:
    return Settings(
        classroom=str(tmp_path),
        learners=learners,
        port=8000,
        hub_api_port=8081,
        proxy_api_port=8001,
        progress_port=8002,
        user_password="x" * 8,
        admin_password="y" * 32,
        memory_limit=0,
        java_heap="256m",
        cull_timeout=3600,
    )


def test_the_settings_file_is_private(tmp_path: Path):
    """It holds the passwords: only the hub's user may read it."""
    path = _settings(tmp_path, ["learner01"]).save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


CATALOGUE = [
    Item("01", "check", "01-keep-real-orders"),
    Item("01", "quiz", "01-stream-processing-flow#q1"),
    Item("02", "quiz", "02-anatomy#q1"),
    Item("02", "quiz", "02-anatomy#q2"),
]


def _write(settings: Settings, learner: str, *attempts: tuple[str, str, str, bool]) -> None:
    path = settings.results(learner)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        Attempt(f"2026-12-06T10:00:0{i}.000Z", learner, kind, item[:2], item, passed).to_json()  # type: ignore[arg-type]
        for i, (kind, item, _, passed) in enumerate(attempts)
    ]
    path.write_text("\n".join([*lines, '{"torn']))  # a kernel killed mid-write: skipped


def test_progress_counts_items_passed_per_lesson_from_each_workspace(tmp_path: Path):
    settings = _settings(tmp_path, ["learner01", "learner02", "learner03"])
    _write(
        settings,
        "learner01",
        ("check", "01-keep-real-orders", "", False),
        ("check", "01-keep-real-orders", "", True),  # passed at the second attempt
        ("quiz", "02-anatomy#q1", "", True),
        ("quiz", "02-anatomy#q2", "", False),
        ("quiz", "99-not-in-the-workbook#q1", "", True),  # not in the catalogue: ignored
    )
    _write(settings, "learner02", ("quiz", "01-stream-processing-flow#q1", "", False))
    rows = {row.learner: row for row in progress(settings, CATALOGUE)}
    assert rows["learner01"].passed == {"01": 1, "02": 1}
    assert rows["learner01"].total_passed == 2
    assert rows["learner02"].passed == {} and rows["learner02"].attempted == {"01": 1}
    assert rows["learner03"].last_at is None  # never started: a row of zeros, no error

    table = list(csv.reader(io.StringIO(grades_csv(settings, CATALOGUE))))
    assert table[0] == ["learner", "lesson 01 (2)", "lesson 02 (2)", "passed", "items", "score"]
    assert table[1] == ["learner01", "1", "1", "2", "4", "50.0"]
    assert table[2] == ["learner02", "0", "0", "0", "4", "0.0"]
    assert table[3] == ["learner03", "0", "0", "0", "4", "0.0"]

    html = page(settings, "instructor", CATALOGUE)
    assert "<th>learner01</th><td class='some'>1/2</td><td class='some'>1/2</td>" in html
    assert "<th>learner02</th><td class='tried'>0/2</td><td class='none'>0/2</td>" in html


def test_a_learner_name_is_escaped_on_the_page(tmp_path: Path):
    html = page(_settings(tmp_path, ["<b>x</b>"]), "<i>", CATALOGUE)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html and "<i>" not in html


_HOG = """
import sys
with open(sys.argv[1], "w") as out:
    out.write(str(__import__("os").getpid()))
blocks = [bytearray(2**20) for _ in range(200)]  # 200 MiB, past the 64 MiB cap
print("not capped")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="cgroups are Linux's")
def test_the_memory_cap_ends_a_process_that_exceeds_it():
    """The cap is real where the machine allows one: the cgroup's OOM killer ends the process
    that allocates past it (and only it). Where no cgroup can be made, say why and skip."""
    groups = memory_cgroups("labkit-workshop-test")
    if not isinstance(groups, MemoryCgroups):
        pytest.skip(f"no memory cgroup here: {groups}")
    try:
        group = groups.create("hog", 64 * 2**20)
        procs = str(group / "cgroup.procs")
        done = subprocess.run(
            [sys.executable, "-c", _HOG, procs],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "not capped" not in done.stdout
        assert done.returncode == -9, (done.returncode, done.stderr)
        assert groups.oom_kills("hog") >= 1
        assert groups.limit("hog") == 64 * 2**20
    finally:
        groups.remove_all()
    assert not groups.folder.exists()
