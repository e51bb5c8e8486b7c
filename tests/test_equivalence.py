"""The engine's decode loop against transformers' `generate()` on the real bundled model.

For many random parameter sets (and greedy), `Engine.stream` with seed s must sample exactly the
tokens `model.generate(**engine.generate_kwargs(...))` samples after `torch.manual_seed(s)`, and
at every step the engine's chain must leave exactly the tokens finite that `generate()` leaves
finite in its `scores`. This is what makes the plot trustworthy: it shows what generation uses.
"""

from __future__ import annotations

import random

import pytest
import torch

from playground import sampling
from playground.engine import Done
from playground.params import build
from playground.stages import STAGES

PROMPTS = [
    [{"role": "user", "content": "Write a short poem about the sea."}],
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "user", "content": "List some fruits."}],
]
MAX_NEW = 10


def draw(rng: random.Random, vocab: int) -> dict:
    """A random parameter set: each knob is on with some probability, values inside their ranges."""
    v: dict = {"max_new_tokens": MAX_NEW, "sampler_order": rng.choice(["transformers", "temperature_last"])}
    maybe = lambda p: rng.random() < p
    if maybe(0.7):
        v["temperature"] = rng.choice([0.3, 0.7, 1.3, 2.0, 3.0])
    if maybe(0.4):
        v["top_k"] = rng.choice([1, 5, 40, 200])
    if maybe(0.4):
        v["top_p"] = rng.choice([0.3, 0.8, 0.95])
    if maybe(0.4):
        v["min_p"] = rng.choice([0.02, 0.1, 0.3])
    if maybe(0.3):
        v["typical_p"] = rng.choice([0.5, 0.9])
    if maybe(0.3):
        v["epsilon_cutoff"] = rng.choice([0.0003, 0.003])
    if maybe(0.3):
        v["eta_cutoff"] = rng.choice([0.0003, 0.003])
    if maybe(0.4):
        v["repetition_penalty"] = rng.choice([0.8, 1.2, 1.5])
    if maybe(0.3):
        v["presence_penalty"] = rng.choice([-1.0, 0.5, 2.0])
    if maybe(0.3):
        v["frequency_penalty"] = rng.choice([-0.5, 0.7, 1.5])
    if maybe(0.3):
        v["no_repeat_ngram_size"] = rng.choice([1, 2, 3])
    if maybe(0.3):
        v["min_new_tokens"] = rng.choice([2, 5, MAX_NEW])
    if maybe(0.3):
        v["logit_bias"] = {str(rng.randrange(vocab)): rng.choice([-100.0, -3.0, 4.0]) for _ in range(rng.randint(1, 3))}
    return v


def combos() -> list[tuple[int, dict, int]]:
    rng = random.Random(20261128)
    out = [(0, {"max_new_tokens": MAX_NEW, "do_sample": False}, 0),
           (1, {"max_new_tokens": MAX_NEW, "temperature": 0, "repetition_penalty": 1.3, "no_repeat_ngram_size": 2,
                "min_new_tokens": 4, "logit_bias": {"17": 5.0}}, 0)]
    out += [(2, {"max_new_tokens": MAX_NEW}, 7),  # plain sampling: catches a hidden top_k=50
            (0, {"max_new_tokens": MAX_NEW, "temperature": 1.5, "min_p": 0.05}, 8),
            (0, {"max_new_tokens": MAX_NEW, "temperature": 1.5, "min_p": 0.05, "sampler_order": "temperature_last"}, 8),
            (1, {"max_new_tokens": MAX_NEW, "logit_bias": {" Paris": -100, "Paris": -100, "The": 3}, "frequency_penalty": 1.0}, 9)]
    for i in range(12):
        out.append((i % len(PROMPTS), draw(rng, 49152), rng.randrange(2**32)))
    # The peers' samplers (ours): generate() runs them as user processors, the chain in our order.
    out += [(0, {"max_new_tokens": MAX_NEW, "temperature": 0.9, "top_n_sigma": 1.5, "xtc_probability": 0.5,
                 "xtc_threshold": 0.05, "min_p": 0.02}, 21),
            (2, {"max_new_tokens": MAX_NEW, "dry_multiplier": 0.8, "dynatemp_range": 0.5, "temperature": 1.2, "top_a": 0.1}, 22),
            (1, {"max_new_tokens": MAX_NEW, "smoothing_factor": 0.4, "tfs": 0.9, "top_k": 40,
                 "sampler_order": "text-generation-webui"}, 23),
            (0, {"max_new_tokens": MAX_NEW, "xtc_probability": 1.0, "top_k": 20, "temperature": 1.5,
                 "sampler_order": "temperature_last"}, 24),
            (2, {"max_new_tokens": MAX_NEW, "do_sample": False, "dry_multiplier": 1.5, "dry_allowed_length": 1}, 0),
            # mirostat: generate() runs it as its last filter, then its own draw (MirostatV2LogitsWarper)
            (1, {"max_new_tokens": MAX_NEW, "mirostat": 2, "mirostat_tau": 3.0, "mirostat_eta": 0.3, "temperature": 0.9,
                 "top_k": 5, "repetition_penalty": 1.1}, 25)]
    return out


