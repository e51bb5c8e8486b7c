"""Batched decoding (playground/scheduler.py) on the real model: a reply decoded in a batch is the reply
decoded alone (same seed, same settings), its record is what it sampled from, and the batch is fair."""

from __future__ import annotations

import queue
import threading

import pytest
import torch

from playground import batch
from playground.params import build
from playground.records import Step
from playground.scheduler import QueueFull, Scheduler, Waiting

pytestmark = pytest.mark.model

# Different settings, penalties, stop strings, greedy and sampled, different prompt lengths.
CASES = [
    ("Hi", dict(seed=1, max_new_tokens=12)),
    ("Write a poem about the sea", dict(seed=2, temperature=0.8, top_k=40, max_new_tokens=14)),
    ("Name three colours.", dict(do_sample=False, max_new_tokens=12)),
    ("Count to ten", dict(seed=3, top_p=0.9, presence_penalty=0.5, frequency_penalty=0.3, max_new_tokens=14)),
    ("Say hello in French", dict(seed=4, repetition_penalty=1.3, stop=["!"], max_new_tokens=16)),
    ("What is 2+2?", dict(seed=5, min_p=0.1, logit_bias={"Two": 3}, max_new_tokens=10)),
    ("Tell me a joke", dict(seed=6, temperature=1.3, sampler_order="temperature_last", max_new_tokens=14)),
    ("Why is the sky blue?", dict(seed=7, no_repeat_ngram_size=2, min_new_tokens=6, max_new_tokens=12)),
]


def decoder(engine, case, **kw):
    text, settings = case
    return engine.decoder([{"role": "user", "content": text}], build(settings), top_n=20, **kw)


def solo(engine, case, **kw):
    dec = decoder(engine, case, **kw)
    while not dec.done:
        dec.step()
    return dec


def drain(job):
    return [u for u in job.updates(poll=0.05)]


@pytest.fixture(scope="module")
def solos(engine):
    return [solo(engine, c) for c in CASES]


def same_reply(a, b):
    """Same tokens, same text, same finish, and the same record: candidates, fates, chosen probabilities."""
    assert a.token_ids == b.token_ids and a.result().text == b.result().text and a.finish == b.finish
    for x, y in zip(a.steps, b.steps):
        assert [(c.id, c.removed_by) for c in x.candidates] == [(c.id, c.removed_by) for c in y.candidates]
        assert x.prob == pytest.approx(y.prob, abs=1e-4) and x.rank == y.rank


@pytest.mark.parametrize("size", [2, 8])
def test_batched_replies_equal_solo_replies(engine, solos, size):
    sched = Scheduler(engine.model, batch_size=size)
    jobs = [sched.submit(decoder(engine, c), user=str(i)) for i, c in enumerate(CASES)]
    for job in jobs:
        drain(job)
    for alone, job in zip(solos, jobs):
        same_reply(alone, job.dec)
    tokens = sum(len(j.dec.steps) for j in jobs)
    # shared passes: each batched pass served several replies (the first token of each comes from its prompt pass)
    assert sched.forwards < tokens - len(jobs)
    assert sched.forwards >= max(len(j.dec.steps) for j in jobs) - 1


def test_replies_admitted_together_get_their_first_token_before_the_later_prompts_run(engine, solos, monkeypatch):
    """8 replies admitted at once: their prompts run a few at a time (one padded pass each), and each reply's first
    token is sent before the next prompts run, users in turn; the batch's cache is copied once for all of them
    (counted: prompts run when each first token is sent, passes, slab copies), and every reply is its solo one."""
    longest = max(len(decoder(engine, c).prompt) for c in CASES)
    monkeypatch.setattr(batch, "PREFILL_TOKENS", 3 * longest)  # at most 3 prompts a pass: 3 + 3 + 2
    sched = Scheduler(engine.model, batch_size=8)
    passes, firsts, slabs = [], [], []  # prompts per prompt pass; (reply, prompts run) at each first token

    def count_prompts(module, args, kwargs):
        if kwargs["input_ids"].shape[1] > 1:
            passes.append(kwargs["input_ids"].shape[0])

    class Seen(queue.SimpleQueue):
        def __init__(self, i):
            self.i = i

        def put(self, item, block=True, timeout=None):
            if isinstance(item, Step) and item.step == 0:
                firsts.append((self.i, sum(passes)))
            super().put(item, block, timeout)

    copy, forward = sched.batch._slab, sched.batch.forward
    monkeypatch.setattr(sched.batch, "_slab", lambda: (slabs.append(1), copy())[1])
    monkeypatch.setattr(sched.batch, "forward", lambda: (slabs.append("forward"), forward())[1])
    hook = engine.model.register_forward_pre_hook(count_prompts, with_kwargs=True)
    try:
        with sched.cond:  # the loop admits nothing until all 8 wait: they are admitted together
            jobs = [sched.submit(decoder(engine, c), user=str(i)) for i, c in enumerate(CASES)]
            for i, job in enumerate(jobs):
                job.events = Seen(i)
        for job in jobs:
            drain(job)
    finally:
        hook.remove()
    assert passes == [3, 3, 2]  # 8 prompts in 3 passes (the old loop: 8 passes before any first token)
    assert firsts == [(0, 3), (1, 3), (2, 3), (3, 6), (4, 6), (5, 6), (6, 8), (7, 8)]
    assert slabs.index("forward") == 1  # one copy of the cache for the 8 joining rows
    assert slabs.count(1) <= len(jobs)  # later, a copy only when rows leave (not at every step)
    for alone, job in zip(solos, jobs):
        same_reply(alone, job.dec)


