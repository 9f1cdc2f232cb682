"""A headless Chromium for tests: Debian's system browser driven by Playwright's Python API.

Never ``playwright install`` (it downloads a browser): the tests use the
system Chromium (``apt-get install chromium``; ``.ci/run`` installs it) and
skip with the reason when it or the Playwright package is missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """The system Chromium: $LOSSCLI_CHROMIUM, a Debian path, or chromium on PATH."""
    override = os.environ.get("LOSSCLI_CHROMIUM")
    if override:
        return override if os.path.exists(override) else None
    for path in CHROMIUM_CANDIDATES:
        if os.path.exists(path):
            return path
    return shutil.which("chromium") or shutil.which("chromium-browser")


def skip_reason() -> str | None:
    """Why browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Playwright Python package is not installed (pip install '.[test]')"
    if chromium_path() is None:
        return (
            "no system Chromium (apt-get install chromium; .ci/run installs it); "
            "the tests never download a browser"
        )
    return None


@dataclass
class PageVisit:
    """What happened while a page was open: requests seen, console errors, dialogs."""

    page: Any
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


class Browser:
    """One Chromium for the session; ``visit`` opens a local file with every request watched."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._manager = sync_playwright()
        self._playwright = self._manager.start()
        self._browser = self._playwright.chromium.launch(
            executable_path=chromium_path(), args=LAUNCH_ARGS, headless=True
        )

    def close(self) -> None:
        self._browser.close()
        self._manager.__exit__(None, None, None)

    def visit(self, path: Path, width: int = 1280, height: int = 900) -> Iterator[PageVisit]:
        """Open ``path``: only the file itself may load; every other request is aborted."""
        context = self._browser.new_context(
            viewport={"width": width, "height": height}, java_script_enabled=True
        )
        page = context.new_page()
        visit = PageVisit(page)
        url = path.resolve().as_uri()

        def route(route: Any) -> None:
            visit.requests.append(route.request.url)
            if route.request.url == url:
                route.continue_()
            else:
                route.abort()

        page.route("**/*", route)
        page.on(
            "console",
            lambda m: visit.console_errors.append(m.text) if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: visit.console_errors.append(str(e)))

        def on_dialog(d: Any) -> None:
            visit.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", on_dialog)
        page.goto(url, wait_until="load")
        try:
            yield visit
        finally:
            context.close()
