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

pytest_plugins = ["tests.browser_util"]  # fixtures: browser, page
pytestmark = [pytest.mark.browser, pytest.mark.model]

BARS_JS = """() => {
  const el = document.querySelector('#plot .js-plotly-plot');
  if (!el || !el.data) return -1;
  return el.data.filter(d => d.type === 'bar').reduce((n, d) => n + d.x.length, 0);
}"""
TITLE_JS = "() => { const el = document.querySelector('#plot .js-plotly-plot'); return el && el.layout.title.text; }"


@pytest.fixture(scope="module")
def served(server):  # noqa: F811
    """The remote page's URL, served as app.py serves it, on this playground's own API as an "openai" server (in
    place of browser_util's local page: its `page` fixture opens this one)."""
    import os

    from playground.ui.remote_page import build_remote_app
    from playground.ui.server import Served

    os.environ["TEST_BROWSER_REMOTE_KEY"] = "sesame"
    backend = OpenAIBackend.connect(server.url + "v1", kind="openai", api_key_env="TEST_BROWSER_REMOTE_KEY")
    remote = Served(*build_remote_app(backend), port=free_port()).start()
    try:
        yield remote.url
    finally:
        remote.close()
        del os.environ["TEST_BROWSER_REMOTE_KEY"]


def test_the_page_on_a_remote_server(page, engine):
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
    # the sampling mode greys what it makes moot, as on the local page; what the server cannot take stays greyed
    page.locator("#param-do_sample input[type=checkbox]").uncheck()
    expect(page.locator("#param-top_p input[type=number]")).to_be_disabled()
    expect(page.locator("#param-top_p")).to_contain_text("Inactive: ")
    expect(page.locator("#param-top_k")).to_contain_text("Not on this server: the server (OpenAI-compatible server)")
    page.locator("#param-do_sample input[type=checkbox]").check()
    expect(page.locator("#param-top_p input[type=number]")).to_be_enabled()
    expect(page.locator("#param-top_k input[type=number]")).to_be_disabled()


def test_the_remote_page_in_chinese(served, browser):
    page = open_app(browser, served, locale="zh-CN")
    try:
        expect(page.locator("#send")).to_have_text("发送")
        expect(page.locator("#intro")).to_contain_text("它运行在远程服务器上（OpenAI 兼容服务器）")
        expect(page.locator("#remote-unavailable")).to_contain_text("在远程后端上不可用：采样器链视图和链表格")
        expect(page.locator("#param-top_k")).to_contain_text("此服务器上不可用：该服务器（OpenAI 兼容服务器）不接受这个参数。")
        expect(page.locator("#plot-note")).to_contain_text("发送一条消息：图中随后会按服务器报告的样子显示回复的每个 token")
        expect(page.locator("#caps")).to_contain_text("最多 64 条回复排队")
        expect(page.locator("#caps")).not_to_contain_text("提示词")
        set_number(page, "max_new_tokens", 4)
        send_message(page, ASK[0]["content"])
        expect(page.locator("#status")).to_contain_text("token/秒", timeout=SLOW)
        page.wait_for_function(f"() => ({TITLE_JS})() === '第 1 步：服务器给出的前 20 个 token'", timeout=SLOW)
        expect(page.locator("#plot-note")).to_contain_text("所以在远程后端上不绘制")
        page.locator("#param-do_sample input[type=checkbox]").uncheck()
        expect(page.locator("#param-top_p")).to_contain_text("未生效：")
    finally:
        page.context.close()
