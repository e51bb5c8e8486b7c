"""The real app in a real browser: headless Debian chromium (playwright) against the demo served in-process.

One page for the module, used in order: a streamed reply, Stop mid-reply, the plot's kept set under
top-k and top-p, a mouse drag on a slider, a second visitor's own settings, a preset from the dropdown,
and an out-of-range value. Every wait is one of
playwright's auto-waiting expectations or `wait_for_function` with a generous timeout (the machine is
small and shared); nothing sleeps. Replies are kept short through the max_new_tokens control.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from playground import presets
from playground.params import SPECS
from tests.browser_util import SLOW, bot_messages, bot_texts, kept_count, number_box, open_app, send_message, set_number, wait_kept

pytest_plugins = ["tests.browser_util"]  # fixtures: browser, served, page

pytestmark = [pytest.mark.browser, pytest.mark.model]

FINISHED = re.compile(r"^\s*(eos|stop|length): [a-z_ ]+ · \d+ tokens · [\d.]+ tokens/s")
TRACK_JS = """() => {
  // Record every text the last bot message and the status line show, as the page changes.
  window.__seen = {bot: [], status: []};
  const grab = () => {
    const bots = document.querySelectorAll('#chat [data-testid="bot"]');
    const bot = bots.length ? bots[bots.length - 1].innerText : null;
    const status = document.querySelector('#status').innerText;
    const seen = window.__seen;
    if (bot !== null && seen.bot[seen.bot.length - 1] !== bot) seen.bot.push(bot);
    if (seen.status[seen.status.length - 1] !== status) seen.status.push(status);
  };
  window.__observer && window.__observer.disconnect();
  window.__observer = new MutationObserver(grab);
  window.__observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def settled_cancel_count(page) -> int:
    """The token count of the final "cancelled: stopped before the end · N tokens" status. Stop's own "Stopping…" may land
    before or after the reply's last update, so read until the same cancelled text holds twice."""
    seen = None
    for _ in range(SLOW // 250):
        m = re.search(r"cancelled: stopped before the end · (\d+) tokens", status(page).inner_text())
        text = m and m.group(0)
        if text and text == seen:
            return int(m.group(1))
        seen = text
        page.wait_for_timeout(250)
    raise AssertionError(f"the status never settled on a cancelled status with N tokens: {status(page).inner_text()!r}")


def status(page):
    return page.locator("#status")


def shown_bars(page) -> int:
    return int(page.locator("#top-n input[type=number]").input_value())


def reset_controls(page) -> None:
    """Reset, and once a plot exists, wait until it is redrawn: with the defaults every shown bar is kept."""
    page.locator("#reset").click()
    expect(page.locator("#preset-info")).to_contain_text("back to their defaults")
    expect(number_box(page, "top_k")).to_have_value(str(SPECS["top_k"].default))
    if kept_count(page) >= 0:
        wait_kept(page, f"n === {shown_bars(page)}")


def test_send_streams_a_reply(page):
    set_number(page, "max_new_tokens", 12)
    expect(number_box(page, "max_new_tokens")).to_have_value("12")
    page.evaluate(TRACK_JS)
    send_message(page, "Name three colours.")

    expect(bot_messages(page)).to_have_count(1, timeout=SLOW)
    expect(status(page)).to_have_text(FINISHED, timeout=SLOW)
    expect(page.locator("#msg textarea")).to_have_value("")
    reply = bot_texts(page)[-1]
    assert reply
    seen = page.evaluate("() => window.__seen")
    # Streamed: the reply grew through several partial texts, each a prefix of the next, while the
    # status counted tokens.
    grown = [t for t in seen["bot"] if t.strip()]
    assert len(grown) >= 2, seen
    assert all(b.startswith(a.rstrip()) for a, b in zip(grown, grown[1:])), grown
    assert any(s.startswith("Generating…") for s in seen["status"]), seen["status"]
    user = page.locator("#chat [data-testid='user']")
    expect(user).to_have_count(1)
    expect(user).to_have_text("Name three colours.")
    # After the reply the plot is drawn for the new context.
    assert wait_kept(page, "n > 0") > 0


def test_stop_halts_the_reply_and_frees_the_model(page):
    # Long enough that only Stop can end it: no end-of-sequence before 1000 tokens (the page's slider stops at
    # the max_new_tokens_cap, 1024).
    set_number(page, "max_new_tokens", 1000)
    set_number(page, "min_new_tokens", 1000)
    expect(number_box(page, "min_new_tokens")).to_have_value("1000")
    before = bot_messages(page).count()
    send_message(page, "Write a long story about a lighthouse keeper.")
    expect(bot_messages(page)).to_have_count(before + 1, timeout=SLOW)
    expect(status(page)).to_have_text(re.compile(r"^\s*Generating… ([3-9]|\d\d+) tokens"), timeout=SLOW)

    page.locator("#stop").click()
    tokens = settled_cancel_count(page)
    assert 3 <= tokens < 1000
    stopped = bot_texts(page)[-1]
    assert stopped

    # The model is free: a short reply runs to the end, and the stopped reply has not grown since.
    reset_controls(page)
    set_number(page, "max_new_tokens", 6)
    expect(number_box(page, "max_new_tokens")).to_have_value("6")
    send_message(page, "Thanks!")
    expect(bot_messages(page)).to_have_count(before + 2, timeout=SLOW)
    expect(status(page)).to_have_text(FINISHED, timeout=SLOW)
    assert bot_texts(page)[-2] == stopped


def test_top_k_and_top_p_change_the_kept_set(page):
    reset_controls(page)
    shown = shown_bars(page)
    # Defaults filter nothing: every shown bar is kept.
    assert wait_kept(page, f"n === {shown}") == shown

    set_number(page, "top_k", 3)
    assert wait_kept(page, "n === 3") == 3
    expect(page.locator("#plot-note")).to_contain_text("3 of")

    # top_p = 0.05 after top-k 3: the top token holds at least 1/3 of what is left, so it alone is kept.
    set_number(page, "top_p", 0.05)
    assert wait_kept(page, "n === 1") == 1
    expect(page.locator("#plot-note")).to_contain_text("1 of")
    names = page.evaluate("() => document.querySelector('#plot .js-plotly-plot').data.map(d => d.name)")
    assert "removed by top-k" in names and "removed by top-p" in names, names
    assert any(n.startswith("top_p = 0.05") for n in names), names
    # The legend is the page's own (buttons above the plot); a click hides that trace, a second shows it.
    legend = page.locator("#plot .figure-legend button")
    expect(legend.filter(has_text="removed by top-k")).to_have_count(1)
    assert set(legend.all_text_contents()) >= {"kept", "removed by top-k", "removed by top-p"}
    visible = "() => document.querySelector('#plot .js-plotly-plot').data.find(d => d.name === 'removed by top-k').visible"
    legend.filter(has_text="removed by top-k").click()
    page.wait_for_function(f"() => ({visible})() === 'legendonly'")
    legend.filter(has_text="removed by top-k").click()
    page.wait_for_function(f"() => ({visible})() !== 'legendonly'")

    reset_controls(page)
    assert wait_kept(page, f"n === {shown}") == shown


def test_dragging_a_slider_ends_on_its_last_value(page):
    """A real mouse drag on top_k's range: many input events, the latest wins; the figure ends at the
    value the slider shows, and the slider's reset button brings the plot back too."""
    reset_controls(page)
    shown = shown_bars(page)
    rng = page.locator("#param-top_k input[type=range]")
    rng.scroll_into_view_if_needed()
    box = rng.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 2, y)
    page.mouse.down()
    # Half-pixel moves (the first ones stay on the thumb at 0: it sits beside the plot, in a narrow column)
    # until top_k leaves 0, then five more: it ends somewhere in 1-30 (each move is about 2 of top_k here).
    x, more = box["x"] + 2, 6
    while more and x < box["x"] + box["width"] / 4:
        x += 0.5
        page.mouse.move(x, y)
        more -= int(float(number_box(page, "top_k").input_value()) > 0)
    page.mouse.up()
    k = int(float(number_box(page, "top_k").input_value()))
    assert 0 < k <= shown, k
    assert wait_kept(page, f"n === {k}") == k
    expect(page.locator("#plot-note")).to_contain_text(f"{k} of")
    page.locator("#param-top_k [data-testid='reset-button']").click()
    expect(number_box(page, "top_k")).to_have_value("0")
    assert wait_kept(page, f"n === {shown}") == shown


def test_two_visitors_have_their_own_settings(page, browser, served):
    """A workshop: two tabs on one app. Each tab's plot follows its own controls only (the settings
    mirror is per session), while both read the same cached logits."""
    reset_controls(page)
    shown = shown_bars(page)
    set_number(page, "top_k", 3)
    assert wait_kept(page, "n === 3") == 3
    other = open_app(browser, served)
    try:
        send_message(other, "Name three colours.")  # its own chat, so its own context and plot
        expect(other.locator("#status")).to_contain_text("tokens/s", timeout=SLOW)
        wait_kept(other, "n > 0")
        set_number(other, "top_p", 0.05)  # top_k is still off in this tab
        n = wait_kept(other, "n >= 1")
        assert "removed by top-k" not in other.evaluate(
            "() => document.querySelector('#plot .js-plotly-plot').data.map(d => d.name)")
        expect(number_box(other, "top_k")).to_have_value("0")
        assert n < shown
    finally:
        other.context.close()
    set_number(page, "temperature", 0.9)  # the first tab still has its top_k = 3
    assert wait_kept(page, "n === 3") == 3
    reset_controls(page)


def test_preset_sets_the_controls(page):
    reset_controls(page)
    name = "llamacpp-defaults"
    want = presets.load_preset(name).changed()
    numbers = {k: v for k, v in want.items() if SPECS[k].kind in ("float", "int")}
    assert {"temperature", "top_k", "top_p", "min_p"} <= set(numbers)

    page.locator("#preset input").click()
    page.get_by_role("option", name=name, exact=True).click()
    expect(page.locator("#preset-info")).to_contain_text(name)
    for key, value in numbers.items():
        expect(number_box(page, key)).to_have_value(re.compile(rf"^{re.escape(f'{value:g}')}0*$"))
    # The plot follows: at most top_k tokens survive, and the min-p line is drawn.
    wait_kept(page, f"n >= 1 && n <= {numbers['top_k']}")
    page.wait_for_function("() => document.querySelector('#plot .js-plotly-plot').data"
                           ".some(d => (d.name || '').startsWith('min-p cut-off'))", timeout=SLOW)
    # A slider moved after the preset keeps the preset's other settings (the min-p line stays).
    set_number(page, "top_k", 2)
    wait_kept(page, "n >= 1 && n <= 2")
    assert page.evaluate("() => document.querySelector('#plot .js-plotly-plot').data"
                         ".some(d => (d.name || '').startsWith('min-p cut-off'))")
    reset_controls(page)


def test_out_of_range_value_is_named_and_keeps_the_chat(page):
    reset_controls(page)
    history = bot_texts(page)
    assert history, "the earlier tests leave a conversation"
    kept = kept_count(page)
    assert kept == shown_bars(page)
    set_number(page, "top_p", 1.5, holds=False)  # typed, Enter, then the box loses focus: gradio puts it back to 1
    expect(page.locator("#plot-note")).to_contain_text(re.compile(r"top_p\W* must be .* but is 1\.5"), timeout=SLOW)
    expect(page.locator("#plot-note")).to_contain_text("put top_p back to 1", timeout=SLOW)
    expect(number_box(page, "top_p")).to_have_value("1")
    assert kept_count(page) == kept  # top_p = 1 keeps what the defaults keep
    assert bot_texts(page) == history
    # The plot goes on with the value the slider shows (the settings mirror took it on release).
    set_number(page, "top_k", 7)
    assert wait_kept(page, "n === 7") == 7
    expect(page.locator("#plot-note")).not_to_contain_text("⚠️")

    # A bad value at Send (gradio's slider puts top_p back in range when the box loses focus, so use
    # the seed box, which has no range of its own): the status names the field, the conversation and
    # the message stay.
    reset_controls(page)
    set_number(page, "seed", -1)
    send_message(page, "Another question?")
    expect(status(page)).to_contain_text(re.compile(r"seed\W* must be .* but is -1\b"), timeout=SLOW)
    assert bot_texts(page) == history
    expect(page.locator("#msg textarea")).to_have_value("Another question?")
    reset_controls(page)
    expect(number_box(page, "seed")).to_have_value("")
