"""Mirostat v2, the chain's last link with a state: the cut and mu's update by hand, the filters it replaces,
and on the bundled model mu carried from step to step, through a forced token, a retune and a branch, and
shown by the inspector at each step."""

from __future__ import annotations

import math

import pytest
import torch

from playground import sampling, stage_rows
from playground.params import ParamError, build
from playground.samplers import MirostatPick, MirostatV2LogitsWarper

P = [0.5, 0.3, 0.2]


def trace_of(values: dict, ps=P, mu=None) -> sampling.Trace:
    chain = sampling.build_stages(build(values), 1, 7, None)
    if mu is not None:
        chain = sampling.Chain(chain, MirostatPick(chain.pick.tau, chain.pick.eta, mu))
    return sampling.run(chain, torch.tensor([[0]]), torch.tensor([[math.log(p) for p in ps]]))


def test_the_cut_and_the_update_by_hand():
    # tau 1: mu starts at 2 bits. Surprises: -log2 0.5 = 1, -log2 0.3 = 1.74, -log2 0.2 = 2.32 > 2: 0.2 goes
    tr = trace_of({"mirostat": 2, "mirostat_tau": 1.0})
    assert tr.pick.name == "mirostat" and tr.pick.level == 2.0
    assert torch.isfinite(tr.picked[0]).tolist() == [True, True, False]
    assert tr.picked_probs[0].tolist() == pytest.approx([0.625, 0.375, 0.0], abs=1e-6)
    # drawing token 1: surprise -log2 0.375 = 1.415 bits; mu = 2 - 0.1 * (1.415 - 1) = 1.9585
    assert tr.pick.after(tr, 1).level == pytest.approx(2 - 0.1 * (-math.log2(0.375) - 1), abs=1e-6)
    assert tr.pick.after(tr, 1).level == pytest.approx(1.9585, abs=1e-4)
    # token 0 (surprise 0.678 bits, below tau): mu rises
    up = tr.pick.after(tr, 0).level
    assert up == pytest.approx(2 - 0.1 * (-math.log2(0.625) - 1), abs=1e-6) and up > 2
    # a forced token the cut removed leaves mu as it was
    assert tr.pick.after(tr, 2).level == 2.0
    # a low mu keeps the top token at least: mu = 0.5 bit cuts every surprise above it, 0.5 (1 bit) too
    assert torch.isfinite(trace_of({"mirostat": 2}, mu=0.5).picked[0]).tolist() == [True, False, False]


def test_the_generate_filter_is_the_same_pick():
    w = MirostatV2LogitsWarper(1.0, 0.1)
    z = torch.tensor([[math.log(p) for p in P]])
    out = w(torch.tensor([[0]]), z)
    assert torch.isfinite(out).tolist() == [[True, True, False]] and w.mu == 2.0
    w(torch.tensor([[0, 1]]), z)  # generate() drew token 1 from what it left
    assert w.mu == pytest.approx(1.9585, abs=1e-4)
    assert torch.equal(z, torch.tensor([[math.log(p) for p in P]]))  # its input is untouched


def test_it_replaces_the_filters_but_temperature():
    chain = sampling.build_stages(build(mirostat=2, temperature=0.7, top_k=5, top_p=0.9, min_p=0.1, xtc_probability=1.0,
                                        repetition_penalty=1.2), 1, 7, None)
    assert [s.name for s in chain] == ["repetition_penalty", "temperature"] and chain.pick.name == "mirostat"
    assert sampling.build_stages(build(mirostat=2, do_sample=False), 1, 7, None).pick.name == "greedy"
    with pytest.raises(ParamError, match=r"`mirostat` must be 0 \(off\) or 2 \(Mirostat v2\), but is 1"):
        build(mirostat=1)
    assert "mirostat_tau" in build(mirostat=2, mirostat_tau=3.0).changed()


@pytest.mark.model
def test_mu_is_carried_through_a_reply_a_forced_token_a_retune_and_a_branch(engine):
    params = build(mirostat=2, mirostat_tau=3.0, mirostat_eta=0.2, seed=5, max_new_tokens=8)
    dec = engine.decoder([{"role": "user", "content": "Tell me about cats."}], params, keep_logits=True)
    for _ in range(3):
        dec.step()
    forced = dec.step(force=engine.tokenizer.encode(" zebra", add_special_tokens=False)[0])
    dec.retune(params.replace(mirostat_eta=0.5))
    dec.step()
    steps = dec.steps
    assert steps[0].mu == 6.0  # 2 tau
    for a, b in zip(steps, steps[1:]):
        assert b.mu == a.mu_next  # each step starts where the last left mu, the retune included
    for s in steps:
        eta = s.params.mirostat_eta
        if s.prob > 0:  # the probability it was drawn with, in the distribution the cut left
            assert s.mu_next == pytest.approx(s.mu - eta * (-math.log2(s.prob) - 3.0), abs=1e-6)
        else:  # a forced token the cut had removed: mu stays
            assert s.mu_next == s.mu
    assert forced.forced
    # the inspector re-traces each step with the mu it had, and shows it
    for k, s in enumerate(steps):
        rows = stage_rows.chain_table(dec.trace_at(k), engine.label)
        assert rows[-1].label == f"mirostat (mu = {s.mu:.3g})"
        assert rows[-1].removed > 0
    # a branch at step 2 goes on from step 1's mu
    branch = dec.branch(2)
    assert branch.stages.pick.level == steps[1].mu_next
    step = branch.step()
    assert step.mu == steps[1].mu_next
    # the same seed gives the same reply
    again = engine.decoder([{"role": "user", "content": "Tell me about cats."}], params)
    assert [again.step().token_id for _ in range(3)] == [s.token_id for s in steps[:3]]
