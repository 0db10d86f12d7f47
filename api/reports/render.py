"""HTML to PDF: the reports' Jinja2 templates (autoescaped) and WeasyPrint.

WeasyPrint takes about 2 s to import on these machines: it is imported on the first render,
never at import time, so ``rwa`` and the API start as fast as before.

A report is a function of its data: every page is dated by the data's as-of time, not by the
clock, and the PDF carries no creation date, so the same data renders to the same bytes
(what ``rwa report`` writes is what the API serves, and the API may keep a rendered report
until the data changes).
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

#: Autoescaped: asset names, portfolio names and notes come from data and from users.
ENVIRONMENT = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

STYLESHEET = TEMPLATES_DIR / "report.css"

# WeasyPrint's first import in two threads at once can see a half-initialised module.
_IMPORT_LOCK = threading.Lock()
#: Per thread: WeasyPrint's font configuration (Pango's font map, not meant to be shared
#: between threads) and the stylesheet parsed once: made anew for every PDF they took a
#: quarter of a report's time.
_PER_THREAD = threading.local()


def _fmt_time(value: dt.datetime | None) -> str:
    return "n/a" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _fmt_number(value: float | int | Decimal | None, digits: int = 2) -> str:
    """Thousands separated, ``digits`` decimals (none where the value is large)."""
    if value is None:
        return "n/a"
    if isinstance(value, int) or abs(float(value)) >= 100_000:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _fmt_quantity(value: Decimal) -> str:
    """An exact quantity as held: every significant decimal, none made up (1.5, not 1.50)."""
    return f"{value.normalize():,f}"


def _fmt_flag(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _fmt_pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:+.{digits}f}%"


def _fmt_measured(value: float | str | bool | None) -> str:
    """A risk factor's value: flags as yes/no, numbers to 4 significant digits."""
    if value is None or isinstance(value, bool):
        return _fmt_flag(value) if value is not None else "n/a"
    if isinstance(value, float | int):
        return f"{value:,.4g}"
    return value


ENVIRONMENT.filters.update(
    when=_fmt_time,
    number=_fmt_number,
    flag=_fmt_flag,
    pct=_fmt_pct,
    measured=_fmt_measured,
    quantity=_fmt_quantity,
)


class ReportData(Protocol):
    """What every report's frame shows on each page, beside its title."""

    @property
    def as_of(self) -> dt.datetime | None: ...

    @property
    def model_versions(self) -> list[tuple[str, str]]: ...


def render_html(template: str, data: ReportData, figures: dict[str, str], **context: Any) -> str:
    """The report's HTML: ``template`` (under ``templates/``) with ``data`` (also as its
    ``as_of`` and ``model_versions``), the ``figures`` (chart name -> SVG ``data:`` URI) and
    ``context``."""
    return ENVIRONMENT.get_template(template).render(
        data=data,
        as_of=data.as_of,
        model_versions=data.model_versions,
        figures=figures,
        **context,
    )


def html_to_pdf(html: str) -> bytes:
    """The PDF of ``html`` with the reports' stylesheet."""
    with _IMPORT_LOCK:
        from weasyprint import CSS, HTML  # 2 s to import: only when rendering
        from weasyprint.text.fonts import FontConfiguration

    fonts = getattr(_PER_THREAD, "fonts", None)
    if fonts is None:
        fonts = _PER_THREAD.fonts = FontConfiguration()
        _PER_THREAD.css = CSS(filename=str(STYLESHEET), font_config=fonts)
    document = HTML(string=html, base_url=str(TEMPLATES_DIR))
    pdf = document.write_pdf(stylesheets=[_PER_THREAD.css], font_config=fonts)
    if pdf is None:  # pragma: no cover - write_pdf without a target returns the bytes
        raise RuntimeError("WeasyPrint returned no PDF")
    return bytes(pdf)
