"""The sampler pipeline on tiny hand-made logits: every stage against numbers worked out by hand,
purity (no stage changes its input, every stage keeps a token), order, and the trace bookkeeping."""

from __future__ import annotations

import math

import pytest
import torch

from playground import sampling
from playground.params import build

INF = float("-inf")
EOS = 7  # in a vocabulary of 8


def chain(values: dict, logits, ids=(0,), prompt_len: int | None = None, eos=EOS, bias=None) -> sampling.Trace:
    params = build(values)
    prompt_len = len(ids) if prompt_len is None else prompt_len
    stages = sampling.build_stages(params, prompt_len, eos, bias)
    return sampling.run(stages, torch.tensor([list(ids)]), torch.tensor([logits], dtype=torch.float32))


def kept(trace: sampling.Trace) -> set[int]:
    return {i for i, ok in enumerate(torch.isfinite(trace.final[0]).tolist()) if ok}


def names(trace: sampling.Trace) -> list[str]:
    return [s.name for s in trace.stages]


def logits_of(probs) -> list[float]:
    return [math.log(p) for p in probs]


def softmax(xs):
    m = max(x for x in xs if x != INF)
    e = [math.exp(x - m) if x != INF else 0.0 for x in xs]
    return [v / sum(e) for v in e]


def entropy(ps):
    return -sum(p * math.log(p) for p in ps if p > 0)


# --- one stage at a time -------------------------------------------------------------------------
@pytest.mark.parametrize("t", [0.5, 2.0, 0.05])
def test_temperature_divides_logits(t):
    z = [1.0, 2.0, -1.0, 0.5, 0.0]
    tr = chain({"temperature": t}, z)
    assert names(tr) == ["temperature"]
    assert tr.final[0].tolist() == pytest.approx([x / t for x in z], rel=1e-6)
    assert tr.probs()[0].tolist() == pytest.approx(softmax([x / t for x in z]), abs=1e-6)


def test_temperature_one_is_no_stage():
    assert names(chain({"temperature": 1.0}, [0.0, 1.0])) == []


def test_top_k_keeps_k_largest_and_leaves_their_logits():
    z = [1.0, 5.0, 3.0, 2.0, 4.0]
    tr = chain({"top_k": 2}, z)
    assert kept(tr) == {1, 4}
    assert tr.final[0, 1] == 5.0 and tr.final[0, 4] == 4.0
    assert tr.probs()[0].tolist() == pytest.approx([0, 1 / (1 + math.exp(-1)), 0, 0, math.exp(-1) / (1 + math.exp(-1))])


def test_top_k_ties_at_the_boundary_are_all_kept():
    assert kept(chain({"top_k": 2}, [3.0, 3.0, 3.0, 1.0, 0.0])) == {0, 1, 2}


def test_top_k_larger_than_vocab_keeps_all():
    tr = chain({"top_k": 1000}, [1.0, 5.0, 3.0, 2.0, 4.0])
    assert names(tr) == ["top_k"] and kept(tr) == {0, 1, 2, 3, 4}


def test_top_k_one_is_one_hot():
    tr = chain({"top_k": 1}, [1.0, 5.0, 3.0, 2.0, 4.0])
    assert kept(tr) == {1}
    assert tr.probs()[0].tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]


def test_top_p_one_builds_no_stage():
    assert names(chain({"top_p": 1.0}, [1.0, 2.0])) == []
    assert names(chain({"top_p": 0.99}, [1.0, 2.0])) == ["top_p"]


def test_small_top_p_keeps_the_top_token():
    assert kept(chain({"top_p": 0.01}, [1.0, 5.0, 3.0, 2.0, 4.0])) == {1}


def test_top_p_cumulative_boundary():
    # probabilities 0.5, 0.25, 0.125, 0.125: the top two hold exactly 0.75
    z = logits_of([0.5, 0.25, 0.125, 0.125])
    assert kept(chain({"top_p": 0.5}, z)) == {0}  # 0.5 alone reaches 0.5
    assert kept(chain({"top_p": 0.7499}, z)) == {0, 1}
    assert kept(chain({"top_p": 0.75}, z)) == {0, 1}  # smallest set with mass >= p: exactly 0.75 suffices
    third = kept(chain({"top_p": 0.7501}, z))
    assert len(third) == 3 and {0, 1} < third  # one of the two tied 0.125 tokens joins


