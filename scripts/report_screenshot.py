"""Make the README's screenshot of a ``loss report`` page from the shipped sample data.

    python scripts/report_screenshot.py            # writes docs/report-screenshot.png

Builds the report of ``sample_data/regression_outliers.csv`` (two models,
grouped by segment) with a fixed date, opens it in the system Chromium through
Playwright (``apt-get install chromium``; never ``playwright install``) and
saves the top of the page at 1000 px wide as a palette PNG (small enough for a
repository: under 300 KB).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import LAUNCH_ARGS, chromium_path  # noqa: E402

COMMAND = [
    "report",
    "sample_data/regression_outliers.csv",
    "--pred-col",
    "y_pred",
    "--pred-col",
    "model_b",
    "-o",
    "-",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "report-screenshot.png"))
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--height", type=int, default=1500, help="Height of the clip (px).")
    args = parser.parse_args()

    browser_path = chromium_path()
    if browser_path is None:
        sys.exit("no system Chromium: apt-get install chromium")
    from PIL import Image
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        page_path = Path(tmp) / "report.html"
        env = dict(os.environ, SOURCE_DATE_EPOCH="1767225600")  # a fixed date on the page
        page = subprocess.run(
            [sys.executable, "-m", "losscli", *COMMAND],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        ).stdout
        page_path.write_bytes(page)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=browser_path, args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            url = page_path.resolve().as_uri()
            page.route("**/*", lambda r: r.continue_() if r.request.url == url else r.abort())
            page.goto(url)
            png = page.screenshot(full_page=False)
            browser.close()
    image = Image.open(io.BytesIO(png)).convert("RGB")
    # 64 colours keep text and charts crisp at a fraction of the size.
    small = image.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    small.save(out, optimize=True)
    print(f"{out} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
