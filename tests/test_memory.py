"""Bounded memory per session (issue 14, section 3), on the real model: what a reply keeps after it ends,
that an older step still opens from its record, that a session's data is freed when it leaves, and that
beam search keeps no per-token score tensors."""

from __future__ import annotations

import gc
import tracemalloc
from types import SimpleNamespace

import pytest

from playground.params import build
from playground.scheduler import Waiting
from playground.ui import chat, sessions, step_view
from tests.ui_util import frame, last, values

pytestmark = pytest.mark.model
QUESTION = "Tell me a long story about a lighthouse keeper."


def kept_tensor_bytes(reply) -> int:
    out = 0
    for dec in reply.decoders:
        out += sum(t.element_size() * t.nelement() for t in dec.logit_history if t is not None)
        if dec.cache is not None:
            out += sum(x.element_size() * x.nelement() for layer in dec.cache.layers for x in (layer.keys, layer.values))
    return out


def test_a_200_token_reply_keeps_under_20_mb_and_every_step_still_opens(engine):
    vals = values(max_new_tokens=200, min_new_tokens=200, seed=1)
    gc.collect()
    tracemalloc.start()
    try:
        history, _, status, steps, reply = last(chat.send(engine, QUESTION, [], "", {}, *vals))
        gc.collect()
        python_bytes = tracemalloc.get_traced_memory()[0]  # the records: steps, candidates, chain rows
    finally:
        tracemalloc.stop()
    dec = reply.dec
    assert len(steps) == 200 and dec.cache is None  # an ended reply keeps no KV cache
    kept = [k for k in range(200) if dec.has_logits(k)]
    assert kept == list(range(200 - chat.KEPT_LOGITS, 200))  # the latest steps' full logits only
    total = python_bytes + kept_tensor_bytes(reply)
    assert total < 20e6, f"{total / 1e6:.1f} MB kept for one session"
    # the first step has no logits any more: it opens from its record, with the chain it was sampled through
    reply.selected = 0
    info, fig, chain, raw_final, orders, cands, _ = step_view.show(engine, reply, 0)
    assert step_view.RECORD_ONLY in info and fig is not None and raw_final is not None and orders is None
    assert list(frame(chain["value"])["stage"]) == [r["label"] for r in steps[0].stages] != []
    # a step with its logits kept draws the order comparison too
    assert step_view.show(engine, reply, 199)[4] is not None


def test_a_session_that_leaves_is_freed_and_its_reply_cancelled(engine):
    run = {"user": "session-that-leaves"}
    gen = chat.send(engine, QUESTION, [], "", run, *values(max_new_tokens=400, min_new_tokens=400, seed=2))
    reply = None
    while reply is None or len(reply.dec.steps) < 3:
        out = next(gen)[4]
        reply = out if isinstance(out, chat.Reply) else reply
    job = reply.job
    sessions.left(engine, SimpleNamespace(session_hash="session-that-leaves"))  # gradio's unload, the tab closed
    assert job.finished and job.cancel.is_set() and not reply.dec.done  # cancelled within a step, not run out
    assert len(reply.dec.steps) == 0 and reply.dec.logit_history == [] and reply.dec.cache is None
    gen.close()
    assert "session-that-leaves" not in sessions._replies


def test_an_expired_reply_is_freed(engine):
    """gradio drops a State after its time to live and calls its delete callback (layout.py): the reply frees."""
    reply = last(chat.send(engine, "Hi", [], "", {}, *values(max_new_tokens=8, seed=3)))[4]
    assert reply.dec.steps and any(t is not None for t in reply.dec.logit_history)
    sessions.forget(reply)
    assert reply.dec.steps == [] and reply.dec.logit_history == []


def test_a_queued_reply_of_a_leaving_session_never_starts(engine):
    sched = engine.scheduler
    old = sched.batch_size
    sched.resize(1, sched.queue_size)
    try:
        hold = chat.send(engine, QUESTION, [], "", {"user": "holder"}, *values(max_new_tokens=60, min_new_tokens=60, seed=4))
        while sched.active == 0:
            next(hold)
        run = {"user": "queued-then-gone"}
        gen = chat.send(engine, "Hi", [], "", run, *values(max_new_tokens=8, seed=5))
        out = next(gen)
        while "Waiting" not in out[2]:
            out = next(gen)
        sessions.left(engine, SimpleNamespace(session_hash="queued-then-gone"))
        rest = list(gen)
        assert rest and rest[-1][3] == []  # it left the queue without a single step
        hold.close()
    finally:
        sched.resize(old, sched.queue_size)


def test_beam_search_keeps_no_per_token_scores(engine, monkeypatch):
    seen = {}
    real = engine.model.generate

    def generate(*a, **kw):
        seen.update(kw)
        return real(*a, **kw)

    monkeypatch.setattr(engine.model, "generate", generate)
    beams, done = engine.beams([{"role": "user", "content": "Hi"}], build(num_beams=3, num_return_sequences=2,
                                                                           max_new_tokens=6))
    assert not any(seen.get(k) for k in ("output_scores", "output_logits", "return_dict_in_generate"))
    assert len(beams) == 2 and all(b.score < 0 for b in beams)


def test_waiting_is_a_place_not_a_reply():
    assert chat.waiting(Waiting(0, 1.2)) == "Waiting for a place in the batch: next in line, about 1 s."
    assert chat.waiting(Waiting(3, None)) == "Waiting for a place in the batch: 3 replies ahead."
