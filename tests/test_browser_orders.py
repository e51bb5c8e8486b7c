"""A custom sampler order typed into the sampler_order dropdown, in a real browser: the plot follows it, and a
bad stage name is named in the note with the closest stage."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from playground.ui.controls import SAMPLER_ORDERS
from tests.browser_util import SLOW, open_group, set_number, wait_kept

pytest_plugins = ["tests.browser_util"]  # fixtures: browser, served, page

pytestmark = [pytest.mark.browser, pytest.mark.model]


def type_order(page, text: str) -> None:
    open_group(page, "sampler_order")
    box = page.locator("#param-sampler_order input")
    box.fill(text)
    box.press("Enter")
    box.blur()


def test_a_typed_order_moves_the_plot_and_a_bad_one_is_named(page):
    set_number(page, "temperature", 3)
    set_number(page, "min_p", 0.2)
    flattened_first = wait_kept(page, "n > 1")  # the default order: temperature flattens, then min-p cuts
    type_order(page, "min_p,temperature")  # min-p judges the model's own distribution: fewer survive
    wait_kept(page, f"n >= 1 && n < {flattened_first}")
    type_order(page, "top_kk,temperature")
    expect(page.locator("#plot-note")).to_contain_text(re.compile(r"sampler_order\W* must be one of .* but 'top_kk' is not "
                                                                  r"a stage\. Did you mean 'top_k'\?"), timeout=SLOW)
    type_order(page, "transformers")
    assert wait_kept(page, f"n === {flattened_first}") == flattened_first


def pick_stage(page, stage: str) -> None:
    open_group(page, "sampler_order")
    page.locator("#order-stage input").click()
    page.get_by_role("option", name=re.compile(rf"^{stage} \("), exact=False).click()


def test_the_buttons_move_a_stage_and_the_plot_follows(page):
    set_number(page, "temperature", 3)
    set_number(page, "min_p", 0.2)
    flattened_first = wait_kept(page, "n > 1")  # the default order: temperature flattens, then min-p cuts
    pick_stage(page, "temperature")
    expect(page.locator("#order-list b")).to_have_text("2. temperature")
    for _ in range(5):  # past dynatemp, smoothing, top_k, top_p and min_p
        page.locator("#order-down").click()
    expect(page.locator("#order-list b")).to_have_text("7. temperature", timeout=SLOW)
    expect(page.locator("#param-sampler_order input")).to_have_value("top_n_sigma,dynatemp,smoothing,top_k,top_p,min_p",
                                                                     timeout=SLOW)  # as a preset stores it: the rest as usual
    wait_kept(page, f"n >= 1 && n < {flattened_first}")  # min-p now judges the model's own distribution
    for _ in range(5):  # and back: the named order again, and the plot as it was
        page.locator("#order-up").click()
    expect(page.locator("#param-sampler_order input")).to_have_value(SAMPLER_ORDERS["transformers"], timeout=SLOW)
    assert wait_kept(page, f"n === {flattened_first}") == flattened_first
