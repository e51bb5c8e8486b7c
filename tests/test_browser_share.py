"""Share and compare in a real browser (issue 10): a copied link opened in a fresh page restores the settings,
the system prompt, the conversation and the plot's step; a bad or tampered link shows why and changes nothing;
a session file downloaded and opened in a fresh page replays the reply with the model never called (forward
passes counted); A/B compare with one seed marks the step where the replies part.

One page makes the reply the link and the session file carry; the others are fresh pages. Every wait is one of
playwright's auto-waiting expectations; nothing sleeps.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from playground import share
from playground.ui import examples
from tests.browser_util import bot_texts, number_box, open_app, open_group, send_message, set_number

pytest_plugins = ["tests.browser_util"]  # fixtures: browser, served

pytestmark = [pytest.mark.browser, pytest.mark.model]
SYSTEM = "You are a pirate."
ASK = "Name a colour."


def accordion(page, elem_id: str) -> None:
    group = page.locator(f"#{elem_id}")
    if not group.locator("[data-testid='accordion-content']").is_visible():
        group.locator("button.label-wrap").first.click()


def token_spans(page):
    return page.locator("#reply-tokens span[data-step]:not(.next)")


@pytest.fixture(scope="module")
def replied(browser, served):
    """A page with a short sampled reply (temperature 0.8, seed 11, at most 6 tokens, a system prompt), step 2 open."""
    p = open_app(browser, served)
    set_number(p, "temperature", 0.8)
    set_number(p, "seed", 11)
    set_number(p, "max_new_tokens", 6)
    p.locator("#system textarea").fill(SYSTEM)
    send_message(p, ASK)
    expect(p.locator("#status")).to_have_text(re.compile(r"^\s*(eos|stop|length): "))
    expect(token_spans(p)).not_to_have_count(0)  # the tokens panel follows the status line
    assert token_spans(p).count() >= 3
    token_spans(p).nth(1).click()
    expect(p.locator("#inspect-info")).to_contain_text("Step 2")
    try:
        yield p
    finally:
        p.context.close()


def test_a_copied_link_opened_in_a_fresh_page_restores_settings_conversation_and_step(browser, replied):
    accordion(replied, "group-share")
    replied.locator("#copy-link").click()
    box = replied.locator("#share-link textarea")
    expect(box).to_have_value(re.compile(r"\?s="))
    url = box.input_value()
    assert urlparse(replied.url).query == urlparse(url).query  # the address bar holds it too
    said = bot_texts(replied)
    fresh = open_app(browser, url)
    try:
        expect(fresh.locator("#status")).to_contain_text("Opened a link")
        assert bot_texts(fresh) == said
        expect(fresh.locator("#system textarea")).to_have_value(SYSTEM)
        expect(number_box(fresh, "temperature")).to_have_value("0.8")
        open_group(fresh, "seed")
        expect(number_box(fresh, "seed")).to_have_value("11")
        open_group(fresh, "max_new_tokens")
        expect(number_box(fresh, "max_new_tokens")).to_have_value("6")
        expect(fresh.locator("#plot-note")).to_contain_text("step 2 of the last reply")
        expect(fresh.locator("#msg textarea")).to_have_value("")  # no landing example over the restored chat
    finally:
        fresh.context.close()


def _link(state: dict) -> str:
    raw = json.dumps(state).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")


@pytest.mark.parametrize("value, why", [("not-a-link", "does not decode"),
                                        (_link({"v": 1, "p": {"temperature": -1}, "c": [["u", "hi"]]}), "temperature"),
                                        (_link({"v": 1, "preset": "../../etc/passwd"}), "which this server does not have")])
def test_a_bad_or_tampered_link_shows_why_and_changes_nothing(browser, served, value, why):
    page = open_app(browser, f"{served}?s={value}")
    try:
        expect(page.locator("#status")).to_contain_text("link is damaged" if why != "temperature" else "temperature")
        expect(page.locator("#status")).to_contain_text(why)
        assert bot_texts(page) == []
        expect(page.locator("#msg textarea")).to_have_value(examples.LANDING)  # the page as it opens without a link
        expect(number_box(page, "temperature")).to_have_value("1")
    finally:
        page.context.close()


def test_a_session_file_replays_in_a_fresh_page_without_running_the_model(browser, served, replied, engine, tmp_path):
    accordion(replied, "group-share")
    with replied.expect_download() as got:
        replied.locator("#download-session").click()
    saved = tmp_path / got.value.suggested_filename
    got.value.save_as(saved)
    doc = json.loads(saved.read_text())
    tokens = token_spans(replied).all_inner_texts()
    assert doc["format"] == share.FORMAT and len(doc["steps"]) == len(tokens) and doc["model"]["dtype"] == "float32"
    said = bot_texts(replied)

    fresh = open_app(browser, served)
    calls = []
    forward = engine.model.forward
    engine.model.forward = lambda *a, **k: calls.append(1) or forward(*a, **k)
    try:
        accordion(fresh, "group-share")
        with fresh.expect_file_chooser() as chooser:
            fresh.locator("#open-session").click()
        chooser.value.set_files(str(saved))
        expect(fresh.locator("#status")).to_contain_text("Replaying")
        expect(token_spans(fresh)).to_have_count(len(tokens))
        assert token_spans(fresh).all_inner_texts() == tokens and bot_texts(fresh) == said
        expect(number_box(fresh, "temperature")).to_have_value("0.8")
        token_spans(fresh).nth(2).click()  # a step of the replay: its plot, candidates and chain table from the records
        expect(fresh.locator("#inspect-info")).to_contain_text("Step 3")
        expect(fresh.locator("#chain-table")).to_contain_text("temperature")
        expect(fresh.locator("#candidates")).to_contain_text("chosen")
        expect(fresh.locator("#inspect-plot .js-plotly-plot")).to_be_visible()
        assert calls == []  # the model was never called

        doc["model"]["id"] = "another/model"  # a file from another model loads nothing
        other = tmp_path / "other.json"
        other.write_text(json.dumps(doc))
        with fresh.expect_file_chooser() as chooser:
            fresh.locator("#open-session").click()
        chooser.value.set_files(str(other))
        expect(fresh.locator("#status")).to_contain_text("'another/model'")
        assert bot_texts(fresh) == said and calls == []
    finally:
        engine.model.forward = forward
        fresh.context.close()


def test_compare_with_one_seed_marks_where_the_replies_part(browser, served):
    page = open_app(browser, served)
    try:
        set_number(page, "top_k", 1)  # A keeps only the most likely token; B samples hot with the same seed
        set_number(page, "max_new_tokens", 16)
        page.locator("#msg textarea").fill("Write one sentence about the sea.")
        accordion(page, "group-compare")
        page.locator("#ab-b textarea").fill("temperature=1.5\nmax_new_tokens=16")
        page.locator("#ab-seed input").fill("7")
        page.locator("#ab-run").click()
        expect(page.locator("#ab-note")).to_contain_text("comparing:")  # streamed: shown while both still decode
        expect(page.locator("#ab-note")).not_to_contain_text("comparing")  # both replies have ended
        parting = page.locator("#ab-table tr.parting")
        expect(parting).to_have_count(1)
        k = int(parting.get_attribute("data-step"))
        expect(page.locator("#ab-note")).to_contain_text(f"they part at token {k + 1}")
        expect(page.locator("#ab-note")).to_contain_text("A's top-k removed B's token")
        rows = page.locator("#ab-table tr[data-step]")
        for i in range(k + 1):  # the same tokens before the parting, different ones at it
            cells = rows.nth(i).locator("td .tok").all_inner_texts()
            assert (cells[0] == cells[1]) == (i < k), (i, cells)
        for side, col in (("a", 1), ("b", 4)):  # the two replies side by side: the table's tokens, the parting outlined
            reply = page.locator(f"#ab-reply-{side}")
            expect(reply.locator(".tok.parting")).to_have_attribute("data-step", str(k))
            column = page.locator(f"#ab-table tr[data-step] td:nth-child({col + 1})").all_text_contents()
            assert "".join(reply.locator(".tok").all_text_contents()) == "".join(column)
        parting.locator("a").click()  # the parting row leads to both chains at that step
        expect(page.locator("#ab-chain-a")).to_be_in_viewport()
        expect(page.locator("#ab-chain-a")).to_contain_text("top-k")
        expect(page.locator("#ab-chain-b")).to_contain_text("temperature")
        assert bot_texts(page) == []  # compare sends nothing to the chat

        page.locator("#ab-apply").click()  # B into the main controls
        expect(number_box(page, "temperature")).to_have_value("1.5")
        page.locator("#ab-copy").click()  # B := A (now the same)
        expect(page.locator("#ab-b textarea")).to_have_value(re.compile("temperature=1.5"))
    finally:
        page.context.close()
