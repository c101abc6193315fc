# JupyterHub's configuration for `make workshop` (python -m labkit.workshop start).
#
# Shipped with labkit rather than generated: every value that changes between workshops (the
# learners, ports, passwords, memory cap) is in <classroom>/.hub/settings.json, which `start`
# writes and names in $LABKIT_WORKSHOP_SETTINGS. Read with JupyterHub's own `jupyterhub -f`.
# ruff: noqa: F821  (`c` is JupyterHub's config object, given by traitlets)
import os
from pathlib import Path

from labkit.workshop._hub import proxy_command
from labkit.workshop._settings import SETTINGS_ENV, load
from labkit.workshop._spawner import CONTENTS, LabkitSpawner, passed_through

s = load()

# Loopback only: the public face (the proxy), the hub's API and the proxy's API. Learners on
# other machines reach it through a TLS reverse proxy or an SSH tunnel (README, "Running a
# workshop"), never through a port opened by labkit.
c.JupyterHub.bind_url = s.url
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = s.hub_api_port
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s.proxy_api_port}"
c.ConfigurableHTTPProxy.command = proxy_command()
c.ConfigurableHTTPProxy.should_start = True  # the hub starts the proxy and stops it on exit

# The hub's files: its database, cookie secret and pid files, in <classroom>/.hub (mode 0700).
c.JupyterHub.db_url = f"sqlite:///{s.hub_dir / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(s.hub_dir / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(s.hub_dir / "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = str(s.hub_dir / "proxy.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every learner's server
c.JupyterHub.cleanup_proxy = True

# One login per learner: JupyterHub's SharedPasswordAuthenticator (5.3+): learner01..NN with
# the learners' password, the instructor (an admin) with a separate 32+ character one.
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = s.user_password
c.SharedPasswordAuthenticator.admin_password = s.admin_password
c.Authenticator.allowed_users = set(s.learners)
c.Authenticator.admin_users = {s.admin}

c.JupyterHub.spawner_class = LabkitSpawner
c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []
c.Spawner.cmd = [str(Path(s.python).with_name("jupyterhub-singleuser"))]
c.Spawner.start_timeout = 120  # a loaded 2-core machine: a first start can take a while
c.Spawner.http_timeout = 120
c.Spawner.default_url = CONTENTS  # the contents page of the learner's workspace, as `make lab`
# How often idleness is checked: every minute, or more often for a short timeout (a test's).
cull_every = max(5, min(60, s.cull_timeout // 2))
# A kernel left idle for the cull timeout is shut down by the learner's own server (its
# DynamoDB Local with it); the whole server by the culler below.
c.Spawner.args += [
    f"--MappingKernelManager.cull_idle_timeout={s.cull_timeout}",
    f"--MappingKernelManager.cull_interval={cull_every}",
]

# Services: the idle culler (stops servers idle for cull_timeout) and the instructor's page.
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            s.python,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={s.cull_timeout}",
            f"--cull-every={cull_every}",
        ],
        "environment": passed_through(),
    },
    {
        "name": "progress",
        "url": f"http://127.0.0.1:{s.progress_port}",
        "command": [s.python, "-m", "labkit.workshop._progress"],
        "environment": {**passed_through(), SETTINGS_ENV: str(s.file)},
        "oauth_no_confirm": True,
        "display": True,
    },
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    },
]
# Only the instructor may open /services/progress/: admins hold access:services, learners (the
# default "user" role: scope "self") do not, so the hub refuses them at the OAuth step.
