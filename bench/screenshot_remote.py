"""The README's screenshot of the page on a remote backend (assets/remote.png): real servers, headless Debian chromium.

Serves this playground's own OpenAI-compatible API on loopback (the bundled model), points the remote page at it
(`--backend openai`, the server kind given: `openai` by default, so top_k and min_p show greyed), asks one question
with a fixed seed, waits for the reply and the plot of its first token, and saves the window at 1366x768.

    python bench/screenshot_remote.py                       # writes assets/remote.png
    python bench/screenshot_remote.py --kind playground --out /tmp/remote.png
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from fastapi import FastAPI  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from playground import api, loader  # noqa: E402
from playground.engine import Engine  # noqa: E402
from playground.limits import Limits  # noqa: E402
from playground.remote import OpenAIBackend  # noqa: E402
from playground.ui.remote_page import build_remote_app  # noqa: E402
from playground.ui.server import Served  # noqa: E402
from tests import browser_util as bu  # noqa: E402

QUESTION = "Name three colours and say in one line why each is special."


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "assets" / "remote.png"))
    ap.add_argument("--kind", default="openai", help="the server kind the page is told (openai, playground...)")
    ap.add_argument("--tokens", type=int, default=24)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    engine = Engine(loader.load(dtype="float32"))
    app = FastAPI()
    app.include_router(api.router(engine, Limits()))
    server = Served(app, None, port=bu.free_port()).start()
    page_server = Served(*build_remote_app(OpenAIBackend.connect(server.url + "v1", kind=args.kind)), port=bu.free_port()).start()
    try:
        with sync_playwright() as p:
            browser = bu.launch_chromium(p)
            page = bu.open_app(browser, page_server.url, {"width": 1366, "height": 768})
            bu.set_number(page, "max_new_tokens", args.tokens)
            bu.set_number(page, "seed", args.seed)
            bu.send_message(page, QUESTION)
            expect(page.locator("#status")).to_contain_text("tokens/s", timeout=bu.SLOW)
            page.wait_for_function("() => { const el = document.querySelector('#plot .js-plotly-plot'); return el && el.data; }")
            page.wait_for_function("() => !document.querySelector('.pending, .generating')")
            page.wait_for_timeout(600)  # the fade-out of the last update's loading status (a picture, not a test)
            page.mouse.move(0, 0)
            page.evaluate("window.scrollTo(0, 0)")
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out)
            print(f"wrote {args.out}: {page.locator('#status').inner_text().strip()}")
            browser.close()
    finally:
        page_server.close()
        server.close()


if __name__ == "__main__":
    main()