COMBOS = combos()


def stream_recording(engine, prompt, params, monkeypatch):
    """Run `Engine.stream` to the end, keeping the trace of every step it sampled from (no extra forward pass)."""
    traces = []
    real_run = sampling.run

    def recording_run(stages, input_ids, logits):
        trace = real_run(stages, input_ids, logits)
        traces.append((input_ids[0].tolist(), trace))
        return trace

    monkeypatch.setattr(sampling, "run", recording_run)
    items = list(engine.stream([], params, prompt=prompt))
    monkeypatch.setattr(sampling, "run", real_run)
    done = items[-1]
    assert isinstance(done, Done) and all(not isinstance(x, Done) for x in items[:-1])
    assert [s.token_id for s in items[:-1]] == done.token_ids
    return done, traces


@pytest.mark.model
@pytest.mark.parametrize("prompt_no,values,seed", COMBOS, ids=[f"combo{i}" for i in range(len(COMBOS))])
def test_stream_matches_generate(engine, monkeypatch, prompt_no, values, seed):
    params = build(values, seed=seed)
    prompt = engine.prompt_ids(PROMPTS[prompt_no])
    done, traces = stream_recording(engine, prompt, params, monkeypatch)
    mine = done.token_ids
    assert done.seed == (seed if params.mode == "sample" else None)

    kw = engine.generate_kwargs(params, len(prompt))
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = engine.model.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                                    **kw, output_scores=True, output_logits=True, return_dict_in_generate=True)
    theirs = out.sequences[0, len(prompt):].tolist()

    n = min(len(mine), len(theirs))
    assert mine[:n] == theirs[:n], (params.changed(), mine, theirs)
    assert len(mine) == len(theirs), (params.changed(), mine, theirs)
    assert done.finish_reason == ("eos" if mine[-1] in engine.eos_ids else "length")
    assert len(traces) == len(mine)

    stages = engine.stages(params, len(prompt))
    # A pick generate() runs as a filter (mirostat): its scores are what the pick left, not the chain's final.
    drawn = (lambda tr: tr.picked) if STAGES[stages.pick.name].processor else (lambda tr: tr.final)
    for k in range(n):
        ids, trace = traces[k]
        assert ids == prompt + mine[:k]
        # the engine's own logits (KV-cached forward) and final scores, as it sampled from them
        assert torch.allclose(trace.raw, out.logits[k], atol=2e-3), f"step {k}: raw logits differ"
        got, want = torch.isfinite(drawn(trace)[0]), torch.isfinite(out.scores[k][0])
        assert torch.equal(got, want), (k, params.changed(), (got ^ want).nonzero().flatten().tolist())
        assert got[mine[k]]
        # the same chain (its pick in the state it had at step k) on generate's own raw logits gives its scores
        same = sampling.run(sampling.Chain(stages, trace.pick), torch.tensor([ids]), out.logits[k].float())
        assert torch.equal(torch.isfinite(drawn(same)), torch.isfinite(out.scores[k]))
        finite = torch.isfinite(out.scores[k])
        assert torch.allclose(drawn(same)[finite], out.scores[k][finite], rtol=1e-5, atol=1e-5)


def test_combos_cover_every_knob():
    """The drawn sets really exercise every parameter and both orders (guards the generator above)."""
    seen: set[str] = set()
    orders = set()
    for _, values, _ in COMBOS:
        p = build(values)
        seen |= set(p.changed())
        orders.add(p.sampler_order)
    knobs = {"temperature", "top_k", "top_p", "min_p", "typical_p", "epsilon_cutoff", "eta_cutoff", "repetition_penalty",
             "presence_penalty", "frequency_penalty", "no_repeat_ngram_size", "min_new_tokens", "logit_bias", "do_sample"}
    assert knobs <= seen, knobs - seen
    assert orders == {"transformers", "temperature_last", "text-generation-webui"}
