"""Presenter mode in a real browser: `?presenter=1&controls=...` gives large type, a taller plot and only the
picked controls; the toggle turns it off again and every control comes back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser_util import SLOW, open_app

pytest_plugins = ["tests.browser_util"]  # fixtures: browser, served

pytestmark = [pytest.mark.browser, pytest.mark.model]
PLOT_HEIGHT_JS = "() => { const el = document.querySelector('#plot .js-plotly-plot'); return el && el.layout.height; }"


def test_presenter_mode_from_the_address_and_the_toggle(browser, served):
    page = open_app(browser, served + "?presenter=1&controls=temperature,top_p", {"width": 1920, "height": 1080})
    try:
        page.wait_for_function("() => document.body.classList.contains('presenter')", timeout=SLOW)
        expect(page.locator("#param-temperature")).to_be_visible()
        expect(page.locator("#param-top_p")).to_be_visible()
        for hidden in ("#param-top_k", "#param-min_p", "#caps", "#group-penalties", "#group-export"):
            expect(page.locator(hidden)).to_be_hidden()
        page.wait_for_function(f"() => ({PLOT_HEIGHT_JS})() >= 700", timeout=SLOW)  # 72% of 1080, not 440
        size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('#send')).fontSize)")
        assert size >= 22, size  # large type (the theme gives the Send button 16 px)
        page.locator("#presenter input[type=checkbox]").uncheck()
        page.wait_for_function("() => !document.body.classList.contains('presenter')", timeout=SLOW)
        expect(page.locator("#param-top_k")).to_be_visible()
        expect(page.locator("#caps")).to_be_visible()
        page.wait_for_function(f"() => ({PLOT_HEIGHT_JS})() === 440", timeout=SLOW)
    finally:
        page.context.close()
