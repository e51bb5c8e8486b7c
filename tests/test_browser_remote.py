"""The page on a remote backend in a real browser: `--backend openai --server-kind openai` pointed at this playground's
own API on loopback (test_remote.py's server), served as app.py serves it (remote_page.build_remote_app).

A reply arrives and equals the local engine's for the same seed; the plot shows the server's 20 candidates for a
reply token under the label the server kind earns; top_k and min_p are greyed with the reason; the chain view says it
is unavailable; a click on a reply token plots that step. Every wait is a playwright expectation or
`wait_for_function` with the generous `SLOW` timeout; nothing sleeps.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from playground.backends import LocalBackend
from playground.params import build
from playground.remote import OpenAIBackend
from tests.browser_util import SLOW, bot_texts, free_port, open_app, send_message, set_number
from tests.test_remote import ASK, server  # noqa: F401 - the loopback API fixture

pytest_plugins = ["tests.browser_util"]  # fixtures: browser
pytestmark = [pytest.mark.browser, pytest.mark.model]

BARS_JS = """() => {
  const el = document.querySelector('#plot .js-plotly-plot');
  if (!el || !el.data) return -1;
  return el.data.filter(d => d.type === 'bar').reduce((n, d) => n + d.x.length, 0);
}"""
TITLE_JS = "() => { const el = document.querySelector('#plot .js-plotly-plot'); return el && el.layout.title.text; }"


@pytest.fixture(scope="module")
def remote_page(server, browser):  # noqa: F811
    import os

    from playground.ui.remote_page import build_remote_app
    from playground.ui.server import Served

    os.environ["TEST_BROWSER_REMOTE_KEY"] = "sesame"
    backend = OpenAIBackend.connect(server.url + "v1", kind="openai", api_key_env="TEST_BROWSER_REMOTE_KEY")
    served = Served(*build_remote_app(backend), port=free_port()).start()
    page = open_app(browser, served.url)
    try:
        yield page
    finally:
        page.context.close()
        served.close()
        del os.environ["TEST_BROWSER_REMOTE_KEY"]


def test_the_page_on_a_remote_server(remote_page, engine):
    page = remote_page
    # greyed with the reason, before anything is sent; the chain view says it is unavailable
    for name in ("top_k", "min_p"):
        expect(page.locator(f"#param-{name} input[type=number]")).to_be_disabled()
        expect(page.locator(f"#param-{name}")).to_contain_text("Not on this server: the server (OpenAI-compatible server) "
                                                                "does not take it.")
    expect(page.locator("#param-temperature input[type=number]")).to_be_enabled()
    expect(page.locator("#remote-unavailable")).to_contain_text("Unavailable on this remote backend: the chain view")
    assert "sesame" not in page.content()
    # a reply, the same as the local engine's for the same seed
    set_number(page, "max_new_tokens", 8)
    set_number(page, "seed", 5)
    expect(page.locator("#param-max_new_tokens input[type=number]")).to_have_value("8")
    send_message(page, ASK[0]["content"])
    expect(page.locator("#status")).to_contain_text("tokens/s", timeout=SLOW)
    *_, here = LocalBackend(engine).stream(ASK, build(seed=5, max_new_tokens=8))
    assert bot_texts(page)[-1] == here.text.strip()
    # the plot: step 1's 20 candidates under the label; the reply's tokens, coloured, one per step
    page.wait_for_function(f"() => ({BARS_JS})() === 20", timeout=SLOW)
    assert page.evaluate(TITLE_JS) == "Step 1: the server's top 20"
    expect(page.locator("#inspect-info")).to_contain_text("the server's top 20 (it does not say whether before or after "
                                                          "its samplers)")
    tokens = page.locator("#reply-tokens [data-step]")
    expect(tokens).to_have_count(len(here.token_ids))
    assert "background-color: hsl(" in tokens.nth(0).get_attribute("style")
    tokens.nth(1).click()
    page.wait_for_function(f"() => ({TITLE_JS})().startsWith('Step 2:')", timeout=SLOW)
    expect(page.locator("#plot-note")).to_contain_text("not drawn on a remote backend")
