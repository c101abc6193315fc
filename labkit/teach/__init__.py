"""The teaching wing: what a learner sees. Built on the engine's public names, never the reverse.

Rooms: ``_display`` (tables that render fully in JupyterLab, and the highlights they share),
``_progress`` (tqdm's bar), ``_tracer`` (execution table, transcript), ``_tracker`` (the variable
tracker: a step's changes, marked), ``_monitor`` (the live view), ``_quiz`` (quizzes as data),
``_check`` (graded exercises), ``_results`` (the learner's results file), ``_progress_view``
(``lk.progress()``: what is done, as a table and a picture), ``_feedback`` (a check's Expected and
Got, side by side), ``_doctor`` (is everything installed?), ``_notebooks`` (navigation, contents
page, learner copies); the pictures of a run: ``_picture`` (what every picture shares: PNG and
text), ``_timeline`` (records, batches, attempts, halves, lanes, windows, discards) drawn by
``_timeline_figure``, ``_charts`` (the step chart, the shard strip); ``_metrics`` (what CloudWatch
would show: a frame over time, a chart).
"""

from __future__ import annotations

from ._charts import ShardStrip, StepChart, shard_strip
from ._check import CheckResult, Exercise, check
from ._display import LabTable, lab_table
from ._doctor import Check, Report, doctor
from ._metrics import MetricsChart, MetricsTable
from ._monitor import Monitor, monitor
from ._progress_view import Progress, ProgressPicture, progress
from ._quiz import Feedback, Option, Question, Quiz, quiz
from ._timeline import Timeline, timeline
from ._tracer import Change, StepTrace, Tracer
from ._tracker import VariableTracker

__all__ = [
    "Change",
    "Check",
    "CheckResult",
    "Exercise",
    "Feedback",
    "LabTable",
    "MetricsChart",
    "MetricsTable",
    "Monitor",
    "Option",
    "Progress",
    "ProgressPicture",
    "Question",
    "Quiz",
    "Report",
    "ShardStrip",
    "StepChart",
    "StepTrace",
    "Timeline",
    "Tracer",
    "VariableTracker",
    "check",
    "doctor",
    "lab_table",
    "monitor",
    "progress",
    "quiz",
    "shard_strip",
    "timeline",
]