def test_min_p_keeps_tokens_above_fraction_of_max():
    z = [2.0, 1.0, 0.0, -1.0, -3.0]
    for mp in (0.05, 0.1, 0.3, 0.5):
        want = {i for i, x in enumerate(z) if math.exp(x - max(z)) >= mp}
        assert kept(chain({"min_p": mp}, z)) == want
    assert kept(chain({"min_p": 0.3}, z)) == {0, 1}  # e^-1 = 0.37 >= 0.3 > e^-2 = 0.14


def test_min_p_one_keeps_the_tied_maxima():
    assert kept(chain({"min_p": 1.0}, [3.0, 1.0, 3.0, 0.0])) == {0, 2}


def typical_by_hand(ps, mass):
    h = entropy(ps)
    order = sorted(range(len(ps)), key=lambda i: abs(-math.log(ps[i]) - h))
    out, total = set(), 0.0
    for i in order:
        out.add(i)
        total += ps[i]
        if total >= mass:
            break
    return out


def test_typical_keeps_tokens_of_typical_surprise():
    ps = [0.4, 0.3, 0.2, 0.1]
    # H = 1.28 nats; surprises 0.92, 1.20, 1.61, 2.30 -> distance order: 1, 2, 0, 3
    for mass, want in ((0.2, {1}), (0.45, {1, 2}), (0.6, {0, 1, 2}), (0.95, {0, 1, 2, 3})):
        assert typical_by_hand(ps, mass) == want
        assert kept(chain({"typical_p": mass}, logits_of(ps))) == want, mass


def test_epsilon_drops_tokens_below_epsilon():
    ps = [0.5, 0.3, 0.15, 0.04, 0.01]
    assert kept(chain({"epsilon_cutoff": 0.05}, logits_of(ps))) == {0, 1, 2}
    assert kept(chain({"epsilon_cutoff": 0.01}, logits_of([0.5, 0.3, 0.15, 0.04, 0.009, 0.001]))) == {0, 1, 2, 3}


def test_eta_uses_the_entropy_scaled_threshold():
    ps = [0.3, 0.25, 0.2, 0.153, 0.047, 0.03, 0.02]
    eta = 0.05
    thr = min(eta, math.sqrt(eta) * math.exp(-entropy(ps)))
    assert 0.03 < thr < 0.047  # high entropy: the threshold is below eta itself
    want = {i for i, p in enumerate(ps) if p >= thr}
    assert want == {0, 1, 2, 3, 4}
    assert kept(chain({"eta_cutoff": eta}, logits_of(ps))) == want
    assert kept(chain({"epsilon_cutoff": eta}, logits_of(ps))) == {0, 1, 2, 3}  # epsilon would drop 0.047


def test_repetition_penalty_divides_positive_and_multiplies_negative():
    z = [2.0, -1.0, 0.5, -0.5, 1.0]
    tr = chain({"repetition_penalty": 2.0}, z, ids=(0, 1, 1))
    assert tr.final[0].tolist() == [1.0, -2.0, 0.5, -0.5, 1.0]  # seen tokens 0 and 1, each once
    tr = chain({"repetition_penalty": 0.5}, z, ids=(0, 1, 4))
    assert tr.final[0].tolist() == [4.0, -0.5, 0.5, -0.5, 2.0]


def test_no_repeat_ngram_bans_the_completing_token():
    z = [0.0] * 6
    assert kept(chain({"no_repeat_ngram_size": 2}, z, ids=(1, 2, 3, 1))) == {0, 1, 3, 4, 5}  # (1, 2) seen
    assert kept(chain({"no_repeat_ngram_size": 3}, z, ids=(1, 2, 3, 1, 2))) == {0, 1, 2, 4, 5}  # (1, 2, 3) seen
    assert kept(chain({"no_repeat_ngram_size": 2}, z, ids=(1, 2, 3, 4))) == set(range(6))
    assert kept(chain({"no_repeat_ngram_size": 5}, z, ids=(1, 1, 1))) == set(range(6))  # shorter than n


def test_min_new_tokens_masks_eos_until_reached():
    z = [0.0] * 8
    # prompt of 3; one token generated so far, min 3: EOS is forbidden
    tr = chain({"min_new_tokens": 3}, z, ids=(0, 1, 2, 3), prompt_len=3)
    assert names(tr) == ["min_new_tokens"] and kept(tr) == set(range(7))
    # three generated: allowed again
    assert kept(chain({"min_new_tokens": 3}, z, ids=(0, 1, 2, 3, 4, 5), prompt_len=3)) == set(range(8))
    # several EOS ids are all masked
    assert kept(chain({"min_new_tokens": 3}, z, ids=(0, 1, 2, 3), prompt_len=3, eos=[6, 7])) == set(range(6))


