"""Browser test helpers: the real demo served in-process, a headless Debian chromium, page actions.

Fixtures (import them into a test module, or list this module in `pytest_plugins`):
`browser` (session: one chromium, driven by Python playwright), `served` (module: the real app on a
free port, served as app.py serves it, presets from the shipped folder), `page` (module: a page
with the app loaded and its first plot drawn). Chromium is Debian's /usr/bin/chromium and is never
downloaded; when it is missing the fixture fails (not skips) and says how to install it.

Helpers that read the page: `kept_count(page)` reads the Plotly figure's data from the DOM (the
`.js-plotly-plot` element keeps it as `el.data`), `set_number(page, name, value)` types into a
parameter's number box, `bot_texts(page)` returns the assistant messages' text.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PLAYGROUND_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1400, "height": 1000}
SLOW = 120_000  # ms: the machine is small and shared; replies and first loads can be slow


def _patient_expect() -> None:
    """Every `expect` waits up to SLOW (playwright's default is 5 s: a busy 2-core machine misses it)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=SLOW)


_patient_expect()

# The kept bars' count, from the figure Plotly drew (the "kept" trace's x values). -1: no figure yet.
KEPT_JS = """() => {
  const el = document.querySelector('#plot .js-plotly-plot');
  if (!el || !el.data) return -1;
  const t = el.data.find(d => (d.legendgroup || d.name) === 'kept');  // legendgroup: the fate, in any language
  return t ? t.x.length : 0;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_chromium(playwright):
    """Debian's chromium through playwright; a clear failure (never a download) when it is missing."""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        hint = f" (a chromium is on PATH at {found}; set PLAYGROUND_CHROMIUM to use it)" if found else ""
        pytest.fail(f"Browser tests need Debian's chromium at {CHROMIUM}, which is missing{hint}. "
                    "Install it with `sudo apt-get install -y chromium` (scripts/test.sh does this via scripts/setup.sh --dev).",
                    pytrace=False)
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def serve(engine, presets_folder=None, limits=None):
    """(demo, url): the real app launched in-process on a free port, styled as app.py serves it."""
    from playground import presets
    from playground.ui.layout import LAUNCH, build_demo

    demo = build_demo(engine, presets_folder=presets_folder or presets.PRESETS_DIR, limits=limits)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, show_error=True, **LAUNCH)
    return demo, f"http://127.0.0.1:{port}/"


def open_app(browser, url: str, viewport: dict | None = None, locale: str | None = None):
    """A new page on the app (`VIEWPORT` unless given; the browser's language `locale`, e.g. "zh-CN", when given),
    once the first plot (or the empty-chat note) is on the page."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=viewport or VIEWPORT, **({"locale": locale} if locale else {}))
    context.set_default_timeout(SLOW)
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    expect(page.locator("#send")).to_be_visible(timeout=SLOW)
    expect(page.locator("#plot-note")).not_to_be_empty(timeout=SLOW)
    return page


# --- fixtures ----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def served(engine, tmp_path_factory):
    """The URL of the real app; presets are a copy of the shipped folder (so saving one is harmless)."""
    from playground import presets

    folder = tmp_path_factory.mktemp("presets")
    for f in presets.PRESETS_DIR.glob("*.yaml"):
        shutil.copy(f, folder)
    demo, url = serve(engine, folder)
    try:
        yield url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def page(browser, served):
    p = open_app(browser, served)
    try:
        yield p
    finally:
        p.context.close()


# --- page actions --------------------------------------------------------------------------------------
def number_box(page, name: str):
    """The number input of parameter `name`'s slider (or its Number control)."""
    return page.locator(f"#param-{name} input[type=number]")


def open_group(page, name: str) -> None:
    """Open the accordion that holds parameter `name` (closed accordions render their controls lazily)."""
    from playground.params import SPECS

    group = page.locator(f"#group-{SPECS[name].group.lower().replace(' ', '-')}")
    if not group.locator("[data-testid='accordion-content']").is_visible():
        group.locator("button.label-wrap").first.click()
    page.locator(f"#param-{name}").wait_for(state="visible")


def set_number(page, name: str, value, holds: bool = True) -> None:
    """Type `value` into the parameter's number box and commit it (Enter, then leave the box).

    `holds`: the box must then show `value`. On a page's first visit a control in a lazily opened group can get its
    initial value after it shows, undoing what was typed (seen in CI: a reply sent with the default max_new_tokens),
    so the value is read back, and typed again when it did not hold. Pass False for a value the slider refuses and
    puts back (an out-of-range one): the test then checks what the page did."""
    from playwright.sync_api import expect

    open_group(page, name)
    box = number_box(page, name)
    for _ in range(4 if holds else 1):
        box.fill(str(value))
        box.press("Enter")
        box.blur()
        if not holds:
            return
        try:
            expect(box).to_have_value(str(value), timeout=2_000)
            return
        except AssertionError:
            continue
    expect(box).to_have_value(str(value))


def kept_count(page) -> int:
    return page.evaluate(KEPT_JS)


def wait_kept(page, predicate_js: str, timeout: int = SLOW) -> int:
    """Wait until `predicate_js` (an expression in `n`, the kept count) holds; return the count."""
    page.wait_for_function(f"() => {{ const n = ({KEPT_JS})(); return n >= 0 && ({predicate_js}); }}", timeout=timeout)
    return kept_count(page)


def bot_messages(page):
    return page.locator("#chat [data-testid='bot']")


def bot_texts(page) -> list[str]:
    return [t.strip() for t in bot_messages(page).all_inner_texts()]


def send_message(page, text: str) -> None:
    page.locator("#msg textarea").fill(text)
    page.locator("#send").click()
