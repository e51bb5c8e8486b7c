"""The peers' samplers in a real browser: their group of sliders, their colour on the plot with a legend
entry of their own, DRY's breakers shown at their default, and an out-of-range value named in the note."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from playground.params import SPECS
from playground.stages import STAGES
from tests.browser_util import SLOW, bot_texts, kept_count, number_box, open_group, send_message, set_number, wait_kept

pytest_plugins = ["tests.browser_util"]  # fixtures: browser, served, page

pytestmark = [pytest.mark.browser, pytest.mark.model]

TRACE_JS = "() => document.querySelector('#plot .js-plotly-plot').data.map(d => [d.name, d.marker && d.marker.color])"


def test_more_samplers_group_plot_and_messages(page):
    group = [n for n, s in SPECS.items() if s.group == "More samplers"]
    open_group(page, group[0])
    for name in group:  # one control each, generated from SPECS
        expect(page.locator(f"#param-{name}")).to_be_visible()
    breakers = page.locator("#param-dry_sequence_breakers textarea")
    assert json.loads(breakers.input_value()) == list(SPECS["dry_sequence_breakers"].default)

    set_number(page, "max_new_tokens", 2)
    send_message(page, "Name a colour.")
    expect(page.locator("#status")).to_contain_text(re.compile(r"(eos|stop|length): [a-z_ ]+ · \d+ tokens"), timeout=SLOW)
    assert bot_texts(page)
    wait_kept(page, "n > 1")

    set_number(page, "top_n_sigma", 0.3)  # a tight cut: few of the shown bars survive
    wait_kept(page, "n >= 1")
    page.wait_for_function("() => document.querySelector('#plot .js-plotly-plot').data"
                           ".some(d => d.name === 'removed by top-n-sigma')", timeout=SLOW)
    colours = dict(page.evaluate(TRACE_JS))
    assert colours["removed by top-n-sigma"] == STAGES["top_n_sigma"].color
    expect(page.locator("#plot .figure-legend button").filter(has_text="removed by top-n-sigma")).to_have_count(1)
    kept = kept_count(page)

    set_number(page, "xtc_threshold", 1.5, holds=False)  # out of range: the note names the field; the slider puts it back
    expect(page.locator("#plot-note")).to_contain_text(re.compile(r"xtc_threshold\W* must be in \[0, 1\], but is 1\.5"),
                                                       timeout=SLOW)
    expect(number_box(page, "xtc_threshold")).to_have_value("1")
    assert kept_count(page) == kept  # XTC stays off (no probability), the plot is the same
    page.locator("#reset").click()
    expect(number_box(page, "top_n_sigma")).to_have_value("0")
