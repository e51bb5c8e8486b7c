"""A non-streamed API request whose client disconnects is cancelled (playground/api.py, `_unless_gone`).

The request asks for many tokens (min_new_tokens holds the end off), the client waits until the scheduler holds
its reply, then closes the connection. The scheduler must let the reply go within a bounded number of batched steps
(counted with `Scheduler.forwards`, not timed): far fewer than the reply would have taken.
"""

from __future__ import annotations

import json
import socket
import time

import pytest
from fastapi import FastAPI

from playground import api
from playground.limits import Limits
from tests.browser_util import free_port

pytestmark = pytest.mark.model
TOKENS = 400  # the reply the client asked for; it must be dropped within STEPS steps of the disconnect
STEPS = 40


def wait_for(predicate, give_up: float = 120.0) -> bool:
    """Poll `predicate` until it holds; False after `give_up` s (a generous bound that only stops a hung test)."""
    end = time.monotonic() + give_up
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def test_a_dropped_non_streamed_request_is_cancelled_within_a_few_steps(engine):
    from playground.ui.server import Served

    app = FastAPI()
    app.include_router(api.router(engine, Limits(max_new_tokens_cap=TOKENS)))
    served = Served(app, None, port=free_port()).start()
    sched = engine.scheduler
    try:
        body = json.dumps({"model": "SmolLM2-135M-Instruct", "messages": [{"role": "user", "content": "Tell a long story."}],
                           "max_tokens": TOKENS, "min_new_tokens": TOKENS, "seed": 1}).encode()
        request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        submitted = sched.submitted
        conn = socket.create_connection(("127.0.0.1", served.port))
        conn.sendall(request)
        assert wait_for(lambda: sched.submitted > submitted and sched.active >= 1), "the reply never started"
        job = next(j for j in sched.batch.jobs if j.user.startswith("api-"))
        at = sched.forwards
        conn.close()  # the client is gone
        assert wait_for(lambda: job.finished or sched.forwards - at > STEPS), "the scheduler stopped stepping"
        assert job.finished and sched.forwards - at <= STEPS, f"still decoding {sched.forwards - at} steps after the disconnect"
        assert job.cancel.is_set() and job.dec.result().finish_reason == "cancelled"
        assert len(job.dec.steps) < TOKENS and sched.active == 0
    finally:
        served.close()
