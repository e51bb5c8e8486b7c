"""The concept presets of the samplers issue 8 added (dynamic temperature, smoothing, top-a, tail-free,
mirostat) show their point on the bundled model: each checked on real traces at a sure step and an open
one, as the descriptions tell the visitor to look (DRY, XTC and top-n-sigma: tests/test_samplers.py)."""

from __future__ import annotations

import math

import pytest
import torch

from playground import presets
from playground.samplers import DynamicTemperatureLogitsWarper

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def sure(engine):
    """A step the model is sure of: " Paris" at 95%."""
    ids = engine.prompt_ids([{"role": "user", "content": "What is the capital of France?"}])
    return ids + engine.tokenizer.encode("The capital of France is", add_special_tokens=False)


@pytest.fixture(scope="module")
def story(engine):
    """An open step: the dragon's adjective (" dragon", " brave", " magnificent"... each under 20%)."""
    ids = engine.prompt_ids([{"role": "user", "content": "Write a long story about a dragon."}])
    return ids + engine.tokenizer.encode("Once upon a time, there was a", add_special_tokens=False)


@pytest.fixture(scope="module")
def colour(engine):
    """An open step with a long flat tail: the first word of a reply to "Name a colour." (top token 17%)."""
    return engine.prompt_ids([{"role": "user", "content": "Name a colour."}])


def kept(trace) -> int:
    return int(torch.isfinite(trace.final).sum())


def top(trace) -> float:
    return float(trace.probs().max())


def test_dynamic_temperature_cools_a_sure_step_and_warms_an_open_one(engine, sure, story):
    params = presets.load_preset("dynatemp-follows-the-model")
    plain = params.replace(dynatemp_range=0.0)
    warper = DynamicTemperatureLogitsWarper(params.temperature, params.dynatemp_range, params.dynatemp_exponent)
    temps = {}
    for name, ids in (("sure", sure), ("story", story)):
        tr = engine.trace(ids, params)
        names = [s.name for s in tr.stages]
        assert names[-2:] == ["top_k", "dynatemp"]  # temperature last: the entropy of the 40 candidates
        temps[name] = float(warper.temperature(tr.scores[names.index("dynatemp")]))
        assert (top(tr) > top(engine.trace(ids, plain))) == (name == "sure")  # sharper when sure, flatter when open
    assert temps["sure"] < 0.7 and temps["story"] > 1.1, temps  # the range is 0.5 to 1.5


def test_smoothing_evens_the_top_and_cuts_the_tail_where_temperature_fattens_it(engine, story):
    params = presets.load_preset("smoothing-evens-the-top")
    raw = engine.trace(story, params.replace(smoothing_factor=0.0)).probs()[0]
    order = raw.argsort(descending=True)

    def spread_and_tail(p):  # top-1 / top-3 (1 = even), and the mass past the model's top 20
        return float(p[order[0]] / p[order[2]]), float(p[order[20:]].sum())

    spread, tail = spread_and_tail(raw)
    smooth_spread, smooth_tail = spread_and_tail(engine.trace(story, params).probs()[0])
    hot_spread, hot_tail = spread_and_tail(engine.trace(story, params.replace(smoothing_factor=0.0, temperature=1.5)).probs()[0])
    assert smooth_spread < spread and hot_spread < spread  # both even out the top three...
    assert smooth_tail < tail / 5 and hot_tail > tail  # ...smoothing cuts the tail, the temperature feeds it
    assert kept(engine.trace(story, params)) == raw.shape[-1]  # with no hard cut


def test_top_a_is_strict_when_sure_and_loose_when_open(engine, sure, colour):
    params = presets.load_preset("top-a-vs-min-p")
    assert kept(engine.trace(sure, params)) == 1
    tr = engine.trace(colour, params)
    p, cut = tr.probs(-1)[0], params.top_a * float(tr.probs(-1)[0].max()) ** 2
    assert torch.equal(torch.isfinite(tr.final[0]), p >= cut)  # the rule, token by token
    min_p = engine.trace(colour, params.replace(top_a=0.0, min_p=0.2))
    assert kept(tr) >= 20 and kept(min_p) <= 6, (kept(tr), kept(min_p))


def test_tail_free_cuts_a_flat_tail_that_top_p_keeps(engine, sure, colour):
    params = presets.load_preset("tail-free-vs-top-p")
    assert kept(engine.trace(sure, params)) == 1
    tfs, top_p = kept(engine.trace(colour, params)), kept(engine.trace(colour, params.replace(tfs=1.0, top_p=0.95)))
    assert 2 <= tfs <= 30 and top_p >= 10 * tfs, (tfs, top_p)


def test_mirostat_holds_the_surprise_near_tau_where_the_temperature_alone_derails(engine):
    params = presets.load_preset("mirostat-tames-high-temperature").replace(seed=1)
    messages = [{"role": "user", "content": "Write a long story about a dragon."}]

    def surprises(p, n=40):  # bits of each chosen token, in the distribution it was drawn from
        dec = engine.decoder(messages, p)
        steps = [dec.step() for _ in range(n)]
        return [-math.log2(s.prob) for s in steps], steps

    held, steps = surprises(params)
    wild, _ = surprises(params.replace(mirostat=0))
    mean = sum(held[10:]) / len(held[10:])  # after mu's first moves
    assert abs(mean - params.mirostat_tau) < 1.0, mean
    assert sum(wild) / len(wild) > 3 * params.mirostat_tau  # temperature 2.5 alone: 10+ bits a token
    assert steps[0].mu == 2 * params.mirostat_tau and len({round(s.mu, 6) for s in steps}) > 20  # mu moves every step
