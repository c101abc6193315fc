"""The teaching wing: what a learner sees. Built on the engine's public names, never the reverse.

Rooms: ``_display`` (tables that render fully in JupyterLab), ``_progress`` (tqdm's bar),
``_tracer`` (execution table, variable tracker, transcript), ``_monitor`` (the live view),
``_quiz`` (quizzes as data), ``_check`` (graded exercises), ``_doctor`` (is everything
installed?), ``_notebooks`` (navigation, contents page, learner copies).
"""

from __future__ import annotations

from ._check import CheckResult, Exercise, check
from ._display import LabTable, lab_table
from ._doctor import Check, Report, doctor
from ._monitor import Monitor, monitor
from ._quiz import Feedback, Option, Question, Quiz, quiz
from ._tracer import Change, StepTrace, Tracer

__all__ = [
    "Change",
    "Check",
    "CheckResult",
    "Exercise",
    "Feedback",
    "LabTable",
    "Monitor",
    "Option",
    "Question",
    "Quiz",
    "Report",
    "StepTrace",
    "Tracer",
    "check",
    "doctor",
    "lab_table",
    "monitor",
    "quiz",
]
