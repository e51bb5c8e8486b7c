"""A room on one instance, through the served app (issue 14): concurrent visitors share batched forward
passes and get their own replies; a closed tab or a dropped API connection cancels its reply within a
step and frees what the session kept."""

from __future__ import annotations

import json
import threading
import time

import pytest

from playground.ui import sessions
from tests.browser_util import SLOW, open_app, send_message, serve, set_number
from tests.ui_util import values

pytestmark = pytest.mark.model
pytest_plugins = ["tests.browser_util"]  # fixtures: browser (one chromium for the whole run)


@pytest.fixture(scope="module")
def app(engine):
    demo, url = serve(engine)
    try:
        yield url
    finally:
        demo.close()


def wait_until(predicate, timeout: float = 60.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"not within {timeout} s: {what}")


def chat_args(prompt: str, **settings) -> list:
    return [prompt, [], "", *values(**settings)]


def test_concurrent_visitors_share_forward_passes_and_get_their_own_replies(engine, app):
    from gradio_client import Client

    prompts = ["Name a fruit.", "Name a colour.", "Name an animal.", "Name a city."]
    greedy = dict(do_sample=False, max_new_tokens=12, min_new_tokens=12)
    alone = []
    for p in prompts:  # each alone first: the reference replies
        alone.append(Client(app, verbose=False).predict(*chat_args(p, **greedy), api_name="/chat")[0][-1]["content"])
    before = engine.scheduler.forwards
    together: dict[int, str] = {}

    def user(i):
        together[i] = Client(app, verbose=False).predict(*chat_args(prompts[i], **greedy), api_name="/chat")[0][-1]["content"]

    threads = [threading.Thread(target=user, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert [together[i] for i in range(len(prompts))] == alone  # nobody got another's reply
    # 4 replies of 12 tokens: 44 single-token passes alone; batched, far fewer (replies overlap in time)
    assert engine.scheduler.forwards - before < 4 * 11


@pytest.mark.browser
def test_closing_the_tab_cancels_the_reply_and_frees_the_session(engine, browser, app):
    page = open_app(browser, app)
    set_number(page, "max_new_tokens", 1000)
    send_message(page, "Write a very long story about the sea.")
    wait_until(lambda: engine.scheduler.active > 0, SLOW / 1000, "the reply to start")
    replies = [r() for r in list(sessions._replies.values())]
    mine = next(r for r in replies if r is not None and r.job is not None and not r.job.finished)
    wait_until(lambda: len(mine.dec.steps) >= 2, 60, "two tokens")
    page.context.close()  # the tab closes: gradio's heartbeat ends, its `unload` runs
    wait_until(lambda: mine.job.finished, 60, "the reply to be cancelled")
    assert not mine.dec.done  # cancelled, not run to its 1000 tokens
    wait_until(lambda: mine.dec.logit_history == [] and mine.dec.steps == [], 30, "the session's reply to be freed")


def test_a_dropped_api_connection_cancels_its_reply(engine, app):
    """A raw HTTP client that starts a chat and drops its event stream mid-reply: the reply stops."""
    import httpx

    from playground.ui import controls

    session = "dropped-connection-test"
    data = chat_args("Write a very long story about a forest.", max_new_tokens=1000, min_new_tokens=1000)
    data.insert(3, None)  # the session's `run` State: the raw protocol carries a slot for it
    body = {"data": data,
            "fn_index": _fn_index(app, "/chat"), "session_hash": session, "event_data": None, "trigger_id": None}
    assert len(body["data"]) == 4 + len(controls.NAMES)
    httpx.post(f"{app}gradio_api/queue/join", json=body, timeout=30).raise_for_status()
    with httpx.stream("GET", f"{app}gradio_api/queue/data", params={"session_hash": session}, timeout=60) as stream:
        tokens = 0
        for line in stream.iter_lines():
            if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_generating":
                tokens += 1
                if tokens >= 3:
                    break  # the client goes away mid-reply
    wait_until(lambda: engine.scheduler.active == 0 and not engine.scheduler.waiting, 60, "the reply to be dropped")
    ref = sessions._replies.get(session)
    reply = ref() if ref else None
    assert reply is not None and not reply.dec.done and len(reply.dec.steps) < 1000


def _fn_index(url: str, api_name: str) -> int:
    import httpx

    config = httpx.get(f"{url}config", timeout=30).json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name.strip("/"))
