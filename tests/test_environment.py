"""environment.yml (conda) must ask for what pyproject.toml asks for, with the same bounds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names where they differ from PyPI's
CONDA_NAME: dict[str, str] = {"matplotlib": "matplotlib-base"}  # matplotlib without Qt


def _split(spec: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
    assert match, f"cannot parse requirement {spec!r}"
    return match.group(1).lower(), match.group(2).replace(" ", "")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _conda() -> tuple[dict[str, str], list[str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda: dict[str, str] = {}
    pip: list[str] = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip.extend(dep["pip"])
        else:
            pinned = re.match(r"^[\w.-]+=\d", dep)  # conda's "openjdk=17" means ==17
            name, bound = _split(dep.replace("=", "==", 1) if pinned else dep)
            conda[name] = bound
    return conda, pip


def test_every_python_dependency_is_in_environment_yml_with_the_same_bound():
    project = _pyproject()["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    conda, _ = _conda()
    assert wanted, "pyproject.toml lists no dependencies"
    for spec in wanted:
        name, bound = _split(spec)
        conda_name = CONDA_NAME.get(name, name)
        assert conda_name in conda, f"{name} is in pyproject.toml but not in environment.yml"
        assert conda[conda_name] == bound, (
            f"{name}: pyproject.toml says {bound!r}, environment.yml says {conda[conda_name]!r}"
        )


def test_environment_yml_has_nothing_pyproject_lacks_except_the_runtimes():
    project = _pyproject()["project"]
    names = {
        _split(s)[0] for s in [*project["dependencies"], *project["optional-dependencies"]["test"]]
    }
    conda, _ = _conda()
    extra = set(conda) - {CONDA_NAME.get(n, n) for n in names}
    # Runtimes conda provides that pip cannot: Python, Java for DynamoDB Local, npm for its jar.
    assert extra == {"python", "openjdk", "nodejs", "pip"}, extra


def test_python_and_java_match_the_project():
    conda, pip = _conda()
    assert conda["python"] == _pyproject()["project"]["requires-python"]
    assert conda["openjdk"] == "==17", "DynamoDB Local 3.x needs Java 17+"
    assert pip == ["-e ."], "environment.yml must install this project itself (pip: [-e .])"


def test_conda_forge_is_the_channel():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
