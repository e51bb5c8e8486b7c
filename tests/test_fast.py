"""The fast decode path (playground/fast.py): a static KV cache and a compiled one-token step.

It must give exactly the eager path's tokens and records over the equivalence cases, keep doing so
across a branch and through the scheduler (alone on its own cache, and batched with others), and
convert caches without losing a value. Not timed: bench/decode.py measures the speed. The first run
compiles the step (a minute or two on 2 cores); the compiled kernels are then reused from disk.
"""

from __future__ import annotations

import pytest
import torch
from transformers import DynamicCache, StaticCache

from playground import fast
from playground.engine import Engine
from playground.params import build
from playground.scheduler import Scheduler
from tests.test_equivalence import COMBOS, PROMPTS
from tests.test_scheduler import CASES, decoder, drain, same_reply, solo

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def quick(loaded):
    """An engine with the fast path on, its 512-token step compiled (or loaded from the compile cache)."""
    eng = Engine(loaded, fast=True)
    if fast.unavailable(eng.model):
        pytest.skip(f"the fast path cannot run here: {fast.unavailable(eng.model)}")
    assert eng.fast.wait(512, timeout=1200), eng.fast.reason
    return eng


def replies_match(a, b):
    """Same tokens, finish and text; every step's candidates with their fates, ranks and probabilities."""
    assert a.token_ids == b.token_ids, (a.token_ids, b.token_ids)
    assert a.finish_reason == b.finish_reason and a.text == b.text
    for x, y in zip(a.steps, b.steps):
        assert [(c.id, c.removed_by, c.kept) for c in x.candidates] == [(c.id, c.removed_by, c.kept) for c in y.candidates]
        assert x.rank == y.rank and x.prob == pytest.approx(y.prob, abs=1e-4)
        assert [c.prob_final for c in x.candidates] == pytest.approx([c.prob_final for c in y.candidates], abs=1e-4)


@pytest.mark.parametrize("prompt_no,values,seed", COMBOS, ids=[f"combo{i}" for i in range(len(COMBOS))])
def test_fast_path_gives_the_eager_tokens_and_records(engine, quick, prompt_no, values, seed):
    params = build(values, seed=seed)
    prompt = engine.prompt_ids(PROMPTS[prompt_no])
    before = quick.fast.steps
    mine = list(quick.stream([], params, prompt=prompt, top_n=50))[-1]
    theirs = list(engine.stream([], params, prompt=prompt, top_n=50))[-1]
    replies_match(mine, theirs)
    assert quick.fast.steps - before == len(mine.token_ids) - 1  # every step after the prompt pass ran compiled


def test_caches_convert_without_loss(loaded):
    model = loaded.model
    dyn = DynamicCache(config=model.config)
    with torch.inference_mode():
        model(input_ids=torch.tensor([[5, 6, 7, 8]]), past_key_values=dyn, use_cache=True)
        static = fast.to_static(model, dyn, 512)
        back = fast.to_dynamic(model, static)
    assert isinstance(static, StaticCache) and fast.seq_len(static) == 4 and fast.seq_len(back) == 4
    for a, b in zip(dyn.layers, back.layers):
        assert torch.equal(a.keys, b.keys) and torch.equal(a.values, b.values)
    copy = fast.copy_cache(model, static)
    fast.crop(copy, 2)
    assert fast.seq_len(copy) == 2 and fast.seq_len(static) == 4  # the copy is its own
    assert torch.equal(fast.to_dynamic(model, copy).layers[0].keys, dyn.layers[0].keys[:, :, :2])


def test_a_branch_of_a_fast_reply_is_the_eager_branch(engine, quick):
    params = build(seed=11, temperature=0.9, max_new_tokens=12)
    other = build(seed=12, temperature=1.2, top_k=20, max_new_tokens=12)
    msgs = [{"role": "user", "content": "Tell me about owls."}]
    replies = []
    for eng in (quick, engine):
        dec = eng.decoder(msgs, params, keep_logits=True)
        while not dec.done:
            dec.step()
        for k in (3, 7):  # with the step's logits kept, and (keep_logits as a count) without
            branch = dec.branch(k, other)
            while not branch.done:
                branch.step()
            replies.append(branch.result())
    for mine, theirs in zip(replies[:2], replies[2:]):
        replies_match(mine, theirs)


def test_the_scheduler_serves_a_fast_reply_alone_and_in_a_batch(engine, quick):
    """One reply alone steps on its own static cache (compiled); others joining move it into the batch
    and back: every reply equals its solo eager decode."""
    sched = Scheduler(quick.model, batch_size=2)
    before = quick.fast.steps
    jobs = [sched.submit(decoder(quick, c), user=str(i)) for i, c in enumerate(CASES[:4])]
    for job in jobs:
        drain(job)
    for case, job in zip(CASES[:4], jobs):
        same_reply(solo(engine, case), job.dec)
    assert quick.fast.steps > before  # some steps ran compiled (a reply alone in the batch)


@pytest.mark.parametrize("env,flag,expected", [(None, None, False), ("0", None, False), ("off", None, False),
                                               ("1", None, True), ("on", None, True), ("0", True, True),
                                               ("1", False, False)])
def test_the_switch(monkeypatch, env, flag, expected):
    if env is None:
        monkeypatch.delenv("PLAYGROUND_FAST", raising=False)
    else:
        monkeypatch.setenv("PLAYGROUND_FAST", env)
    assert fast.wanted(flag) is expected
