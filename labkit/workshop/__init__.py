"""A class on one server: JupyterHub with one JupyterLab, workspace, DynamoDB Local and memory
cap per learner, an instructor's progress page and a grade export (``make workshop``).

A wing of its own, beside ``backend``/``esm`` (the engine) and ``teach`` (presentation): it
deploys the lab for many learners. It uses the teaching wing's workspace and results modules and
JupyterHub; nothing in labkit imports it (tests/test_architecture.py), so a learner's kernel
never loads JupyterHub. JupyterHub and its culler are the ``[workshop]`` extra.

``python -m labkit.workshop start | stop | grades | logins``; README "Running a workshop".
"""

__all__: list[str] = []
