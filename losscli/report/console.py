"""The one place rich Consoles are built (markup off for user strings, NO_COLOR respected)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def make_console(stderr: bool = False) -> Console:
    """A Console writing to stdout (data) or stderr (diagnostics).

    Width follows the terminal (80 when not a terminal, or $COLUMNS); colour is
    off under NO_COLOR or when the stream is not a terminal. Markup and
    highlighting are off so that user-supplied names print literally.
    """
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    width = None
    if not is_tty:
        try:
            width = int(os.environ.get("COLUMNS", "")) or 80
        except ValueError:
            width = 80
    return Console(
        file=stream,
        width=width,
        markup=False,
        highlight=False,
        emoji=False,
        no_color=bool(os.environ.get("NO_COLOR")) or not is_tty,
        force_terminal=None if is_tty else False,
        soft_wrap=False,
    )
