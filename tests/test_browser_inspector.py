"""The token inspector in a real browser (headless Debian chromium, playwright, the demo served in-process).

One page for the module; each test starts from Clear. Clicking a token opens its step; Step three
times then clicking a candidate row forces it as the 4th token; a branch can be switched back to; and
a reply holding markup (forced with Force text) shows as text, never as elements. Every wait is a
playwright expectation or `wait_for_function` with a generous timeout; nothing sleeps. Replies are
kept short through max_new_tokens.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser_util import SLOW, bot_texts, send_message, set_number

pytest_plugins = ["tests.browser_util"]  # fixtures: browser, served, page

pytestmark = [pytest.mark.browser, pytest.mark.model]

FINISHED = re.compile(r"(eos|stop|length) · \d+ tokens · [\d.]+ tokens/s")
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def token(page, k: int):
    return page.locator(f'#reply-tokens span[data-step="{k}"]')


def tokens(page):
    return page.locator("#reply-tokens span[data-step]:not(.next)")


def cell(page, row: int, col: int):
    return page.locator(f'#candidates [data-testid="cell-{row}-{col}"]')


def clear(page) -> None:
    page.locator("#clear").click()
    expect(page.locator("#status")).to_contain_text("Cleared")
    expect(tokens(page)).to_have_count(0)


def wait_finished(page) -> None:
    expect(page.locator("#status")).to_have_text(FINISHED, timeout=SLOW)


def test_click_a_token_to_see_its_step(page):
    clear(page)
    set_number(page, "max_new_tokens", 5)
    set_number(page, "top_k", 20)
    send_message(page, "Name a colour.")
    wait_finished(page)
    expect(tokens(page)).not_to_have_count(0)
    n = tokens(page).count()
    k = min(2, n - 1)
    chosen = token(page, k).get_attribute("data-id")
    token(page, k).click()
    expect(page.locator("#inspect-info")).to_contain_text(f"Step {k}:")
    expect(page.locator("#inspect-info")).to_contain_text(f"id {chosen}")
    chain = page.locator("#chain-table")
    expect(chain).to_contain_text(f"Sampler chain at step {k}")
    expect(chain).to_contain_text("top-k")
    expect(page.locator("#candidates")).to_contain_text(f"Candidates at step {k}")
    expect(page.locator("#candidates")).to_contain_text("chosen")
    expect(token(page, k)).to_have_class(re.compile(r"\bsel\b"))
    # the step's plot (chosen token starred) and the two side-by-side views are drawn
    page.wait_for_function("""() => ['#inspect-plot', '#raw-vs-final', '#order-view'].every(id => {
        const el = document.querySelector(id + ' .js-plotly-plot');
        return el && el.data && el.data.length > 0; })""", timeout=SLOW)
    starred = page.evaluate("""() => document.querySelector('#inspect-plot .js-plotly-plot').data
        .filter(t => t.name === 'chosen token').length""")
    assert starred == 1
    # another token opens its own step; the same one twice still opens it
    token(page, 0).click()
    expect(chain).to_contain_text("Sampler chain at step 0")
    token(page, k).click()
    expect(chain).to_contain_text(f"Sampler chain at step {k}")


def test_step_three_times_then_force_a_candidate(page):
    clear(page)
    set_number(page, "max_new_tokens", 8)
    set_number(page, "top_k", 0)
    page.locator("#msg textarea").fill("Tell me about cats.")
    for k in range(1, 4):
        page.locator("#step-btn").click()
        expect(tokens(page)).to_have_count(k, timeout=SLOW)
        expect(page.locator("#candidates")).to_contain_text(f"Candidates at step {k}")
    expect(page.locator("#msg textarea")).to_have_value("")  # Step took the message as the user's turn
    assert bot_texts(page)  # the partial reply is in the chat
    row = 2  # the third candidate: rarely the one sampling would take
    forced_id = cell(page, row, 1).inner_text().strip()
    cell(page, row, 0).click()
    expect(tokens(page)).to_have_count(4, timeout=SLOW)
    fourth = token(page, 3)
    expect(fourth).to_have_attribute("data-id", forced_id)
    expect(fourth).to_have_class(re.compile(r"\bforced\b"))
    expect(page.locator("#candidates")).to_contain_text("Candidates at step 4")
    page.locator("#run-btn").click()
    wait_finished(page)
    expect(token(page, 3)).to_have_attribute("data-id", forced_id)


def test_branch_then_switch_back(page):
    clear(page)
    set_number(page, "max_new_tokens", 8)
    set_number(page, "temperature", 0.7)
    send_message(page, "Name three animals.")
    wait_finished(page)
    original = bot_texts(page)[-1]
    ids = [tokens(page).nth(i).get_attribute("data-id") for i in range(tokens(page).count())]
    assert len(ids) >= 3, ids
    token(page, 2).click()
    expect(page.locator("#chain-table")).to_contain_text("Sampler chain at step 2")
    set_number(page, "temperature", 2.5)
    page.locator("#branch-btn").click()
    branches = page.locator("#branches")
    expect(branches).to_contain_text("2: from step 2 (temperature 2.5)", timeout=SLOW)
    wait_finished(page)
    assert [tokens(page).nth(i).get_attribute("data-id") for i in range(2)] == ids[:2]  # the prefix is kept
    branches.get_by_text("1: original").click()
    expect(page.locator("#status")).to_contain_text("Showing branch 1: original")
    page.wait_for_function("""(text) => { const b = document.querySelectorAll('#chat [data-testid="bot"]');
        return b.length && b[b.length - 1].innerText.trim() === text; }""", arg=original, timeout=SLOW)
    assert [tokens(page).nth(i).get_attribute("data-id") for i in range(tokens(page).count())] == ids


def test_markup_in_a_reply_renders_as_text(page):
    clear(page)
    set_number(page, "max_new_tokens", 64)
    page.locator("#msg textarea").fill("Say hi.")
    page.locator("#step-btn").click()
    expect(tokens(page)).to_have_count(1, timeout=SLOW)
    page.locator("#force-text textarea, #force-text input").first.fill(XSS)
    page.locator("#force-btn").click()
    expect(page.locator("#reply-tokens")).to_contain_text(XSS, timeout=SLOW)
    expect(page.locator("#chat")).to_contain_text(XSS, timeout=SLOW)
    assert page.evaluate("() => window.__xss") is None
    assert page.locator('#reply-tokens img, #chat img[src="x"], img[src="x"]').count() == 0
    assert page.locator("#reply-tokens script, #chat script").count() == 0
    # opening one of those tokens shows its text in the tables, still as text
    token(page, 2).click()
    expect(page.locator("#chain-table")).to_contain_text("Sampler chain at step 2")
    assert page.evaluate("() => window.__xss") is None and page.locator('img[src="x"]').count() == 0
