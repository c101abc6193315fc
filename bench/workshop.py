"""A class on one server, measured: memory per learner and N learners running lesson 01 at once.

Starts a real workshop (``python -m labkit.workshop start``, as ``make workshop`` does) in a
temporary classroom, then drives simulated learners the way a browser would, over HTTP only:

1. log in through the hub's login form (``/hub/login``: the xsrf cookie, then the form POST),
   which makes the hub start the learner's JupyterLab (SimpleLocalProcessSpawner, in the
   learner's memory cgroup);
2. ask the hub for an API token with the login cookie, and wait until the server is ready;
3. start a kernel through the server's REST API (``/user/<name>/api/kernels``) and run every code
   cell of the learner's lesson 01 (the copy in their workspace) through the kernel's websocket
   (``/api/kernels/<id>/channels``, one ``execute_request`` per cell, in order, stopping at an
   error as Run All does);
4. shut the kernel down.

Phases, in one run (each ratio is measured in the same run, on the same hub):

* one learner alone, then N learners at once (all log in and press Run All at the same moment:
  the worst case for a class), then one learner alone again, for each class size N; the mean of
  the two alone around a class is its baseline (the machine is shared: a baseline taken before
  and after shows how much its load moved);
* memory, sampled every second per learner from the process tree of their server (RSS of the
  JupyterLab server, the kernel, DynamoDB Local's Java and its guard) and from their cgroup
  (``memory.usage_in_bytes``: RSS plus page cache), idle (server only), with a kernel ready
  (``lk`` not yet started), and at the peak during the lesson; PSS (shared pages divided among
  the processes sharing them: the class-data archive, Python's libraries) at the end.

Run with ``python bench/workshop.py [--learners 5 10]`` (class sizes, run in turn). Writes
bench/results/workshop.{json,md}. Part of ``make bench`` (which installs the ``[workshop]``
extra for it); about four minutes on a loaded 2-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import psutil
import requests
import websocket
from _common import busy_processes, markdown_table, summary_row, write_results

ROOT = Path(__file__).resolve().parents[1]
LESSON = "01-stream-processing-flow.ipynb"
MiB = 2**20


@dataclass
class Learner:
    name: str
    url: str
    password: str
    session: requests.Session = field(default_factory=requests.Session)
    token: str = ""
    login_s: float = float("nan")  # login form POST to server ready
    kernel_s: float = float("nan")  # kernel start request to kernel idle
    lesson_s: float = float("nan")  # first execute_request to last execute_reply
    cells: int = 0
    error: str | None = None
    phase: str = "idle"  # idle -> kernel -> lesson -> done
    samples: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    cpu_s: float = float("nan")
    pss: dict[str, float] = field(default_factory=dict)

    @property
    def api(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def login(self) -> None:
        began = time.perf_counter()
        self.session.get(f"{self.url}/hub/login", timeout=60).raise_for_status()
        xsrf = self.session.cookies.get("_xsrf", path="/hub/")
        form = {"username": self.name, "password": self.password, "_xsrf": xsrf}
        answer = self.session.post(f"{self.url}/hub/login?next=", data=form, timeout=180)
        answer.raise_for_status()
        if "login" in answer.url.rsplit("/", 2)[-1]:
            raise RuntimeError(f"{self.name}: the hub refused the login ({answer.url})")
        # A token for the REST and websocket calls, asked for with the login cookie (as the
        # hub's own token page does, with the xsrf token of the logged-in session).
        self.session.get(f"{self.url}/hub/token", timeout=60).raise_for_status()
        xsrf = self.session.cookies.get("_xsrf", path="/hub/")
        made = self.session.post(
            f"{self.url}/hub/api/users/{self.name}/tokens",
            json={"note": "bench/workshop.py", "expires_in": 3600},
            headers={"X-XSRFToken": xsrf or ""},
            timeout=60,
        )
        made.raise_for_status()
        self.token = made.json()["token"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            model = self.session.get(
                f"{self.url}/hub/api/users/{self.name}", headers=self.api, timeout=60
            ).json()
            server = (model.get("servers") or {}).get("")
            if server and server.get("ready"):
                self.login_s = time.perf_counter() - began
                return
            if not server or not server.get("pending"):
                # The login page redirects to /hub/spawn; ask explicitly if it did not start.
                self.session.post(
                    f"{self.url}/hub/api/users/{self.name}/server", headers=self.api, timeout=60
                )
            time.sleep(0.5)
        raise RuntimeError(f"{self.name}: the server was not ready in 300 s")

    def run_lesson(self, code: list[str], start_gate: threading.Barrier | None = None) -> None:
        base = f"{self.url}/user/{self.name}"
        began = time.perf_counter()
        self.phase = "kernel"
        kernel = self.session.post(
            f"{base}/api/kernels", json={"name": "python3"}, headers=self.api, timeout=120
        )
        kernel.raise_for_status()
        kid = kernel.json()["id"]
        ws_url = base.replace("http://", "ws://") + f"/api/kernels/{kid}/channels"
        ws = websocket.create_connection(ws_url, header=[f"Authorization: token {self.token}"])
        try:
            ws.settimeout(600)
            self._execute(ws, "1")  # the kernel answers: it is ready
            self.kernel_s = time.perf_counter() - began
            time.sleep(2)
            if start_gate is not None:
                start_gate.wait()  # everyone presses Run All at the same moment
            self.phase = "lesson"
            began = time.perf_counter()
            for source in code:
                reply = self._execute(ws, source)
                self.cells += 1
                if reply["status"] != "ok":
                    self.error = f"cell {self.cells}: {reply.get('ename')}: {reply.get('evalue')}"
                    break
            self.lesson_s = time.perf_counter() - began
            self.cpu_s, self.pss = _tree_cpu_and_pss(self.name)
        finally:
            self.phase = "done"
            ws.close()
            self.session.delete(f"{base}/api/kernels/{kid}", headers=self.api, timeout=120)

    @staticmethod
    def _execute(ws: websocket.WebSocket, source: str) -> dict[str, Any]:
        """One execute_request; its execute_reply's content, after the kernel went idle."""
        msg_id = uuid.uuid4().hex
        ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "username": "bench",
                        "session": "bench",
                        "version": "5.3",
                        "date": "",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "content": {
                        "code": source,
                        "silent": False,
                        "store_history": True,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                    "buffers": [],
                }
            )
        )
        reply: dict[str, Any] | None = None
        idle = False
        while reply is None or not idle:
            message = json.loads(ws.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = message["header"]["msg_type"]
            if kind == "execute_reply":
                reply = message["content"]
            elif kind == "status" and message["content"]["execution_state"] == "idle":
                idle = True
        return reply


def _servers() -> dict[str, psutil.Process]:
    """Each learner's JupyterLab server process, by learner."""
    found = {}
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any("jupyterhub-singleuser" in a for a in proc.info["cmdline"] or []):
                user = proc.environ().get("JUPYTERHUB_USER")
                if user and os.environ.get("LABKIT_BENCH_CLASSROOM", "") in proc.cwd():
                    found[user] = proc
        except psutil.Error:
            continue
    return found


def _role(proc: psutil.Process) -> str:
    cmd = " ".join(proc.cmdline())
    if "java" in proc.name():
        return "java"
    if "_guard.py" in cmd:
        return "guard"
    if "ipykernel" in cmd:
        return "kernel"
    return "other"


def _tree_rss(server: psutil.Process) -> dict[str, float]:
    rss = {"server": 0.0, "kernel": 0.0, "java": 0.0, "guard": 0.0, "other": 0.0}
    try:
        rss["server"] = server.memory_info().rss / MiB
        for child in server.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                rss[_role(child)] += child.memory_info().rss / MiB
    except psutil.Error:
        pass
    rss["total"] = sum(rss.values())
    return rss


def _tree_cpu_and_pss(name: str) -> tuple[float, dict[str, float]]:
    server = _servers().get(name)
    if server is None:
        return float("nan"), {}
    procs = [server, *server.children(recursive=True)]
    cpu, pss = 0.0, {"server": 0.0, "kernel": 0.0, "java": 0.0, "guard": 0.0, "other": 0.0}
    for proc in procs:
        try:
            times = proc.cpu_times()
            cpu += times.user + times.system
            pss["server" if proc.pid == server.pid else _role(proc)] += (
                proc.memory_full_info().pss / MiB
            )
        except psutil.Error:
            pass
    pss["total"] = sum(pss.values())
    return cpu, pss


def _cgroup_usage(settings: dict[str, Any], name: str) -> float:
    if not settings.get("cgroups"):
        return float("nan")
    file = "memory.usage_in_bytes" if settings["cgroup_version"] == 1 else "memory.current"
    try:
        return int((Path(settings["cgroups"]) / name / file).read_text()) / MiB
    except OSError:
        return float("nan")


class Sampler(threading.Thread):
    """Every second: each learner's tree RSS and cgroup usage, filed under their phase."""

    def __init__(self, learners: list[Learner], settings: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.learners, self.settings = learners, settings
        self.stopped = threading.Event()
        self.load: list[float] = []

    def run(self) -> None:
        while not self.stopped.is_set():
            servers = _servers()
            for learner in self.learners:
                if learner.name in servers:
                    sample = _tree_rss(servers[learner.name])
                    sample["cgroup"] = _cgroup_usage(self.settings, learner.name)
                    learner.samples.setdefault(learner.phase, []).append(sample)
            self.load.append(os.getloadavg()[0])
            self.stopped.wait(1.0)


def _lesson_code(workspace: Path) -> list[str]:
    notebook = nbformat.read(workspace / LESSON, as_version=4)
    return [c.source for c in notebook.cells if c.cell_type == "code" and c.source.strip()]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_workshop(room: Path, users: int) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    command = [sys.executable, "-m", "labkit.workshop", "start", "--users", str(users)]
    command += ["--classroom", str(room), "--port", str(_free_port())]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line, end="", flush=True)
        if "Press Ctrl-C" in line:
            settings = json.loads((room / ".hub" / "settings.json").read_text())
            return proc, settings
    raise RuntimeError("the workshop did not start")


def _hub_overhead(settings: dict[str, Any]) -> float:
    """RSS of the hub, its proxy and services (everything in the hub's tree but the learners')."""
    hub = psutil.Process(int((Path(settings["classroom"]) / ".hub/jupyterhub.pid").read_text()))
    total = hub.memory_info().rss
    for child in hub.children(recursive=False):
        if not any("jupyterhub-singleuser" in a for a in child.cmdline()):
            total += child.memory_info().rss
    return total / MiB


def _alone(learner: Learner, code: list[str]) -> None:
    if not learner.token:  # the first learner logged in already, to find the lesson
        learner.login()
    learner.run_lesson(code)


def _together(learners: list[Learner], code: list[str]) -> None:
    gate = threading.Barrier(len(learners))
    threads = [
        threading.Thread(target=lambda x=x: (x.login(), x.run_lesson(code, gate))) for x in learners
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _memory_summary(samples: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per phase: how many samples, the last one and the peak (RSS by process, cgroup)."""
    return {
        phase: {
            "samples": len(rows),
            **{f"last_{k}": round(v, 1) for k, v in rows[-1].items()},
            "peak_total": round(_peak(rows, "total"), 1),
            "peak_cgroup": round(_peak(rows, "cgroup"), 1),
        }
        for phase, rows in samples.items()
        if rows
    }


def _peak(samples: list[dict[str, float]], key: str) -> float:
    return max((s[key] for s in samples), default=float("nan"))


def _last(samples: list[dict[str, float]], key: str) -> float:
    return samples[-1][key] if samples else float("nan")


@dataclass
class Group:
    """One phase of the run: learners who pressed Run All together (one: alone)."""

    label: str
    learners: list[Learner]
    wall_s: float = float("nan")
    load: tuple[float, float] = (float("nan"), float("nan"))  # 1-min load average, start/end

    def times(self) -> list[float]:
        return [x.lesson_s for x in self.learners]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--learners", type=int, nargs="+", default=[5, 10], help="class sizes, in order (5 10)"
    )
    args = parser.parse_args()
    sizes: list[int] = args.learners
    load_before = [round(x, 2) for x in os.getloadavg()]
    busy_before = busy_processes()
    with tempfile.TemporaryDirectory(prefix="labkit-bench-classroom-") as tmp:
        room = Path(tmp)
        os.environ["LABKIT_BENCH_CLASSROOM"] = str(room)
        proc, settings = _start_workshop(room, sum(sizes) + len(sizes) + 1)
        try:
            url, password = f"http://127.0.0.1:{settings['port']}", settings["user_password"]
            names = iter(settings["learners"])
            # alone, n1 together, alone, n2 together, alone, ...: each class size between two
            # learners alone, whose mean is its baseline.
            groups = [Group("alone", [Learner(next(names), url, password)])]
            for n in sizes:
                groups.append(
                    Group(f"{n} at once", [Learner(next(names), url, password) for _ in range(n)])
                )
                groups.append(Group("alone", [Learner(next(names), url, password)]))
            everyone = [x for g in groups for x in g.learners]
            sampler = Sampler(everyone, settings)
            sampler.start()
            time.sleep(1)
            hub_mib = _hub_overhead(settings)
            # The workspace is synced at spawn: read the lesson from the first learner's copy.
            first = groups[0].learners[0]
            first.login()
            code = _lesson_code(Path(settings["classroom"]) / first.name / "workspace")
            for group in groups:
                print(f"bench: {group.label} ({len(code)} cells) ...", flush=True)
                began, load0 = time.perf_counter(), os.getloadavg()[0]
                if len(group.learners) == 1:
                    _alone(group.learners[0], code)
                else:
                    _together(group.learners, code)
                group.wall_s = time.perf_counter() - began
                group.load = (load0, os.getloadavg()[0])
                print(f"bench: {group.label}: lesson 01 in {group.times()}", flush=True)
            sampler.stopped.set()
            sampler.join()
        finally:
            proc.send_signal(signal.SIGINT)
            tail, _ = proc.communicate(timeout=300)
            print(tail, end="")
    load_after = [round(x, 2) for x in os.getloadavg()]
    return _report(groups, hub_mib, settings, sampler, load_before, load_after, busy_before)


def _report(
    groups: list[Group],
    hub_mib: float,
    settings: dict[str, Any],
    sampler: Sampler,
    load_before: list[float],
    load_after: list[float],
    busy_before: list[str],
) -> int:
    everyone = [x for g in groups for x in g.learners]
    errors = [f"{x.name}: {x.error}" for x in everyone if x.error]
    rows = []
    for g in groups:
        for x in g.learners:
            during = x.samples.get("lesson", [])
            rows.append(
                [
                    x.name,
                    g.label,
                    f"{x.login_s:.1f}",
                    f"{x.kernel_s:.1f}",
                    f"{x.lesson_s:.1f}",
                    f"{x.cpu_s:.1f}",
                    f"{_last(x.samples.get('idle', []), 'total'):.0f}",
                    f"{_last(x.samples.get('kernel', []), 'total'):.0f}",
                    f"{_peak(during, 'total'):.0f}",
                    f"{_peak(during, 'cgroup'):.0f}",
                    f"{x.pss.get('total', float('nan')):.0f}",
                    x.error or "ok",
                ]
            )
    table = markdown_table(
        [
            "learner",
            "run",
            "login to server ready (s)",
            "kernel ready (s)",
            "lesson 01 (s)",
            "CPU (s)",
            "idle RSS (MiB)",
            "kernel ready RSS (MiB)",
            "peak RSS in lesson (MiB)",
            "peak cgroup (MiB)",
            "PSS at end (MiB)",
            "result",
        ],
        rows,
    )
    classes = []
    summary = []
    for i, g in enumerate(groups):
        if len(g.learners) == 1:
            continue
        before, after = groups[i - 1].times()[0], groups[i + 1].times()[0]
        baseline = statistics.mean([before, after])
        ratios = [t / baseline for t in g.times()]
        n = len(g.learners)
        classes.append(
            {
                "learners": n,
                "alone_before_s": before,
                "alone_after_s": after,
                "baseline_s": baseline,
                "median_s": statistics.median(g.times()),
                "max_s": max(g.times()),
                "median_ratio": statistics.median(ratios),
                "max_ratio": max(ratios),
                "wall_s": g.wall_s,
                "load": g.load,
            }
        )
        summary.append(
            summary_row(
                f"lesson 01, {n} learners at once vs alone", f"{statistics.median(ratios):.2f}x"
            )
        )
    class_table = markdown_table(
        [
            "learners at once",
            "alone before / after (s)",
            "lesson 01 at once, median / max (s)",
            "x alone, median / max",
            "class done in (s)",
            "1-min load at start / end",
        ],
        [
            [
                c["learners"],
                f"{c['alone_before_s']:.1f} / {c['alone_after_s']:.1f}",
                f"{c['median_s']:.1f} / {c['max_s']:.1f}",
                f"**{c['median_ratio']:.2f}x** / {c['max_ratio']:.2f}x",
                f"{c['wall_s']:.0f}",
                f"{c['load'][0]:.1f} / {c['load'][1]:.1f}",
            ]
            for c in classes
        ],
    )
    peak_rss = statistics.median(_peak(x.samples.get("lesson", []), "total") for x in everyone)
    peak_cg = statistics.median(_peak(x.samples.get("lesson", []), "cgroup") for x in everyone)
    idle = statistics.median(_last(x.samples.get("idle", []), "total") for x in everyone)
    ready = statistics.median(_last(x.samples.get("kernel", []), "total") for x in everyone)
    pss = statistics.median(x.pss.get("total", float("nan")) for x in everyone)
    parts = {
        key: statistics.median(x.pss.get(key, float("nan")) for x in everyone)
        for key in ("server", "kernel", "java", "guard")
    }
    cpu = statistics.median(x.cpu_s for x in everyone)
    cores = os.cpu_count() or 1
    per_gb = 1024 / peak_cg
    text = f"""# A class on one server (bench/workshop.py)

Simulated learners log in through the hub's login form, start their JupyterLab and run every
code cell of lesson 01 through the kernel's websocket. Each class size presses Run All at the
same moment, between one learner alone before and one alone after: their mean is that class's
baseline, measured in the same run on the same hub. Memory is sampled every second per learner
(RSS of their server's process tree, and their cgroup's charge, which adds page cache); PSS
(shared pages split between the processes sharing them) is read at the end of the lesson. Each
learner's memory cap: {settings["memory_limit"] // MiB} MiB; Java heap: {settings["java_heap"]}.

Machine: {cores} cores, shared with other sessions: load average before {load_before}, after
{load_after}, mean 1-min load during the run {statistics.mean(sampler.load):.2f}; busiest
processes before: {"; ".join(busy_before[:3])}.

{class_table}

Per learner:

{table}

- Memory per learner (median): the idle server {idle:.0f} MiB RSS, {ready:.0f} MiB with a kernel
  ready; during lesson 01 a peak of {peak_rss:.0f} MiB RSS, {peak_cg:.0f} MiB charged to the
  learner's cgroup; PSS at the end {pss:.0f} MiB (server {parts["server"]:.0f}, kernel
  {parts["kernel"]:.0f}, DynamoDB Local's Java {parts["java"]:.0f}, its guard
  {parts["guard"]:.0f}). About {per_gb:.1f} learners per GB with one lesson open.
- CPU per learner for lesson 01: {cpu:.1f} s (server, kernel, Java, guard).
- The hub, its proxy, the idle culler and the progress page: {hub_mib:.0f} MiB RSS together.
- Errors: {"; ".join(errors) if errors else "none"}.
"""
    summary += [
        summary_row("memory per learner, lesson peak (cgroup)", f"{peak_cg:.0f} MiB"),
        summary_row("learners per GB (one lesson open)", f"{per_gb:.1f}"),
        summary_row("CPU per learner per lesson 01", f"{cpu:.1f} s"),
    ]
    data = {
        "classes": classes,
        "hub_mib": hub_mib,
        "median": {
            "idle_rss": idle,
            "kernel_ready_rss": ready,
            "peak_rss": peak_rss,
            "peak_cgroup": peak_cg,
            "pss": pss,
            "pss_parts": parts,
            "cpu_s": cpu,
        },
        "learners": [
            {
                "name": x.name,
                "run": g.label,
                "login_s": x.login_s,
                "kernel_s": x.kernel_s,
                "lesson_s": x.lesson_s,
                "cpu_s": x.cpu_s,
                "pss": x.pss,
                "error": x.error,
                "memory_mib": _memory_summary(x.samples),
            }
            for g in groups
            for x in g.learners
        ],
        "load_before": load_before,
        "load_after": load_after,
        "load_during": sampler.load,
        "busy_before": busy_before,
    }
    write_results("workshop", text, data, summary)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
