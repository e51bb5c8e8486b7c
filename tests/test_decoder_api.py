"""The decoder's public inspection API on the real model (`trace_at`, `logits_at`, `peek`), its model
context instead of the Engine, and the step analysis (`step_analysis.analyse`) as plain data."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from playground import step_analysis
from playground.model_context import ModelContext
from playground.params import GenerationParams, build

pytestmark = pytest.mark.model

MSGS = [{"role": "user", "content": "Name three colours."}]


class CountingModel:
    """Counts the model's forward passes for the duration of a test."""

    def __init__(self, engine, monkeypatch):
        self.calls = 0
        real = engine.model.forward

        def forward(*a, **kw):
            self.calls += 1
            return real(*a, **kw)

        monkeypatch.setattr(engine.model, "forward", forward)


def plain(value, where="") -> None:
    """Fails on anything but plain Python data (numbers, strings, lists, tuples, dicts, dataclasses of them, the params)."""
    if isinstance(value, GenerationParams):  # a frozen pydantic model of plain values
        plain(value.model_dump(), where)
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            plain(getattr(value, f.name), f"{where}.{f.name}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            plain(v, f"{where}[{i}]")
    elif isinstance(value, dict):
        for k, v in value.items():
            plain(k, f"{where} key")
            plain(v, f"{where}[{k!r}]")
    else:
        assert value is None or type(value) in (int, float, str, bool), f"{where} is a {type(value).__name__}"


def test_the_decoder_gets_a_model_context_not_the_engine(engine, monkeypatch):
    dec = engine.decoder(MSGS, build(do_sample=False, max_new_tokens=3))
    assert isinstance(dec.lm, ModelContext) and not hasattr(dec, "engine")
    assert dec.lm.model is engine.model and dec.lm.eos_ids == tuple(engine.eos_ids) and dec.lm.label(42) == engine.label(42)
    monkeypatch.setattr(engine, "context", len(dec.prompt) + 2)  # built per reply: a later reply sees the engine as it is now
    assert engine.decoder(MSGS, build(do_sample=False, max_new_tokens=3)).budget == 2 and dec.budget == 3


def test_peek_runs_the_next_step_once_and_the_step_reuses_it(engine, monkeypatch):
    dec = engine.decoder(MSGS, build(temperature=0.8, top_k=20, seed=3, max_new_tokens=4), keep_logits=True)
    assert dec.logits_at(0) is None
    with pytest.raises(IndexError, match="not computed yet"):
        dec.trace_at(0)
    counting = CountingModel(engine, monkeypatch)
    assert dec.peek() and dec.peek() and counting.calls == 1  # one forward pass, however often it is asked
    logits = dec.logits_at(0)
    nxt = dec.trace_at(0)  # the next step, not chosen yet: the chain it will run
    assert logits is not None and torch.equal(nxt.raw, logits)
    survivors = set(torch.nonzero(torch.isfinite(nxt.picked[0])).flatten().tolist())
    assert len(survivors) == 20
    step = dec.step()
    assert counting.calls == 1 and step.token_id in survivors  # the step took the peeked pass, and drew from that chain
    assert dec.logits_at(0) is logits and torch.equal(dec.trace_at(0).final, nxt.final)  # the same step, once taken
    assert dec.logits_at(1) is None and dec.logits_at(5) is None and dec.logits_at(-1) is None
    with pytest.raises(IndexError, match=r"`k` must be in \[0, 1\], but is 5"):
        dec.trace_at(5)
    while not dec.done:
        dec.step()
    assert not dec.peek() and dec.logits_at(len(dec.steps)) is None and counting.calls == len(dec.steps)


def test_a_step_taken_traces_as_it_was_recorded(engine):
    dec = engine.decoder(MSGS, build(temperature=0.9, top_p=0.8, seed=5, max_new_tokens=5), keep_logits=2, top_n=10)
    while not dec.done:
        dec.step()
    assert [dec.logits_at(k) is not None for k in range(5)] == [False, False, False, True, True]  # the latest 2 kept
    assert len(dec.steps) == 5
    for k in (3, 4):
        probs = dec.trace_at(k).picked_probs[0]  # the chain run again on the kept logits, with the step's parameters
        for c in dec.steps[k].candidates:
            assert math.isclose(float(probs[c.id]), c.prob_final, abs_tol=1e-6)
    with pytest.raises(IndexError, match="no kept logits"):
        dec.trace_at(1)


def test_the_step_analysis_is_plain_data_for_a_kept_a_recorded_and_the_next_step(engine, monkeypatch):
    dec = engine.decoder(MSGS, build(temperature=0.9, top_k=30, min_p=0.05, seed=2, max_new_tokens=4), keep_logits=1,
                         top_n=50, report=True)
    for _ in range(3):
        dec.step()
    dec.peek()
    monkeypatch.setattr(engine.model, "forward", lambda *a, **kw: pytest.fail("taking a step apart must not run the model"))
    kept, recorded, nxt = (step_analysis.analyse(dec, k, top_n=12) for k in (2, 0, 3))
    for a in (kept, recorded, nxt):
        plain(a)
    assert kept.exact and kept.chosen == dec.token_ids[2] and kept.orders is not None
    assert [r[1] for r in kept.chain] == [r["label"] for r in dec.steps[2].stages]  # the chain rows as recorded
    assert kept.final.total == dec.steps[2].stages[-1]["kept"] and len(kept.final.top) == min(kept.final.total, 15)
    assert not recorded.exact and recorded.orders is None and recorded.chosen == dec.token_ids[0]
    for a in (kept, recorded):  # numbered from 1; each row's kept + removed == considered, and the next row gets what it kept
        assert [r[0] for r in a.chain] == list(range(1, len(a.chain) + 1)) and all(r[3] + r[4] == r[2] for r in a.chain)
        assert [r[2] for r in a.chain[1:]] == [r[3] for r in a.chain[:-1]]
    assert {b.id for b in recorded.candidates.bars} <= {c.id for c in dec.steps[0].candidates}
    assert nxt.step is None and nxt.chosen is None and nxt.exact and len(nxt.plot.bars) == 12
    assert sum(p for _, p in nxt.raw) <= 1 + 1e-6 and nxt.params == dec.params
    with pytest.raises(LookupError):
        step_analysis.analyse(dec, 4)


def _retraced(dec, k: int):
    """Step k traced again (`trace_at`): each candidate's (id, fate) and the chosen token's probability."""
    step, trace = dec.steps[k], dec.trace_at(k)
    fates = [(f.id, f.removed_by) for f in trace.candidates(dec.top_n, also=step.token_id)]
    return fates, float(trace.picked_probs[0, step.token_id])


def test_a_retune_with_another_seed_keeps_the_steps_taken_as_they_were_sampled(engine):
    """XTC's coin depends on the seed: a step taken, its analysis and a branch's kept steps are traced again with
    the seed in force when the step was taken, not the reply's current one; the next steps use the new seed."""
    params = build(xtc_probability=0.5, xtc_threshold=0.05, seed=1, max_new_tokens=12)
    dec = engine.decoder(MSGS, params, keep_logits=True, top_n=20, report=True)
    for _ in range(8):
        dec.step()
    recorded = [([(c.id, c.removed_by) for c in s.candidates], s.prob) for s in dec.steps]
    assert sum("xtc" in [r for _, r in fates] for fates, _ in recorded) not in (0, 8)  # the coin said yes and no
    dec.retune(params.replace(seed=999))
    assert dec.seed == 999 and dec.seed_at(7) == 1 and dec.seed_at(8) == 999
    for k in range(8):
        fates, prob = _retraced(dec, k)
        assert fates == recorded[k][0] and prob == pytest.approx(recorded[k][1], abs=1e-6), f"step {k}"
        assert step_analysis.analyse(dec, k, top_n=12).chosen == dec.token_ids[k]
        assert [r[1] for r in step_analysis.analyse(dec, k, top_n=12).chain] == [r["label"] for r in dec.steps[k].stages]
    dec.step()  # the next step draws XTC's coin with the new seed
    assert _retraced(dec, 8)[0] == [(c.id, c.removed_by) for c in dec.steps[8].candidates]
    branch = dec.branch(5)  # goes on with the reply's current parameters and seed; its kept steps keep theirs
    assert branch.seed == 999 and branch.seed_at(4) == 1 and branch.seed_at(5) == 999
    for k in range(5):
        assert _retraced(branch, k) == _retraced(dec, k)
    branch.step()
    assert _retraced(branch, 5)[0] == [(c.id, c.removed_by) for c in branch.steps[5].candidates]
    other = dec.branch(3, params.replace(seed=7))
    assert other.seed_at(2) == 1 and other.seed_at(3) == 7 and other.step().params.seed == 7
    assert _retraced(other, 3)[0] == [(c.id, c.removed_by) for c in other.steps[3].candidates]
