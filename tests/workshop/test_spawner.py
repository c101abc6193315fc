"""The learner's server as the hub spawns it (labkit/workshop/_spawner.py, which imports
JupyterHub: these run under `make test-workshop`, which installs the [workshop] extra)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from test_workshop import _settings  # tests/ is on the path (tests/conftest.py)


def test_a_learner_server_environment_names_their_workspace(tmp_path: Path):
    from labkit.workshop._spawner import learner_environment

    env = learner_environment(_settings(tmp_path, ["learner01"]), "learner01")
    assert env["LABKIT_WORKSPACE"] == str(tmp_path / "learner01" / "workspace")
    assert env["LABKIT_JAVA_HEAP"] == "256m"
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert "CONFIGPROXY_AUTH_TOKEN" not in env


def test_a_learner_kernel_is_the_oom_killers_first_choice(tmp_path: Path):
    """At the cap the kernel (and the DynamoDB Local it starts) must go before the learner's
    server, which holds every open lesson: the learner's own kernel spec raises the kernel's
    oom_score_adj, and Jupyter finds it before the environment's (JUPYTER_PREFER_ENV_PATH=0)."""
    from labkit.workshop._spawner import KERNEL_OOM_SCORE_ADJ, _kernel_spec, learner_environment

    home = tmp_path / "learner01"
    spec = json.loads(_kernel_spec(home).read_text())
    env = {
        **learner_environment(_settings(tmp_path, ["learner01"]), "learner01"),
        "HOME": str(home),
    }
    listed = subprocess.run(
        [sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(listed.stdout)["kernelspecs"]["python3"]["resource_dir"]
    assert Path(found) == home / ".local" / "share" / "jupyter" / "kernels" / "python3"
    # The spec's shell line, run with `true` in place of Python: it raises its own score.
    line = spec["argv"][2].replace(
        'exec "$0" -m ipykernel_launcher -f "$1"', "cat /proc/self/oom_score_adj"
    )
    shown = subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == str(KERNEL_OOM_SCORE_ADJ)
    assert spec["display_name"] == "Python 3 (ipykernel)"  # the lessons' kernel, by name
