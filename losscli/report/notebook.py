"""Result objects in Jupyter and rich: an HTML table, and the terminal table as a renderable.

Both show what the command line shows, formatted the same way
(:func:`~losscli.report.format.fmt_number`); nothing here computes. User strings
(columns, models, groups, classes, notes) show control characters and bidi overrides
as the terminal and the report page show them (:func:`~losscli.report.console.safe`),
then are HTML-escaped.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from losscli.report.console import safe
from losscli.report.format import fmt_number, fmt_params

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

# Rows shown in a notebook before the rest is summarised (to_pandas() has them all).
HTML_MAX_ROWS = 200


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return fmt_number(value)
    if isinstance(value, Mapping):
        return fmt_params(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def _text(text: str) -> str:
    """A string as the notebook shows it: visible escapes first, then HTML escaping."""
    return html.escape(safe(text))


def html_table(
    title: str,
    facts: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    notes: Sequence[str] = (),
) -> str:
    """A self-contained HTML block: a title, one line of facts, the rows, then notes.

    Every text on it goes through :func:`_text`: a model named ``m``, right-to-left
    override, ``evil`` shows as ``m\\u202eevil``, an ESC as ``\\x1b``, a newline as
    ``\\n``, as ``loss compute`` prints them.
    """
    out = ['<div class="losscli-result">', f"<strong>{_text(title)}</strong>"]
    if facts:
        out.append(f"<p><small>{_text(' · '.join(facts))}</small></p>")
    out.append("<table>")
    out.append("<thead><tr>" + "".join(f"<th>{_text(c)}</th>" for c in columns) + "</tr></thead>")
    out.append("<tbody>")
    for row in rows[:HTML_MAX_ROWS]:
        cells = []
        for c in columns:
            value = row.get(c)
            align = ' style="text-align:right"' if isinstance(value, (int, float)) else ""
            cells.append(f"<td{align}>{_text(_cell(value))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    if len(rows) > HTML_MAX_ROWS:
        out.append(
            f"<p><small>{len(rows) - HTML_MAX_ROWS:,} more rows: use .to_pandas()</small></p>"
        )
    for note in notes:
        out.append(f"<p><small>{_text(note)}</small></p>")
    out.append("</div>")
    return "\n".join(out)


class RichView:
    """A rich renderable that draws a report as ``loss ... --format table`` does."""

    def __init__(self, draw: Callable[[Console], None]) -> None:
        self.draw = draw

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.console import Console as RichConsole
        from rich.text import Text

        buffer = io.StringIO()
        inner = RichConsole(
            file=buffer,
            width=options.max_width,
            markup=False,
            highlight=False,
            emoji=False,
            force_terminal=console.is_terminal,
            color_system=console.color_system,  # type: ignore[arg-type]
            no_color=console.no_color,
            soft_wrap=False,
        )
        self.draw(inner)
        yield Text.from_ansi(buffer.getvalue().rstrip("\n"), no_wrap=True)
