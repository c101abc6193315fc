"""What every picture of a run has in common: drawn from data, shown as a PNG, kept as text.

A picture is computed from what the engine recorded (the trigger's log, the tracer's steps, the
stream's records), never drawn by hand. Each one keeps its data as a table (``table()``), which
is also its plain-text form: what a terminal shows, and what nbval compares. nbval never compares
an ``image/png`` output (its ``skip_compare`` lists ``image/png`` and ``image/jpeg`` unless
``--nbdime`` is given), so the picture's pixels may differ between matplotlib versions without
failing the workbook, while the text, which says the same thing, is checked exactly.

matplotlib (and Pillow, which it brings, to keep the PNG small) is imported only here and in the
drawing methods, when a picture is first shown: a lesson that draws nothing does not pay for it,
and the engine never imports it.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import SetupError
from ._display import LabTable

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["COLOURS", "DPI", "Picture", "new_figure", "seq_label"]

# Okabe and Ito's colour-blind-safe palette: one colour per outcome, the same in every picture.
COLOURS = {
    "success": "#009E73",
    "error": "#D55E00",
    "partial failure": "#E69F00",
    "discarded": "#999999",
    "truth": "#000000",
    "series": ("#CC79A7", "#0072B2", "#E69F00", "#56B4E9", "#009E73"),
    "band": "#56B4E9",
}
DPI = 100  # a figure's dots per inch while it is laid out
_SHOWN = 120  # screen pixels per inch of figure in JupyterLab: 7-point text is 12 pixels high
_SCALE = 2  # drawn at twice DPI, so it stays sharp on a high-density screen
_COLOURS = 48  # a picture's palette: its few colours and their anti-aliased edges


def seq_label(sequence_number: str) -> str:
    """A record's short label: ``#`` and its sequence number without the leading zeros
    (``'000000000000000000023'`` is ``#23``); past five digits, ``#…`` and its last four."""
    digits = sequence_number.lstrip("0") or "0"
    return f"#{digits}" if len(digits) <= 5 else f"#…{digits[-4:]}"


def new_figure(width: float, height: float) -> Figure:
    """A matplotlib Figure of that size in inches, with no pyplot state behind it."""
    try:
        from matplotlib.figure import Figure
    except ImportError as missing:
        raise SetupError(
            f"labkit draws its pictures with matplotlib, which is not installed ({missing}).",
            "install labkit's dependencies: `make setup`, or `pip install -e .` in the project.",
        ) from missing
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _png(figure: Figure) -> bytes:
    """The figure as a PNG of at most ``_COLOURS`` colours (a fifth of the bytes of a full-colour
    one, which matters in a notebook kept in git) with no date or version in it."""
    from PIL import Image

    drawn = io.BytesIO()
    figure.savefig(
        drawn, format="png", dpi=DPI * _SCALE, metadata={"Software": None}, facecolor="white"
    )
    drawn.seek(0)
    image = Image.open(drawn).convert("RGB")
    fewer = image.quantize(_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    fewer.save(out, format="PNG", optimize=True)
    return out.getvalue()


class Picture:
    """A picture of a run: a PNG in JupyterLab, its table as text in a terminal and under nbval.

    Subclasses give ``title``, ``table()`` and ``figure()``.
    """

    title: str

    def table(self) -> LabTable:
        raise NotImplementedError

    def figure(self) -> Figure:
        raise NotImplementedError

    def text(self) -> str:
        """The picture as text: its title, then its data as a table."""
        return f"{self.title}\n{self.table()!r}"

    def png(self) -> bytes:
        """The picture as PNG bytes (the same bytes for the same data: no date in them)."""
        return _png(self.figure())

    def save(self, path: str | Path) -> Path:
        """Write the picture to a PNG file; returns its path."""
        path = Path(path)
        path.write_bytes(self.png())
        return path

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, str], dict[str, Any]]:
        figure = self.figure()
        width, height = figure.get_size_inches()
        data = {
            "image/png": base64.b64encode(_png(figure)).decode("ascii"),
            "text/plain": self.text(),
        }
        size = {"width": round(width * _SHOWN), "height": round(height * _SHOWN)}
        return data, {"image/png": size}

    def __repr__(self) -> str:
        return self.text()
