"""The page in Chinese in a real browser: a browser whose language is zh-CN gets Chinese labels, help, a Chinese
status after a reply and Chinese plot labels; on an English browser the switch (English · 中文) turns the page
Chinese and back, and remembers the choice (a cookie the handlers read too)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser_util import SLOW, open_app, send_message, set_number, wait_kept

pytest_plugins = ["tests.browser_util"]  # fixtures: browser, served

pytestmark = [pytest.mark.browser, pytest.mark.model]
PLOT_JS = """() => { const el = document.querySelector('#plot .js-plotly-plot');
  return el && el.layout ? {y: el.layout.yaxis.title.text, y2: el.layout.yaxis2.title.text, names: el.data.map(d => d.name)}
                         : null; }"""


def test_a_chinese_browser_gets_the_page_in_chinese(browser, served):
    page = open_app(browser, served, locale="zh-CN")
    try:
        expect(page.locator("#send")).to_have_text("发送")
        expect(page.locator("#intro")).to_contain_text("采样游乐场")
        expect(page.locator("#param-top_p")).to_contain_text("核采样")  # the parameter's help
        expect(page.locator("#param-top_p")).to_contain_text("top_p")  # its name stays as it is
        expect(page.locator("#group-penalties")).to_contain_text("惩罚")
        expect(page.locator("#plot")).to_contain_text("下一个 token 的分布")
        wait_kept(page, "n > 0")
        plot = page.evaluate(PLOT_JS)
        assert plot["y"] == "概率" and plot["y2"] == "累积" and {"保留", "累积概率"} <= set(plot["names"]), plot
        expect(page.locator("#plot-note")).to_contain_text("个 token 中有")
        set_number(page, "max_new_tokens", 6)
        send_message(page, "Hi")
        ended = re.compile(r"(length: 达到 max_new_tokens|eos: 模型结束了它的回合) · \d+ 个 token · ")
        expect(page.locator("#status")).to_have_text(ended, timeout=SLOW)
        expect(page.locator("#status")).to_contain_text("token/秒")
        expect(page.locator("#reply-tokens")).to_contain_text("颜色 = token 被选中时的概率")
    finally:
        page.context.close()


def test_the_switch_turns_an_english_page_chinese_and_back(browser, served):
    page = open_app(browser, served)
    try:
        expect(page.locator("#send")).to_have_text("Send")  # an English browser: the page as it always was
        expect(page.locator("#plot-note")).to_contain_text("tokens survive the chain")
        page.locator("#lang-switch a[data-lang=zh]").click()
        expect(page.locator("#send")).to_have_text("发送")
        expect(page.locator("#plot-note")).to_contain_text("个 token 中有")  # the handlers' text follows the choice
        assert "playground_lang=zh" in page.evaluate("document.cookie")
        page.reload()  # remembered
        expect(page.locator("#send")).to_have_text("发送")
        page.locator("#lang-switch a[data-lang=en]").click()
        expect(page.locator("#send")).to_have_text("Send")
        expect(page.locator("#plot-note")).to_contain_text("tokens survive the chain")
    finally:
        page.context.close()
