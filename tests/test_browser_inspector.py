"""The token inspector in a real browser (headless Debian chromium, playwright, the demo served in-process).

One page for the module; each test starts from Clear. Clicking a token opens its step; Step three
times then clicking a candidate row forces it as the 4th token; a branch can be switched back to; and
a reply holding markup (forced with Force text) shows as text, never as elements. Every wait is a
playwright expectation or `wait_for_function` with a generous timeout; nothing sleeps. Replies are
kept short through max_new_tokens. The page names steps from 1; `token(page, k)` is the span whose
`data-step` (the 0-based index) is k, so its step is "step k + 1".
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser_util import SLOW, bot_texts, send_message, set_number

pytest_plugins = ["tests.browser_util"]  # fixtures: browser, served, page

pytestmark = [pytest.mark.browser, pytest.mark.model]

FINISHED = re.compile(r"(eos|stop|length): [a-z_ ]+ · \d+ tokens · [\d.]+ tokens/s")
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
    expect(page.locator("#inspect-info")).to_contain_text(f"Step {k + 1}:")
    expect(page.locator("#inspect-info")).to_contain_text(f"id {chosen}")
    chain = page.locator("#chain-table")
    expect(chain).to_contain_text(f"Sampler chain at step {k + 1},")
    expect(chain).to_contain_text("top-k")
    expect(page.locator("#candidates")).to_contain_text(f"Candidates at step {k + 1}:")
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
    expect(chain).to_contain_text("Sampler chain at step 1,")
    token(page, k).click()
    expect(chain).to_contain_text(f"Sampler chain at step {k + 1},")


def test_step_three_times_then_force_a_candidate(page):
    clear(page)
    set_number(page, "max_new_tokens", 8)
    set_number(page, "top_k", 0)
    page.locator("#msg textarea").fill("Tell me about cats.")
    for k in range(1, 4):
        page.locator("#step-btn").click()
        expect(tokens(page)).to_have_count(k, timeout=SLOW)
        expect(page.locator("#candidates")).to_contain_text(f"Candidates at step {k + 1}:")
    expect(page.locator("#msg textarea")).to_have_value("")  # Step took the message as the user's turn
    assert bot_texts(page)  # the partial reply is in the chat
    row = 2  # the third candidate: rarely the one sampling would take
    forced_id = cell(page, row, 1).inner_text().strip()
    cell(page, row, 0).click()
    expect(tokens(page)).to_have_count(4, timeout=SLOW)
    fourth = token(page, 3)
    expect(fourth).to_have_attribute("data-id", forced_id)
    expect(fourth).to_have_class(re.compile(r"\bforced\b"))
    expect(page.locator("#candidates")).to_contain_text("Candidates at step 5:")
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
    expect(page.locator("#chain-table")).to_contain_text("Sampler chain at step 3,")
    set_number(page, "temperature", 2.5)
    page.locator("#branch-btn").click()
    branches = page.locator("#branches")
    expect(branches).to_contain_text("2: from step 3 (temperature 2.5)", timeout=SLOW)
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
    expect(page.locator("#chain-table")).to_contain_text("Sampler chain at step 3,")
    assert page.evaluate("() => window.__xss") is None and page.locator('img[src="x"]').count() == 0


# --- issue 9, section 2: the inspector never surprises ----------------------------------------------------
def ids_of(page) -> list[str]:
    return [tokens(page).nth(i).get_attribute("data-id") for i in range(tokens(page).count())]


def step_once(page, k: int) -> None:
    page.locator("#step-btn").click()
    expect(tokens(page)).to_have_count(k, timeout=SLOW)
    expect(page.locator("#candidates")).to_contain_text(f"Candidates at step {k + 1}:", timeout=SLOW)


def test_force_from_the_dropdown_adds_the_token_once(page):
    clear(page)
    set_number(page, "max_new_tokens", 8)
    page.locator("#msg textarea").fill("Tell me about cats.")
    step_once(page, 1)
    page.locator("#force-token input").click()
    option = page.locator("#force-token [role=option]").nth(4)  # a rare candidate: sampling seldom takes it
    forced_id = re.search(r"\(id (\d+),", option.inner_text()).group(1)
    option.click()
    expect(page.locator("#candidates")).to_contain_text("Candidates at step 3:", timeout=SLOW)
    # Step runs after every event the pick sent (model events run one at a time, in order): one token more.
    page.locator("#step-btn").click()
    expect(page.locator("#status")).to_contain_text("Step mode: 3 tokens so far", timeout=SLOW)
    expect(tokens(page)).to_have_count(3)  # the tokens are drawn after the status line
    expect(page.locator("#candidates")).to_contain_text("Candidates at step 4:", timeout=SLOW)
    assert len(ids_of(page)) == 3 and ids_of(page)[1] == forced_id and ids_of(page)[2] != forced_id
    expect(token(page, 1)).to_have_class(re.compile(r"\bforced\b"))
    # the row click still forces once, and leaves no cell outlined in the next step's table
    cell(page, 3, 0).click()
    expect(page.locator("#status")).to_contain_text("Step mode: 4 tokens so far", timeout=SLOW)
    page.locator("#step-btn").click()
    expect(page.locator("#status")).to_contain_text("Step mode: 5 tokens so far", timeout=SLOW)
    outlined = page.evaluate("""() =>
        [...document.querySelectorAll('#candidates .cell-selected')].filter(e => getComputedStyle(e).boxShadow !== 'none').length
        + [...document.querySelectorAll('#candidates .selection-button')].filter(e => e.offsetParent !== null).length""")
    assert outlined == 0


def finished_reply(page, text: str, length: int) -> list[str]:
    """A sent reply of `length` tokens at most, once it ended: its token ids."""
    clear(page)
    set_number(page, "max_new_tokens", length)
    send_message(page, text)
    wait_finished(page)
    n = int(re.search(r"(\d+) tokens?\b", page.locator("#status").inner_text()).group(1))
    expect(tokens(page)).to_have_count(n)  # the coloured tokens are drawn after the status line: wait for all of them
    return ids_of(page)


def test_step_on_a_finished_reply_keeps_it_as_a_branch(page):
    original = finished_reply(page, "Name three animals.", 4)
    assert len(original) == 4, original  # ended by its length
    set_number(page, "max_new_tokens", 6)
    page.locator("#step-btn").click()  # goes on after the end, in a new branch
    expect(tokens(page)).to_have_count(5, timeout=SLOW)
    assert ids_of(page)[:4] == original
    branches = page.locator("#branches")
    expect(branches).to_contain_text("1: original")
    expect(branches).to_contain_text("2: after the end")
    page.locator("#run-btn").click()
    wait_finished(page)
    # a token of the finished branch, then Step: a new branch from there; both earlier ones stay listed
    token(page, 1).click()
    expect(page.locator("#chain-table")).to_contain_text("Sampler chain at step 2,")
    page.locator("#step10-btn").click()
    expect(branches).to_contain_text("3: from step 2", timeout=SLOW)
    wait_finished(page)
    expect(branches).to_contain_text("1: original")
    branches.get_by_text("1: original").click()
    expect(page.locator("#status")).to_contain_text("Showing branch 1: original")
    expect(tokens(page)).to_have_count(4)
    assert ids_of(page) == original


def test_step_uses_the_current_settings(page):
    clear(page)
    set_number(page, "max_new_tokens", 8)
    set_number(page, "top_k", 0)
    page.locator("#msg textarea").fill("Write a poem about the sea.")
    step_once(page, 1)
    best = cell(page, 0, 1).inner_text().strip()  # the most likely next token
    set_number(page, "top_k", 1)
    step_once(page, 2)
    assert ids_of(page)[1] == best  # top_k = 1 leaves only the most likely token
    token(page, 1).click()
    chain = page.locator("#chain-table")
    expect(chain).to_contain_text(re.compile(r"Sampler chain at step 2, stage by stage \(.*top_k = 1"))
    expect(chain).to_contain_text("top-k")
    token(page, 0).click()  # the first step keeps the settings it was chosen with
    expect(chain).to_contain_text("Sampler chain at step 1, stage by stage (")
    expect(chain).not_to_contain_text("top_k = 1")
    set_number(page, "top_k", 0)


def test_undo_and_clear_stop_a_streaming_reply(page):
    finished_reply(page, "Say hi.", 4)
    first = bot_texts(page)
    set_number(page, "max_new_tokens", 400)
    send_message(page, "Write a long story about a dragon.")
    expect(page.locator("#status")).to_contain_text("Generating…", timeout=SLOW)
    page.locator("#undo").click()
    expect(page.locator("#status")).to_contain_text("Removed the last turn")
    expect(page.locator("#msg textarea")).to_have_value("Write a long story about a dragon.")
    # nothing writes into the chat any more: the next model event (Step, queued after the reply's) finds it
    # as Undo left it and starts its own reply from the box
    page.locator("#step-btn").click()
    expect(tokens(page)).to_have_count(1, timeout=SLOW)
    assert bot_texts(page)[0] == first[0] and len(bot_texts(page)) == 2
    page.locator("#run-btn").click()
    expect(page.locator("#status")).to_contain_text("Generating…", timeout=SLOW)
    page.locator("#clear").click()
    expect(page.locator("#status")).to_contain_text("Cleared")
    page.locator("#step-btn").click()  # nothing to go on with: the reply is gone
    expect(page.locator("#status")).to_contain_text("must not be empty to start a reply", timeout=SLOW)
    expect(page.locator("#chat [data-testid='bot']")).to_have_count(0)
    expect(tokens(page)).to_have_count(0)
    set_number(page, "max_new_tokens", 8)


def test_a_forced_text_cut_by_max_new_tokens_says_so(page):
    clear(page)
    set_number(page, "max_new_tokens", 4)
    page.locator("#msg textarea").fill("Say hi.")
    step_once(page, 1)
    page.locator("#force-text textarea, #force-text input").first.fill(" one two three four five six")
    page.locator("#force-btn").click()
    expect(page.locator("#status")).to_contain_text("Forced 3 of the text's", timeout=SLOW)
    expect(page.locator("#status")).to_contain_text("max_new_tokens = 4")
    expect(tokens(page)).to_have_count(4)


def test_the_chosen_label_stays_inside_the_plot(page):
    clear(page)
    set_number(page, "max_new_tokens", 8)
    page.locator("#msg textarea").fill("Tell me about cats.")
    step_once(page, 1)
    cell(page, 0, 0).click()  # the most likely candidate: the first bar of its step's plot
    expect(page.locator("#candidates")).to_contain_text("Candidates at step 3:", timeout=SLOW)
    token(page, 1).click()
    expect(page.locator("#chain-table")).to_contain_text("Sampler chain at step 2,")
    page.wait_for_function("""() => [...document.querySelectorAll('#inspect-plot text')].some(e => e.textContent === 'chosen')""",
                           timeout=SLOW)
    left, area = page.evaluate("""() => {
        const t = [...document.querySelectorAll('#inspect-plot text')].find(e => e.textContent === 'chosen');
        const a = document.querySelector('#inspect-plot .nsewdrag').getBoundingClientRect();
        return [t.getBoundingClientRect().left, a.left]; }""")
    assert left >= area - 1, (left, area)