def test_the_record_is_what_was_sampled(engine):
    """Replaying the chain on the kept logits with a fresh generator of the same seed draws the same tokens."""
    sched = Scheduler(engine.model, batch_size=4)
    jobs = [sched.submit(decoder(engine, c, keep_logits=True), user=str(i)) for i, c in enumerate(CASES[:4])]
    for job in jobs:
        drain(job)
    for job in jobs:
        dec = job.dec
        gen = torch.Generator().manual_seed(dec.seed)
        for k, step in enumerate(dec.steps):
            trace = dec.trace_at(k)
            if dec.sample:
                again = int(torch.multinomial(torch.softmax(trace.final, dim=-1), 1, generator=gen)[0, 0])
            else:
                again = int(torch.argmax(trace.final))
            assert again == step.token_id
            assert step.prob == pytest.approx(float(torch.softmax(
                (trace.final if dec.sample else trace.pre_warper)[0], dim=-1)[step.token_id]), rel=1e-6)


def test_cancel_one_reply_and_the_others_go_on_unchanged(engine, solos):
    sched = Scheduler(engine.model, batch_size=4)
    long = ("Tell me a long story about a dragon", dict(seed=9, max_new_tokens=40, min_new_tokens=40))
    victim = sched.submit(decoder(engine, long), user="victim")
    others = [sched.submit(decoder(engine, c), user=str(i)) for i, c in enumerate(CASES[:3])]
    seen = 0
    for update in victim.updates(poll=0.05):
        seen += not isinstance(update, Waiting)
        if seen == 3:
            victim.cancel.set()
    assert victim.finished and not victim.dec.done and 3 <= len(victim.dec.steps) < 40
    for alone, job in zip(solos, others):
        drain(job)
        same_reply(alone, job.dec)
    # a cancelled reply stays open with its own cache: stepping it goes on where it stopped
    victim.dec.step()
    assert len(victim.dec.steps) >= 4


def test_a_reply_joins_a_running_batch(engine, solos):
    sched = Scheduler(engine.model, batch_size=4)
    first = sched.submit(decoder(engine, CASES[1]), user="a")
    updates = first.updates(poll=0.05)
    while len(first.dec.steps) < 4:
        next(updates)
    late = sched.submit(decoder(engine, CASES[3]), user="b")  # a longer prompt: the batch pads its rows
    for _ in updates:
        pass
    drain(late)
    same_reply(solos[1], first.dec)
    same_reply(solos[3], late.dec)
    assert late.dec.steps and first.dec.steps


def test_turns_are_fair_and_one_reply_per_user_is_in_flight(engine):
    """One place in the batch: a short reply is not starved by a long one (turns of `quantum` steps), and a
    user's second reply waits behind their first."""
    sched = Scheduler(engine.model, batch_size=1, quantum=4)
    order = []
    lock = threading.Lock()

    def watch(name, job):
        def run():
            drain(job)
            with lock:
                order.append(name)
        t = threading.Thread(target=run)
        t.start()
        return t

    long = ("Tell me a long story", dict(seed=1, max_new_tokens=40, min_new_tokens=40))
    short = ("Hi", dict(seed=2, max_new_tokens=3, min_new_tokens=3))
    a1 = sched.submit(decoder(engine, long), user="a")
    a2 = sched.submit(decoder(engine, short), user="a")  # behind a's first reply, though it is short
    b = sched.submit(decoder(engine, short), user="b")
    threads = [watch("a1", a1), watch("a2", a2), watch("b", b)]
    for t in threads:
        t.join(timeout=300)
    assert order.index("b") < order.index("a1")  # b's short reply got its turn before a's long one ended
    assert order.index("a1") < order.index("a2")  # a's second reply only started after the first
    assert len(a1.dec.steps) == 40 and len(b.dec.steps) == 3


def test_the_queue_cap_is_enforced_with_a_message(engine):
    sched = Scheduler(engine.model, batch_size=1, queue_size=1)
    with sched.cond:  # the loop cannot admit anything meanwhile: the first reply stays in the queue
        first = sched.submit(decoder(engine, CASES[0]), user="x")
        with pytest.raises(QueueFull, match="queue_size"):
            sched.submit(decoder(engine, CASES[0]), user="y")
    drain(first)
    assert first.dec.done


def test_a_queued_reply_is_told_its_place(engine):
    sched = Scheduler(engine.model, batch_size=1, quantum=100)
    first = sched.submit(decoder(engine, ("Count to twenty", dict(seed=1, max_new_tokens=12, min_new_tokens=12))), user="a")
    next(u for u in first.updates(poll=0.05) if not isinstance(u, Waiting))  # it holds the one place now
    second = sched.submit(decoder(engine, CASES[0]), user="b")
    places = [u for u in second.updates(poll=0.05) if isinstance(u, Waiting)]
    drain(first)
    assert places and places[0].ahead == 0 and any(p.seconds for p in places)
    assert len(second.dec.steps) > 0
