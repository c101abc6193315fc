"""The house rules of labkit's layout: the engine never imports the teaching wing, pandas,
ipywidgets, tqdm, IPython or matplotlib; the wings import each other only downward; the public
face is small.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import labkit

LABKIT = Path(labkit.__file__).resolve().parent
ENGINE = [LABKIT / "backend", LABKIT / "esm"]
ENGINE_FILES = [
    LABKIT / name
    for name in (
        "_lab.py",
        "_lab_kinesis.py",
        "_kds.py",
        "_backfill.py",
        "_items.py",
        "_errors.py",
        "_seams.py",
        "_names.py",
        "_paths.py",
    )
]
PRESENTATION = ("pandas", "ipywidgets", "tqdm", "IPython", "matplotlib", "labkit.teach")

_BLOCKER = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED or name.startswith("labkit.teach"):
            raise ImportError(f"blocked: {{name}}")
        return None
sys.meta_path.insert(0, Block())
import labkit.backend, labkit.esm, labkit._lab
from labkit import start, Trigger, TriggerConfig, StreamReader
leaked = sorted(
    m for m in sys.modules if m.split(".")[0] in BLOCKED or m.startswith("labkit.teach")
)
print("LEAKED", leaked)
"""


def test_the_engine_imports_with_presentation_packages_blocked():
    """Importing ``labkit`` and its engine must not need pandas, ipywidgets, tqdm, IPython or
    matplotlib."""
    blocked = ["pandas", "ipywidgets", "tqdm", "IPython", "matplotlib"]
    code = _BLOCKER.format(blocked=blocked)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "LEAKED []" in done.stdout, done.stdout


def _imports(path: Path) -> list[str]:
    """Every module a file imports, resolved to absolute dotted names."""
    package = ".".join(path.relative_to(LABKIT.parent).with_suffix("").parts[:-1])
    out: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            out.append(module)
            out.extend(f"{module}.{alias.name}" for alias in node.names)
    return out


def _engine_files() -> list[Path]:
    return [p for folder in ENGINE for p in sorted(folder.glob("*.py"))] + ENGINE_FILES


def test_no_engine_module_names_the_presentation_wing_even_lazily():
    """Not even an import inside a function: the engine asks for bars and tables via _seams."""
    offenders = {
        str(path.relative_to(LABKIT)): name
        for path in _engine_files()
        for name in _imports(path)
        if any(name == p or name.startswith(p + ".") for p in PRESENTATION)
    }
    assert offenders == {}


def test_the_backend_imports_nothing_from_the_event_source_mapping():
    offenders = [
        (str(path.relative_to(LABKIT)), name)
        for path in sorted((LABKIT / "backend").glob("*.py"))
        for name in _imports(path)
        if name.startswith(("labkit.esm", "labkit._lab"))
    ]
    assert offenders == []


def test_nothing_in_labkit_imports_the_workshop_or_jupyterhub():
    """labkit/workshop deploys the lab for a class; a learner's kernel never loads it (nor
    JupyterHub, an optional extra)."""
    offenders = [
        (str(path.relative_to(LABKIT)), name)
        for path in sorted(LABKIT.rglob("*.py"))
        if "workshop" not in path.relative_to(LABKIT).parts
        for name in _imports(path)
        if name.startswith(("labkit.workshop", "jupyterhub"))
    ]
    assert offenders == []


def test_the_trigger_keeps_only_policy_and_the_run_loop():
    """Issue 11: the Trigger class is under 250 lines; the rest lives in its rooms."""
    lines = (LABKIT / "esm" / "_trigger.py").read_text().splitlines()
    assert len(lines) < 250, len(lines)


def test_every_private_module_declares_its_public_names():
    missing = [
        str(path.relative_to(LABKIT))
        for path in sorted(LABKIT.rglob("_*.py"))
        if path.name not in ("__init__.py", "__main__.py", "_guard.py")
        and "__all__" not in path.read_text()
    ]
    assert missing == []


def test_the_public_face_is_the_learners_verbs_errors_and_types():
    verbs = {"start", "quiz", "check", "monitor", "doctor", "Tracer", "LabTable", "lambda_event"}
    errors = {n for n in labkit.__all__ if n.endswith("Error")}
    assert verbs <= set(labkit.__all__)
    assert all(issubclass(getattr(labkit, n), labkit.LabError) for n in errors)
    assert len(labkit.__all__) - len(errors) <= 30, sorted(set(labkit.__all__) - errors)
    for name in labkit.__all__:
        assert getattr(labkit, name) is not None
