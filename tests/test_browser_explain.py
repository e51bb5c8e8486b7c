"""The explain panel in a real browser: opened, it explains the landing plot's step, and it follows a slider."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser_util import SLOW, open_app, set_number

pytest_plugins = ["tests.browser_util"]  # fixtures: browser, served

pytestmark = [pytest.mark.browser, pytest.mark.model]


def test_the_explain_panel_gives_formulas_and_live_numbers(browser, served):
    page = open_app(browser, served, {"width": 1366, "height": 768})
    try:
        text = page.locator("#explain-text")
        page.locator("#explain").get_by_text(re.compile("^Explain")).click()
        expect(text).to_contain_text("Off or not in the chain now", timeout=SLOW)  # the landing example, defaults
        expect(text).to_contain_text("top_p")
        set_number(page, "top_k", 7)
        expect(text).to_contain_text(re.compile(r"top-k \(top_k = 7\).*kept 7 of 49152 tokens"), timeout=SLOW)
        expect(text).to_contain_text("keep i if rank(i) ≤ k")  # the formula, as math
    finally:
        page.context.close()