def test_openai_penalties_count_generated_tokens_only():
    z = [0.0] * 8
    # prompt [5], generated [7, 7, 2]
    tr = chain({"frequency_penalty": 0.5, "presence_penalty": 1.0}, z, ids=(5, 7, 7, 2), prompt_len=1)
    assert names(tr) == ["openai_penalties"]
    want = [0.0] * 8
    want[7] = -(2 * 0.5 + 1.0)
    want[2] = -(1 * 0.5 + 1.0)
    assert tr.final[0].tolist() == pytest.approx(want)
    # with no prompt, token 5 counts as generated too
    tr = chain({"frequency_penalty": 0.5, "presence_penalty": 1.0}, z, ids=(5, 7, 7, 2), prompt_len=0)
    want[5] = -1.5
    assert tr.final[0].tolist() == pytest.approx(want)
    # negative penalties encourage repetition
    tr = chain({"frequency_penalty": -1.0}, z, ids=(5, 7, 7), prompt_len=1)
    assert tr.final[0, 7] == pytest.approx(2.0) and tr.final[0, 5] == 0.0


def test_logit_bias_adds_and_runs_before_the_repetition_penalty():
    z = [1.0, 0.0, 0.0, 1.0, 0.0]
    tr = chain({}, z, bias={3: 5.0, 1: -100.0})
    assert names(tr) == ["logit_bias"]
    assert tr.final[0].tolist() == [1.0, -100.0, 0.0, 6.0, 0.0]
    # generate() biases first: (1 + 1) / 2 = 1, not 1 / 2 + 1
    tr = chain({"repetition_penalty": 2.0}, z, ids=(0,), bias={0: 1.0})
    assert names(tr) == ["logit_bias", "repetition_penalty"]
    assert tr.final[0, 0] == pytest.approx(1.0)


# --- the chain as a whole ------------------------------------------------------------------------
EVERYTHING = dict(temperature=0.7, top_k=5, top_p=0.9, min_p=0.05, typical_p=0.95, epsilon_cutoff=0.001,
                  eta_cutoff=0.001, repetition_penalty=1.1, presence_penalty=0.5, no_repeat_ngram_size=3,
                  min_new_tokens=1)
PROCESSORS = ["logit_bias", "repetition_penalty", "no_repeat_ngram", "min_new_tokens", "openai_penalties"]


def test_stage_order_for_both_sampler_orders_and_greedy():
    z = [0.0] * 8
    tr = chain(EVERYTHING, z, bias={1: 1.0})
    assert names(tr) == PROCESSORS + ["temperature", "top_k", "top_p", "min_p", "typical_p", "epsilon", "eta"]
    tr = chain({**EVERYTHING, "sampler_order": "temperature_last"}, z, bias={1: 1.0})
    assert names(tr) == PROCESSORS + ["top_k", "typical_p", "top_p", "min_p", "epsilon", "eta", "temperature"]
    assert all(s.warper == (s.name not in PROCESSORS) for s in tr.stages)
    assert names(chain({**EVERYTHING, "do_sample": False}, z, bias={1: 1.0})) == PROCESSORS
    assert names(chain({**EVERYTHING, "temperature": 0}, z)) == PROCESSORS[1:]
    assert names(chain({}, z)) == []


def test_order_changes_what_min_p_keeps_at_high_temperature():
    z = [2.0, 1.0, 0.0, -1.0]
    # By hand. llama.cpp order: min_p sees the raw distribution, whose ratios to the max are
    # e^0, e^-1 (0.37), e^-2 (0.14), e^-3 (0.05): two reach 0.3.
    # transformers order: min_p sees T=3, ratios e^0, e^-1/3 (0.72), e^-2/3 (0.51), e^-1 (0.37): all four reach 0.3.
    assert kept(chain({"temperature": 3.0, "min_p": 0.3}, z)) == {0, 1, 2, 3}
    last = chain({"temperature": 3.0, "min_p": 0.3, "sampler_order": "temperature_last"}, z)
    assert kept(last) == {0, 1}
    # and temperature still flattens what survived
    assert last.probs()[0, :2].tolist() == pytest.approx(softmax([2 / 3, 1 / 3]))


def random_logits(v: int, seed: int) -> list[float]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(v, generator=g) * 3).tolist()


EXTREMES = [{"temperature": 0.05}, {"temperature": 3.0}, {"top_k": 1}, {"top_p": 1e-6}, {"min_p": 1.0},
            {"typical_p": 1e-6}, {"epsilon_cutoff": 0.1}, {"eta_cutoff": 0.1}, EVERYTHING,
            {**EVERYTHING, "sampler_order": "temperature_last"}]


