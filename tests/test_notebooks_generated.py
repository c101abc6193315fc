"""The generated parts of the workbook are up to date, and learner copies hold no solution."""

from __future__ import annotations

import nbformat

from labkit.teach._notebooks import NOTEBOOKS, SOLUTION_TAG, generate, learner_copy, lessons


def test_navigation_contents_and_learner_copies_are_up_to_date():
    stale = generate(check=True)
    assert stale == [], f"run `python -m labkit notebooks` (stale: {[str(p) for p in stale]})"


def test_every_lesson_has_a_learner_copy_without_solutions_or_outputs():
    order = lessons()
    assert [p.name for p in order][:2] == [
        "00-setup-check.ipynb",
        "01-stream-processing-flow.ipynb",
    ]
    for path in order:
        copy = nbformat.read(NOTEBOOKS / "learner" / path.name, as_version=4)
        code = [c for c in copy.cells if c.cell_type == "code"]
        assert all(not c.outputs for c in code), path.name
        assert all(SOLUTION_TAG not in c.metadata.get("tags", []) for c in code), path.name


def test_a_solution_cell_becomes_its_stub():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "def transform(record):\n    return record",
                metadata={
                    "tags": [SOLUTION_TAG],
                    "labkit": {"stub": "def transform(record):\n    return None\n"},
                },
            ),
            nbformat.v4.new_code_cell("x = 1"),
        ]
    )
    copy = learner_copy(nb)
    assert copy.cells[0].source == "def transform(record):\n    return None\n"
    assert copy.cells[0].metadata["tags"] == ["exercise"]
    assert copy.cells[1].source == "x = 1"
    assert nb.cells[0].source.endswith("return record")  # the source notebook is untouched


def test_each_lesson_links_to_its_neighbours_and_the_contents():
    order = lessons()
    for i, path in enumerate(order):
        nav = nbformat.read(path, as_version=4).cells[-1]
        assert nav.metadata["labkit"]["nav"] is True
        assert "[Contents](README.md)" in nav.source
        if i + 1 < len(order):
            assert f"({order[i + 1].name})" in nav.source
        if i > 0:
            assert f"({order[i - 1].name})" in nav.source
    contents = (NOTEBOOKS / "README.md").read_text()
    assert all(f"({p.name})" in contents for p in order)
