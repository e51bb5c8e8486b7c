"""The first screen in a real browser at a workshop laptop's 1366x768: what is in view without scrolling,
Enter and Shift+Enter in the message box, a token click bringing its step into view, one numbering of
steps; and the plot on a phone (390 px): fewer bars, nothing over its title.

One page for the module, used in order (the first test needs the page as it opens); the phone has its own. Every wait is one of
playwright's auto-waiting expectations or `wait_for_function` with a generous timeout; nothing sleeps.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from playground.ui import examples
from tests.browser_util import SLOW, bot_messages, open_app, set_number, wait_kept

pytest_plugins = ["tests.browser_util"]  # fixtures: browser, served

pytestmark = [pytest.mark.browser, pytest.mark.model]

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
MAIN = ("do_sample", "temperature", "top_k", "top_p", "min_p")
# Where an element is in the window: its box, and whether all of it is inside the viewport.
BOX_JS = """(sel) => {
  const el = document.querySelector(sel);
  if (!el) return null;
  const r = el.getBoundingClientRect();
  return {top: r.top, left: r.left, bottom: r.bottom, right: r.right,
          inside: r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 &&
                  r.bottom <= window.innerHeight && r.right <= window.innerWidth};
}"""
# The id of the token the main plot or a step's plot stars as chosen ("chosen token" trace -> its bar's customdata).
CHOSEN_ID_JS = """(sel) => {
  const el = document.querySelector(sel + ' .js-plotly-plot');
  const star = el && el.data && el.data.find(t => t.name === 'chosen token');
  if (!star) return null;
  for (const t of el.data) {
    const j = t.type === 'bar' ? t.x.indexOf(star.x[0]) : -1;
    if (j >= 0) return t.customdata[j][1];
  }
  return null;
}"""


@pytest.fixture(scope="module")
def page(browser, served):
    p = open_app(browser, served, LAPTOP)
    try:
        yield p
    finally:
        p.context.close()


def box(page, selector: str) -> dict:
    found = page.evaluate(BOX_JS, selector)
    assert found is not None, f"{selector} is not on the page"
    return found


def tokens(page):
    return page.locator("#reply-tokens span[data-step]:not(.next)")


def replied(page, message: str = "Name three colours.") -> None:
    """A finished short reply (sent with Enter), unless the page has one."""
    if bot_messages(page).count() == 0:
        set_number(page, "max_new_tokens", 10)
        box_ = page.locator("#msg textarea")
        box_.fill(message)
        box_.press("Enter")
    expect(page.locator("#status")).to_have_text(re.compile(r"^\s*(eos|stop|length): "), timeout=SLOW)
    expect(tokens(page).nth(2)).to_be_visible()


def test_the_first_screen_holds_the_message_box_send_the_main_sliders_and_a_drawn_plot(page):
    # Nothing clicked or typed: the page opened with an example in the box and its plot drawn.
    expect(page.locator("#msg textarea")).to_have_value(examples.LANDING)
    assert wait_kept(page, "n > 0") > 0
    expect(page.locator("#plot-note")).to_contain_text(examples.LANDING)
    assert page.locator("#plot .js-plotly-plot g.trace.bars path").count() > 0  # drawn bars, not an empty label
    assert page.evaluate("window.scrollY") == 0
    wanted = ["#msg textarea", "#send", "#plot .js-plotly-plot", *(f"#param-{n}" for n in MAIN)]
    outside = {sel: box(page, sel) for sel in wanted if not box(page, sel)["inside"]}
    assert not outside, f"not inside the 1366x768 window without scrolling: {outside}"
    # the example buttons are there too, and one click draws its own plot
    page.locator("#examples button", has_text="A random word").click()
    expect(page.locator("#msg textarea")).to_have_value("Give me a random word.")
    expect(page.locator("#plot-note")).to_contain_text("Give me a random word.")
    expect(page.locator("#plot-note")).to_contain_text(examples.about("Give me a random word."))


def test_enter_sends_and_shift_enter_makes_a_new_line(page):
    set_number(page, "max_new_tokens", 10)
    box_ = page.locator("#msg textarea")
    expect(box_).to_have_attribute("placeholder", examples.PLACEHOLDER)
    box_.fill("")
    box_.press_sequentially("Name three colours.")
    box_.press("Shift+Enter")
    box_.press_sequentially("One line.")
    expect(box_).to_have_value("Name three colours.\nOne line.")  # a new line, nothing sent
    expect(page.locator("#chat [data-testid='user']")).to_have_count(0)
    box_.press("Enter")
    expect(page.locator("#chat [data-testid='user']")).to_have_count(1)
    expect(page.locator("#chat [data-testid='user']")).to_contain_text("One line.")
    expect(box_).to_have_value("")
    replied(page)


def test_a_token_click_brings_its_step_into_view(page):
    replied(page)
    page.evaluate("window.scrollTo(0, 0)")
    token = tokens(page).nth(2)
    token.scroll_into_view_if_needed()  # under Send, in the chat's column
    token.click()
    expect(page.locator("#inspect-info")).to_contain_text("Step 3")
    # the step's line and its plot are scrolled into the window (they open ~1,000 px below the chat)
    page.wait_for_function(f"() => ({BOX_JS})('#inspect-info').inside && ({BOX_JS})('#inspect-plot .js-plotly-plot').inside",
                           timeout=SLOW)
    assert page.locator("#inspect-plot .js-plotly-plot g.trace.bars path").count() > 0


def test_steps_are_numbered_from_1_everywhere(page):
    replied(page)
    k = 1  # the second token: its step is "step 2" in the hover, the inspector, its plot and its tables
    token = tokens(page).nth(k)
    assert token.get_attribute("title").startswith("step 2 ·")
    assert int(token.get_attribute("data-step")) == k
    token.click()
    expect(page.locator("#inspect-info")).to_contain_text(re.compile(r"^\s*Step 2: "))
    expect(page.locator("#chain-table")).to_contain_text("Sampler chain at step 2,")
    expect(page.locator("#candidates")).to_contain_text("Candidates at step 2:")
    page.wait_for_function("() => { const el = document.querySelector('#inspect-plot .js-plotly-plot');"
                           " return el && el.layout && el.layout.title.text === 'Step 2'; }", timeout=SLOW)
    page.wait_for_function(f"() => ({CHOSEN_ID_JS})('#inspect-plot') !== null", timeout=SLOW)  # drawn with its star
    assert page.evaluate(CHOSEN_ID_JS, "#inspect-plot") == int(token.get_attribute("data-id"))
    # the first token is step 1
    tokens(page).nth(0).click()
    expect(page.locator("#inspect-info")).to_contain_text(re.compile(r"^\s*Step 1: "))
    # one way to look at a past step: no step selector beside the main plot
    assert page.locator("#step").count() == 0


def test_on_a_phone_the_plot_shows_fewer_bars_and_nothing_covers_its_title(browser, served):
    phone = open_app(browser, served, PHONE)
    try:
        assert wait_kept(phone, "n > 0") > 0
        plot = phone.locator("#plot .js-plotly-plot")
        plot.scroll_into_view_if_needed()
        plot.hover()  # where a desktop shows Plotly's toolbar, over the title's corner
        shown = phone.evaluate("""() => { const el = document.querySelector('#plot .js-plotly-plot');
            const r = el._fullLayout.xaxis.range; return [Math.ceil(r[0]), Math.floor(r[1]), el.data[0].x.length]; }""")
        first, last, sent = shown
        assert 6 <= last - first + 1 <= 12, shown  # of the 30 bars sent: about 28 px each, labels readable
        says = f"first {int(last - first + 1)} of {sent} · drag for more"  # the note counts all 30: the plot says how many show
        expect(phone.locator("#plot .annotation-text", has_text=says)).to_have_count(1)
        assert phone.evaluate("() => document.querySelector('#plot .js-plotly-plot')._fullLayout.dragmode") == "pan"
        assert phone.locator("#plot .modebar-container .modebar-btn").count() == 0  # no toolbar to cover the title
        title = box(phone, "#plot .gtitle")
        assert title["left"] >= 0 and title["right"] <= PHONE["width"], title
    finally:
        phone.context.close()


def test_in_the_dark_theme_the_plot_follows_it(browser, served):
    dark = open_app(browser, served + "?__theme=dark", LAPTOP)
    try:
        assert wait_kept(dark, "n > 0") > 0
        paper, text, final = dark.evaluate("""() => { const el = document.querySelector('#plot .js-plotly-plot');
            const f = el._fullLayout, t = el.data.find(d => d.name.startsWith('final probability'));
            return [f.paper_bgcolor, f.font.color, t.marker.color]; }""")
        ink = dark.evaluate("() => getComputedStyle(document.body).getPropertyValue('--body-text-color').trim()")
        assert paper.replace(" ", "") == "rgba(0,0,0,0)" and text == ink and final == ink, (paper, text, final, ink)
    finally:
        dark.context.close()
