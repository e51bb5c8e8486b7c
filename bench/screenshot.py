"""The README's screenshots: the real app in headless Debian chromium, after a real reply or as it opens.

Serves the app in-process (bundled model, app.py's theme and CSS), picks the llama.cpp-defaults
preset (so the plot shows tokens removed by top-k and min-p), asks one question with a fixed seed,
waits for the reply and the plot of its first token, and saves the full page. `--landing` saves the
page as a visitor first sees it (the example's plot drawn, nothing sent); `--viewport`, `--no-full-page`
(only what the window shows), `--scroll-to` (an element scrolled to the top first) and `--dark` (the
dark theme) make the other screenshots.

    python bench/screenshot.py                 # writes assets/screenshot.png
    python bench/screenshot.py --out /tmp/s.png --tokens 60
    python bench/screenshot.py --landing --viewport 1366x768 --no-full-page --out assets/first-screen.png
    python bench/screenshot.py --landing --viewport 390x844 --no-full-page --scroll-to '#plot' --out assets/phone.png
    python bench/screenshot.py --landing --viewport 1366x768 --no-full-page --dark --out assets/dark.png
    python bench/screenshot.py --landing --viewport 1366x768 --no-full-page --locale zh-CN --out assets/zh.png
    python bench/screenshot.py --remote openai --viewport 1366x768 --no-full-page --tokens 24 --out assets/remote.png

`--remote KIND` shows the page on a remote backend (`app.py --backend openai --server-kind KIND`) pointed at
this playground's own OpenAI-compatible API on loopback (kind `openai`: top_k and min_p show greyed).
`--locale zh-CN` is a browser whose language is Chinese (the page follows it; chromium needs a CJK font).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from playground import loader  # noqa: E402
from playground.engine import Engine  # noqa: E402
from tests import browser_util as bu  # noqa: E402

QUESTION = "Name three colours and say in one line why each is special."


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "assets" / "screenshot.png"))
    ap.add_argument("--tokens", type=int, default=48, help="max_new_tokens of the reply")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--preset", default="llamacpp-defaults")
    ap.add_argument("--landing", action="store_true", help="the page as it opens: no preset, nothing sent")
    ap.add_argument("--viewport", default=None, help="WIDTHxHEIGHT of the window (default: the tests' 1400x1000)")
    ap.add_argument("--no-full-page", dest="full_page", action="store_false", help="only what the window shows")
    ap.add_argument("--scroll-to", default=None, help="a CSS selector scrolled to the top of the window first")
    ap.add_argument("--dark", action="store_true", help="the dark theme (?__theme=dark)")
    ap.add_argument("--locale", default=None, help="the browser's language, e.g. zh-CN (the page follows it)")
    ap.add_argument("--remote", metavar="KIND", default=None, help="the page on a remote backend told this server kind")
    args = ap.parse_args(argv)
    width, _, height = (args.viewport or "").partition("x")
    viewport = {"width": int(width), "height": int(height)} if args.viewport else None

    engine = Engine(loader.load(dtype="float32"))
    demo, url = remote(engine, args.remote) if args.remote else bu.serve(engine)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=bu.CHROMIUM, args=bu.CHROMIUM_ARGS)
            page = bu.open_app(browser, url + ("?__theme=dark" if args.dark else ""), viewport, args.locale)
            if args.remote:
                ask(page, args)
                page.wait_for_function("() => (document.querySelector('#plot .js-plotly-plot') || {}).data")
            else:
                if not args.landing:
                    reply(page, args)
                bu.wait_kept(page, "n > 0")
            page.wait_for_function("() => !document.querySelector('.pending, .generating')")
            page.wait_for_timeout(600)  # the fade-out of the last update's loading status (a picture, not a test)
            page.mouse.move(0, 0)
            if args.scroll_to:
                page.locator(args.scroll_to).evaluate("el => el.scrollIntoView({block: 'start'})")
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out, full_page=args.full_page)
            print(f"wrote {args.out}: {page.locator('#status').inner_text().strip()}")
            browser.close()
    finally:
        demo.close()


class Both:
    """The playground's API and the remote page pointed at it, closed together."""

    def __init__(self, *served):
        self.served = served

    def close(self) -> None:
        for s in reversed(self.served):
            s.close()


def remote(engine, kind: str):
    """(servers, url): this playground's API on loopback, and the page on a remote backend pointed at it."""
    from fastapi import FastAPI

    from playground import api
    from playground.remote import OpenAIBackend
    from playground.ui.remote_page import build_remote_app
    from playground.ui.server import Served

    app = FastAPI()
    app.include_router(api.router(engine))
    server = Served(app, None, port=bu.free_port()).start()
    page = Served(*build_remote_app(OpenAIBackend.connect(server.url + "v1", kind=kind)), port=bu.free_port()).start()
    return Both(server, page), page.url


def ask(page, args) -> None:
    """One question with a fixed seed, answered."""
    bu.set_number(page, "max_new_tokens", args.tokens)
    bu.set_number(page, "seed", args.seed)
    bu.send_message(page, QUESTION)
    expect(page.locator("#status")).to_contain_text("tokens/s", timeout=bu.SLOW)
    page.evaluate("window.scrollTo(0, 0)")


def reply(page, args) -> None:
    """The preset, then one question with a fixed seed, answered."""
    page.locator("#preset input").click()
    page.get_by_role("option", name=args.preset, exact=True).click()
    expect(page.locator("#preset-info")).to_contain_text(args.preset)
    bu.set_number(page, "max_new_tokens", args.tokens)
    bu.set_number(page, "seed", args.seed)
    expect(bu.number_box(page, "seed")).to_have_value(str(args.seed))
    bu.send_message(page, QUESTION)
    expect(page.locator("#status")).to_have_text(re.compile(r"^\s*(eos|stop|length): "), timeout=bu.SLOW)


if __name__ == "__main__":
    main()
