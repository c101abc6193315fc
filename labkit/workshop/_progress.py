"""The instructor's view: every learner's progress, lesson by lesson, and a grade export (CSV).

Each learner's results are the lines of ``<their workspace>/.labkit/results.jsonl``, read and
folded with labkit/teach/_results.py (``read``, ``status``) against the workbook's
``catalogue`` (every exercise and quiz question). An item counts as passed when any attempt at
it passed (an exercise's check, a quiz question answered right).

Served as a JupyterHub managed service at ``/services/progress/`` (``python -m
labkit.workshop._progress``, started and stopped by the hub). HubOAuth: the hub asks the
visitor to log in and lets through only those holding ``access:services!service=progress``,
which the admin role has and the learners' default role ("self") does not. The same table is
``python -m labkit.workshop grades`` (``make grades > grades.csv``).
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable
from dataclasses import dataclass

from ..teach._results import Item, catalogue, read, status
from ._settings import Settings, load

__all__ = ["LearnerProgress", "grades_csv", "page", "progress"]


@dataclass(frozen=True)
class LearnerProgress:
    """One learner's row: per lesson, items passed and items there are."""

    learner: str
    passed: dict[str, int]  # lesson -> items passed
    attempted: dict[str, int]  # lesson -> items tried at least once
    last_at: str | None  # the newest attempt's time (UTC), None if nothing yet

    @property
    def total_passed(self) -> int:
        return sum(self.passed.values())


def _lessons(items: Iterable[Item]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item.lesson] = out.get(item.lesson, 0) + 1
    return dict(sorted(out.items()))


def progress(settings: Settings, items: list[Item] | None = None) -> list[LearnerProgress]:
    """Every learner's row, in login order (a learner with no results file: all zeros)."""
    known = {(i.kind, i.item) for i in (items if items is not None else catalogue())}
    rows = []
    for learner in settings.learners:
        passed: dict[str, int] = {}
        attempted: dict[str, int] = {}
        folded = [s for s in status(read(settings.results(learner))) if (s.kind, s.item) in known]
        for s in folded:
            attempted[s.lesson] = attempted.get(s.lesson, 0) + 1
            if s.passed:
                passed[s.lesson] = passed.get(s.lesson, 0) + 1
        last = max((s.last_at for s in folded), default=None)
        rows.append(LearnerProgress(learner, passed, attempted, last))
    return rows


def grades_csv(settings: Settings, items: list[Item] | None = None) -> str:
    """One row per learner: items passed per lesson, total passed, total items, score in %."""
    items = items if items is not None else catalogue()
    lessons = _lessons(items)
    total = sum(lessons.values())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["learner", *(f"lesson {n} ({k})" for n, k in lessons.items()), "passed", "items", "score"]
    )
    for row in progress(settings, items):
        score = f"{100 * row.total_passed / total:.1f}" if total else ""
        writer.writerow(
            [
                row.learner,
                *(row.passed.get(n, 0) for n in lessons),
                row.total_passed,
                total,
                score,
            ]
        )
    return out.getvalue()


def page(settings: Settings, viewer: str, items: list[Item] | None = None) -> str:
    """The instructor's HTML page: learners x lessons, "passed/items" in each cell."""
    items = items if items is not None else catalogue()
    lessons = _lessons(items)
    total = sum(lessons.values())
    head = "".join(f"<th title='{k} items'>{n}</th>" for n, k in lessons.items())
    body = []
    for row in progress(settings, items):
        cells = []
        for lesson, count in lessons.items():
            done, tried = row.passed.get(lesson, 0), row.attempted.get(lesson, 0)
            shade = "all" if done == count else "some" if done else "tried" if tried else "none"
            cells.append(f"<td class='{shade}'>{done}/{count}</td>")
        body.append(
            f"<tr><th>{html.escape(row.learner)}</th>{''.join(cells)}"
            f"<td>{row.total_passed}/{total}</td><td>{html.escape(row.last_at or '-')}</td></tr>"
        )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Workshop progress</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: center; }}
td.all {{ background: #c8e6c9; }} td.some {{ background: #fff9c4; }}
td.tried {{ background: #ffe0b2; }} td.none {{ color: #999; }}
</style></head><body>
<h1>Workshop progress</h1>
<p>Each cell: exercises and quiz questions passed / there are, per lesson (from each learner's
<code>workspace/.labkit/results.jsonl</code>). Green: all passed; yellow: some; orange: tried,
none passed yet. Signed in as {html.escape(viewer)}.
<a href="grades.csv" download>Download grades (CSV)</a>. Reload to refresh.</p>
<table id="progress"><thead><tr><th>learner</th>{head}<th>total</th><th>last result (UTC)</th>
</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table></body></html>
"""


def main() -> None:  # pragma: no cover - run by JupyterHub as a managed service
    import os
    from urllib.parse import urlparse

    from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
    from jupyterhub.utils import url_path_join
    from tornado import ioloop, web

    settings = load()
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/progress/")

    class Page(HubOAuthenticated, web.RequestHandler):  # type: ignore[misc]
        @web.authenticated
        def get(self) -> None:
            self.set_header("Cache-Control", "no-store")
            self.write(page(settings, self.current_user["name"]))

    class Grades(HubOAuthenticated, web.RequestHandler):  # type: ignore[misc]
        @web.authenticated
        def get(self) -> None:
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header("Content-Disposition", "attachment; filename=grades.csv")
            self.set_header("Cache-Control", "no-store")
            self.write(grades_csv(settings))

    app = web.Application(
        [
            (prefix, Page),
            (url_path_join(prefix, "grades.csv"), Grades),
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        ],
        cookie_secret=os.urandom(32),
    )
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    app.listen(url.port, "127.0.0.1")
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