@pytest.mark.parametrize("values", EXTREMES, ids=[str(i) for i in range(len(EXTREMES))])
@pytest.mark.parametrize("v", [50, 8])
def test_every_stage_keeps_a_token_and_leaves_its_input_alone(values, v):
    for z in (random_logits(v, 1), random_logits(v, 2), [0.0] * v):  # random and uniform
        ids = torch.tensor([[0, 1, 2, 0, 1]])
        stages = sampling.build_stages(build(values), 2, EOS, None)
        assert stages
        x = torch.tensor([z])
        for stage in stages:
            before = x.clone()
            y = stage(ids, x)
            assert torch.equal(x, before), stage.name
            assert torch.isfinite(y).sum() >= 1, stage.name
            x = y
        logits = torch.tensor([z])
        original = logits.clone()
        tr = sampling.run(stages, ids, logits)
        assert torch.equal(logits, original) and tr.raw is logits
        assert torch.isfinite(tr.final).sum() >= 1


def test_uniform_input():
    z = [0.0] * 8
    assert kept(chain({"top_k": 2}, z)) == set(range(8))  # all tied with the 2nd
    assert kept(chain({"min_p": 0.9}, z)) == set(range(8))
    assert kept(chain({"epsilon_cutoff": 0.1}, z)) == set(range(8))  # 1/8 >= 0.1
    assert len(kept(chain({"top_p": 0.5}, z))) == 4  # 4 * 1/8 reaches 0.5
    # 1/20 < 0.1 removes all, but the one token kept by min_tokens_to_keep ties with every other
    assert len(kept(chain({"epsilon_cutoff": 0.1}, [0.0] * 20))) == 20
    assert kept(chain({"epsilon_cutoff": 0.1}, [i / 100 for i in range(20)])) == {19}  # no tie: the top only


@pytest.mark.parametrize("values", EXTREMES[:8] + [{"top_k": 3}, {"top_p": 0.5}, {"typical_p": 0.5}],
                         ids=[str(i) for i in range(11)])
def test_one_hot_input_survives_every_warper(values):
    z = [INF, INF, 0.0, INF, INF]
    tr = chain(values, z)
    assert kept(tr) == {2}
    assert tr.probs()[0].tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]


def test_removed_by_and_stage_report():
    z = [4.0, 3.0, 2.0, 1.0, 0.0]
    tr = chain({"top_k": 3, "top_p": 0.5}, z)
    assert names(tr) == ["top_k", "top_p"]
    # top-k drops 3 and 4; top-p then sees e^0, e^-1, e^-2 renormalised: 0.665 >= 0.5 keeps token 0 only
    assert tr.removed_by.tolist() == [-1, 1, 1, 0, 0]
    raw = softmax(z)
    top3 = softmax(z[:3])
    report = tr.stage_report()
    assert [(r["stage"], r["considered"], r["kept"], r["removed"]) for r in report] == [("top_k", 5, 3, 2), ("top_p", 3, 1, 2)]
    assert report[0]["removed_mass"] == pytest.approx(raw[3] + raw[4], abs=1e-6)
    assert report[1]["removed_mass"] == pytest.approx(top3[1] + top3[2], abs=1e-6)
    assert report[0]["label"] == "top-k"
    for r in report:
        assert r["kept"] + r["removed"] == r["considered"]
    assert tr.kept(0)[0].tolist() == [True, True, True, False, False]
    assert tr.probs(-1)[0].tolist() == pytest.approx(raw)


def test_removed_by_names_the_first_remover_only():
    # no-repeat n-gram bans token 2; top-k=1 would also drop it, but it was gone already
    z = [0.0, 1.0, 5.0, 0.5]
    tr = chain({"no_repeat_ngram_size": 2, "top_k": 1}, z, ids=(1, 2, 1))
    assert names(tr) == ["no_repeat_ngram", "top_k"]
    assert tr.removed_by.tolist() == [1, -1, 0, 1]
    assert kept(tr) == {1}
    report = tr.stage_report()
    assert (report[0]["removed"], report[1]["considered"], report[1]["removed"]) == (1, 3, 2)
    assert report[0]["removed_mass"] == pytest.approx(softmax(z)[2], abs=1e-6)


def test_apply_equals_run_final():
    z = random_logits(50, 3)
    stages = sampling.build_stages(build(EVERYTHING), 2, EOS, {4: 2.0})
    ids = torch.tensor([[0, 1, 2, 0, 1]])
    tr = sampling.run(stages, ids, torch.tensor([z]))
    assert torch.equal(sampling.apply(stages, ids, torch.tensor([z])), tr.final)
    assert len(tr.scores) == len(stages) + 1
