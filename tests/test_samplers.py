"""The peers' samplers (`samplers.py`): each against numbers worked out by hand on tiny logits, their edge
cases (every token above the XTC threshold, DRY across a breaker, sigma of a set with -inf entries), the
chain's rules (never change the input, keep a token), XTC's coin fixed by the seed, DRY on a real
repeated text, and each one at work in a real reply of the bundled model."""

from __future__ import annotations

import math
import random

import pytest
import torch

from playground import export, presets, sampling, stage_rows
from playground.params import ParamError, build
from playground.stages import STAGES

INF = float("-inf")
EOS = 7


def chain(values: dict, logits, ids=(0,), breakers=(), seed=None) -> sampling.Trace:
    stages = sampling.build_stages(build(values), len(ids), EOS, None, breakers, seed)
    return sampling.run(stages, torch.tensor([list(ids)]), torch.tensor([logits], dtype=torch.float32))


def kept(trace) -> set[int]:
    return {i for i, ok in enumerate(torch.isfinite(trace.final[0]).tolist()) if ok}


def logits_of(ps) -> list[float]:
    return [math.log(p) for p in ps]


def probs(trace) -> list[float]:
    return trace.probs()[0].tolist()


# --- top-n-sigma -----------------------------------------------------------------------------------
def test_top_n_sigma_by_hand_with_an_inf_entry():
    z = [2.0, 1.0, 0.0, INF]
    sigma = math.sqrt(((2 - 1) ** 2 + 0 + (0 - 1) ** 2) / 3)  # population std of the finite three: sqrt(2/3)
    assert 1 / sigma == pytest.approx(1.2247, abs=1e-4)  # n * sigma = 1 puts the cut exactly on z = 1
    assert kept(chain({"top_n_sigma": 1.0}, z)) == {0}  # cut 2 - 0.816 = 1.18
    assert kept(chain({"top_n_sigma": 1.22}, z)) == {0}  # cut 1.004
    tr = chain({"top_n_sigma": 1.23}, z)  # cut 0.996
    assert kept(tr) == {0, 1}
    assert probs(tr) == pytest.approx([math.e / (math.e + 1), 1 / (math.e + 1), 0, 0], abs=1e-6)
    assert kept(chain({"top_n_sigma": 3.0}, z)) == {0, 1, 2}
    # TGW's sigma (-inf counted as 0, sample std: 0.957) would keep token 1 at n = 1.1; llama.cpp's does not
    tgw_sigma = math.sqrt(sum((x - 0.75) ** 2 for x in (2, 1, 0, 0)) / 3)
    assert 2 - 1.1 * tgw_sigma < 1 < 2 - 1.1 * sigma
    assert kept(chain({"top_n_sigma": 1.1}, z)) == {0}


def test_top_n_sigma_keeps_all_of_a_flat_row_and_is_off_at_zero():
    assert kept(chain({"top_n_sigma": 0.5}, [1.0] * 6)) == set(range(6))  # sigma 0: the cut is the max itself
    assert chain({"top_n_sigma": 0.0}, [1.0, 2.0]).stages == []


# --- XTC -------------------------------------------------------------------------------------------
def test_xtc_removes_all_top_choices_but_the_least_likely():
    tr = chain({"xtc_probability": 1.0}, logits_of([0.5, 0.3, 0.15, 0.05]))  # threshold 0.1: 0.5, 0.3, 0.15 reach it
    assert kept(tr) == {2, 3}
    assert probs(tr) == pytest.approx([0, 0, 0.75, 0.25], abs=1e-6)


def test_xtc_edge_cases():
    # every token above the threshold: only the least likely survives
    assert kept(chain({"xtc_probability": 1.0, "xtc_threshold": 0.2}, logits_of([0.4, 0.35, 0.25]))) == {2}
    # one token above it: nothing to exclude
    assert kept(chain({"xtc_probability": 1.0, "xtc_threshold": 0.2}, logits_of([0.7, 0.1, 0.1, 0.1]))) == {0, 1, 2, 3}
    # threshold above 0.5: off (no stage at all), as in llama.cpp
    assert chain({"xtc_probability": 1.0, "xtc_threshold": 0.51}, [0.0, 0.0]).stages == []
    # tied at the least likely of the top choices: both stay
    assert kept(chain({"xtc_probability": 1.0, "xtc_threshold": 0.2}, logits_of([0.4, 0.3, 0.3]))) == {1, 2}


def coin(seed: int, n: int) -> float:
    """XTC's coin as its docstring defines it (one draw per step, from the seed and the position)."""
    return random.Random(f"xtc {seed} {n}").random()


def test_xtc_coin_is_fixed_by_seed_and_position():
    z = logits_of([0.5, 0.3, 0.15, 0.05])
    fired = []
    for n in range(1, 41):
        ids = tuple(range(n))
        tr = chain({"xtc_probability": 0.5}, z, ids=ids, seed=123)
        again = chain({"xtc_probability": 0.5}, z, ids=ids, seed=123)
        assert kept(tr) == kept(again)
        assert (kept(tr) == {2, 3}) == (coin(123, n) < 0.5)
        fired.append(kept(tr) == {2, 3})
    assert 8 <= sum(fired) <= 32  # about half of 40 steps (binomial: outside this range ~1e-4)
    other = [kept(chain({"xtc_probability": 0.5}, z, ids=tuple(range(n)), seed=124)) == {2, 3} for n in range(1, 41)]
    assert other != fired  # another seed, another sequence of coins
    # the request's seed is the default; no seed at all shows XTC as when it runs, and says so
    assert kept(chain({"xtc_probability": 0.5, "seed": 123}, z, ids=(0,))) == kept(chain({"xtc_probability": 0.5}, z, seed=123))
    tr = chain({"xtc_probability": 0.01}, z)
    assert kept(tr) == {2, 3} and "probability 0.01" in tr.stages[0].processor.note


# --- DRY -------------------------------------------------------------------------------------------
DRY = {"dry_multiplier": 1.0, "dry_base": 2.0}  # allowed_length 2 by default


def test_dry_by_hand():
    z = [0.0] * 10
    # [1 2] recurs after [1 2 3 4]: L(3) = 2 -> 1 * 2^0
    assert chain(DRY, z, ids=(1, 2, 3, 4, 1, 2)).final[0].tolist() == [0, 0, 0, -1, 0, 0, 0, 0, 0, 0]
    # [1 2 3] recurs: L(4) = 3 -> 1 * 2^1; a longer repeat costs more
    assert chain(DRY, z, ids=(1, 2, 3, 4, 9, 1, 2, 3)).final[0].tolist() == [0, 0, 0, 0, -2, 0, 0, 0, 0, 0]
    assert chain({**DRY, "dry_multiplier": 0.5, "dry_base": 3.0}, z, ids=(1, 2, 3, 4, 9, 1, 2, 3)).final[0, 4] == -1.5
    # shorter than allowed_length: no penalty
    assert chain({**DRY, "dry_allowed_length": 4}, z, ids=(1, 2, 3, 4, 9, 1, 2, 3)).final[0].tolist() == z
    # several continuations, each with its own longest match: [1 2] was followed by 3, [2] (only) by 5
    tr = chain({**DRY, "dry_allowed_length": 1}, z, ids=(1, 2, 3, 8, 2, 5, 1, 2))
    assert tr.final[0].tolist() == [0, 0, 0, -2, 0, -1, 0, 0, 0, 0]  # L(3) = 2 ([1 2]), L(5) = 1 ([2])


def test_dry_never_crosses_a_breaker_and_never_penalises_one():
    z = [0.0] * 8
    ids = (5, 1, 2, 3, 5, 1, 2)
    assert chain(DRY, z, ids=ids).final[0, 3] == -2.0  # [5 1 2] matches: L(3) = 3
    assert chain(DRY, z, ids=ids, breakers={5}).final[0, 3] == -1.0  # the match stops at the breaker: L = 2
    assert chain(DRY, z, ids=(1, 2, 5), breakers={5}).final[0].tolist() == z  # the context ends on a breaker
    one = {**DRY, "dry_allowed_length": 1}
    assert chain(one, z, ids=(1, 5, 2, 1)).final[0, 5] == -1.0  # [1] was followed by 5
    assert chain(one, z, ids=(1, 5, 2, 1), breakers={5}).final[0].tolist() == z  # ... but 5 is a breaker


def test_dry_scans_only_the_last_n_tokens():
    z = [0.0] * 8
    assert chain({**DRY, "dry_penalty_last_n": 3}, z, ids=(1, 2, 3, 4, 1, 2)).final[0].tolist() == z  # [4 1 2]
    assert chain({**DRY, "dry_penalty_last_n": 6}, z, ids=(1, 2, 3, 4, 1, 2)).final[0, 3] == -1.0
    assert chain({**DRY, "dry_penalty_last_n": 0}, z, ids=(1, 2, 3, 4, 1, 2)).stages == []


def test_dry_z_function_agrees_with_a_plain_scan():
    rng = random.Random(5)
    for _ in range(50):
        s = [rng.randrange(3) for _ in range(rng.randrange(1, 30))]
        plain = [0] + [next((n for n in range(len(s) - k) if s[n] != s[k + n]), len(s) - k) for k in range(1, len(s))]
        from playground.samplers import DRYLogitsProcessor

        assert DRYLogitsProcessor.z_function(s) == plain


# --- dynamic temperature -----------------------------------------------------------------------------
def test_dynamic_temperature_by_hand():
    ps = [0.5, 0.25, 0.25]
    h = -sum(p * math.log(p) for p in ps)  # 1.5 log 2 = 1.0397
    norm = h / math.log(3)  # 0.9464
    assert norm == pytest.approx(0.9464, abs=1e-4)
    for exponent in (1.0, 2.0):
        t = 0.5 + (1.5 - 0.5) * norm ** exponent  # temperature 1, range 0.5: T in [0.5, 1.5]
        tr = chain({"dynatemp_range": 0.5, "dynatemp_exponent": exponent}, logits_of(ps))
        assert [s.name for s in tr.stages] == ["dynatemp"]  # it takes temperature's place
        assert tr.final[0].tolist() == pytest.approx([x / t for x in logits_of(ps)], rel=1e-5)
    # a flat row has the most entropy: T = Tmax
    assert chain({"dynatemp_range": 0.5, "temperature": 0.7}, [0.0, 3.0, 0.0]).stages[0].processor.high == pytest.approx(1.2)
    flat = chain({"dynatemp_range": 0.5, "temperature": 0.7}, [1.0, 1.0])
    assert flat.final[0].tolist() == pytest.approx([1 / 1.2, 1 / 1.2])
    # Tmin is clamped at 0; one candidate is left alone
    assert chain({"dynatemp_range": 0.5, "temperature": 0.3}, [0.0, 1.0]).stages[0].processor.low == 0.0
    assert chain({"dynatemp_range": 0.5}, [INF, 2.0, INF]).final[0].tolist() == [INF, 2.0, INF]


def test_dynamic_temperature_zero_keeps_the_top_token():
    # Tmin = 0 and a near-certain step: T ~ 0 would divide by zero; T <= 0 is greedy instead
    from playground.samplers import DynamicTemperatureLogitsWarper

    w = DynamicTemperatureLogitsWarper(0.5, 0.5, 1.0)  # Tmin 0, Tmax 1
    z = torch.tensor([[0.0, -200.0, -200.0]])  # p = [1, 0, 0] in float32: H = 0, so T = Tmin = 0
    assert w(torch.tensor([[0]]), z).tolist() == [[0.0, INF, INF]]


# --- smoothing, top-a, tail-free -------------------------------------------------------------------
def test_smoothing_by_hand():
    assert chain({"smoothing_factor": 1.0}, [2.0, 1.0, 0.0]).final[0].tolist() == [2.0, 1.0, -2.0]  # max - d^2
    assert chain({"smoothing_factor": 0.5}, [2.0, 1.0, 0.0]).final[0].tolist() == [2.0, 1.5, 0.0]
    # curve 3: k = 0, s = 1: max + f * d^3
    assert chain({"smoothing_factor": 1.0, "smoothing_curve": 3.0}, [2.0, 1.0, 0.0, INF]).final[0].tolist() == \
        [2.0, 1.0, -6.0, INF]


def test_top_a_by_hand():
    tr = chain({"top_a": 0.5}, logits_of([0.6, 0.3, 0.1]))  # cut 0.5 * 0.36 = 0.18
    assert kept(tr) == {0, 1} and probs(tr) == pytest.approx([2 / 3, 1 / 3, 0], abs=1e-6)
    assert kept(chain({"top_a": 1.0}, logits_of([0.6, 0.3, 0.1]))) == {0}  # cut 0.36
    assert kept(chain({"top_a": 1.0}, [0.0] * 5)) == set(range(5))  # flat: cut 0.04 < 0.2


def test_tail_free_by_hand():
    ps = [0.6, 0.2, 0.15, 0.05]  # d2 = |0.2 - 1.2 + ... |: [0.35, 0.05] -> normalised [0.875, 0.125], sums [0.875, 1]
    assert kept(chain({"tfs": 0.9}, logits_of(ps))) == {0, 1}
    assert kept(chain({"tfs": 0.8}, logits_of(ps))) == {0}
    assert kept(chain({"tfs": 0.0}, logits_of(ps))) == {0}
    assert chain({"tfs": 1.0}, logits_of(ps)).stages == []
    assert kept(chain({"tfs": 0.5}, [1.0])) == {0} and kept(chain({"tfs": 0.5}, [1.0, 0.0])) == {0}


# --- the chain's rules ------------------------------------------------------------------------------
SETTINGS = [{"top_n_sigma": 0.5}, {"xtc_probability": 1.0, "xtc_threshold": 0.01}, {"dynatemp_range": 3.0},
            {"dynatemp_range": 1.0, "temperature": 0.2, "dynatemp_exponent": 0.1}, {"smoothing_factor": 10.0},
            {"smoothing_factor": 0.5, "smoothing_curve": 10.0}, {"top_a": 1.0}, {"tfs": 0.0}, {"tfs": 0.95},
            {"dry_multiplier": 5.0, "dry_base": 4.0, "dry_allowed_length": 1}]


@pytest.mark.parametrize("values", SETTINGS, ids=[str(i) for i in range(len(SETTINGS))])
def test_never_changes_its_input_and_keeps_a_token(values):
    g = torch.Generator().manual_seed(3)
    ids = torch.tensor([[1, 2, 1, 2, 1, 2, 1]])
    for z in ([0.0] * 9, (torch.randn(50, generator=g) * 3).tolist(), [INF, INF, 4.0, INF], [5.0, INF, 0.0, -9.0]):
        stages = sampling.build_stages(build(values), 2, EOS, None, (), 0)
        assert stages
        x = torch.tensor([z])
        for stage in stages:
            before = x.clone()
            y = stage.processor(ids, x)  # the processor itself, without Stage's protective copy
            assert torch.equal(x, before), stage.name
            assert torch.isfinite(y).sum() >= 1 and not torch.isnan(y).any(), stage.name
            x = y


def test_messages_name_the_field():
    with pytest.raises(ParamError) as e:
        build(xtc_probability=1.5)
    assert "`xtc_probability` must be in [0, 1], but is 1.5" in str(e.value)
    with pytest.raises(ParamError) as e:
        build(dry_sequence_breakers=["\n", ""])
    assert "`dry_sequence_breakers` strings must be non-empty" in str(e.value)
    assert build(dry_sequence_breakers="\n").dry_sequence_breakers == ("\n",)


# --- export ----------------------------------------------------------------------------------------
def test_the_export_copies_each_sampler_it_runs():
    p = build(dry_multiplier=0.8, top_n_sigma=1.5, xtc_probability=0.5, top_a=0.1, tfs=0.9, smoothing_factor=0.3,
              temperature=0.7, seed=3)
    code = export.python_snippet(p, [{"role": "user", "content": "Hi"}])
    compile(code, "<export>", "exec")
    for name in ("dry", "top_n_sigma", "xtc", "top_a", "tfs", "smoothing"):
        assert f"class {STAGES[name].impl}(LogitsProcessor):" in code, name
    assert "processors.append(DRYLogitsProcessor(0.8, 1.75, 2, -1, breakers))" in code
    assert "XTCLogitsWarper(0.1, 0.5, seed)" in code and "seed = 3" in code
    assert "TemperatureLogitsWarper(0.7)" in code  # generate()'s own warpers are neutral: the chain runs here
    assert export.kwargs_from_snippet(code)["temperature"] == 1.0
    assert "class" not in export.python_snippet(build(temperature=0.7), [{"role": "user", "content": "Hi"}])


# --- the real model --------------------------------------------------------------------------------
REPEAT = [{"role": "user", "content": "Repeat after me ten times: the cat sat on the mat, the cat sat on the mat,"}]
REAL = {
    "dry": dict(dry_multiplier=2.0, dry_allowed_length=2),
    "top_n_sigma": dict(top_n_sigma=1.0),
    "xtc": dict(xtc_probability=1.0, xtc_threshold=0.05),
    "dynatemp": dict(dynatemp_range=0.9, temperature=1.0),
    "smoothing": dict(smoothing_factor=0.3),
    "top_a": dict(top_a=0.5),
    "tfs": dict(tfs=0.5),
}

RESHAPE = ("dry", "dynatemp", "smoothing")


@pytest.mark.model
def test_dry_on_a_real_repeated_sequence(engine):
    ids = engine.prompt_ids(REPEAT) + engine.tokenizer.encode(" the cat sat on the mat, the cat sat on", add_special_tokens=False)
    tr = engine.trace(ids, build(dry_multiplier=0.8, do_sample=False))
    the = engine.tokenizer.encode(" the", add_special_tokens=False)[0]
    rows = {r.stage: r for r in stage_rows.chain_table(tr, engine.label)}
    assert rows["dry"]  # a row of the chain table
    drop = tr.scores[0][0] - tr.final[0]
    # ':' ends the prompt's last breaker-free run; the repeat after it is " the cat sat on": L(" the") >= 4
    assert drop[the] >= 0.8 * 1.75 ** 2
    assert set(drop.nonzero().flatten().tolist()) <= set(ids)  # only tokens that continued a repeat
    comma = engine.tokenizer.encode(",", add_special_tokens=False)[0]
    colon = engine.tokenizer.encode(":", add_special_tokens=False)[0]
    assert comma not in engine.breaker_ids(build(dry_multiplier=0.8)) and colon in engine.breaker_ids(build(dry_multiplier=0.8))


@pytest.mark.model
@pytest.mark.parametrize("name", list(REAL))
def test_each_sampler_in_a_real_reply(engine, name):
    params = build(REAL[name], seed=4, max_new_tokens=4)
    *steps, done = engine.stream(REPEAT, params, top_n=20, report=True)
    assert len(done.token_ids) >= 1
    rows = [r for s in steps for r in s.stages if r["stage"] == name]
    assert rows, f"{name} is a row of every step's chain table"
    if name in RESHAPE:  # they reshape, they do not cut: the top candidates' probabilities move
        moved = [max(abs(a - b) for (_, a), (_, b) in zip(r["top_before"], r["top_after"])) for r in rows]
        assert max(moved) > 0.01 or any(r["top_before"][0][0] != r["top_after"][0][0] for r in rows), rows
    else:
        assert any(r["removed"] > 0 for r in rows), rows
    # the same seed gives the same reply, and the candidates name the stage that removed each
    *_, again = engine.stream(REPEAT, params, top_n=20)
    assert again.token_ids == done.token_ids
    fates = {c.removed_by for s in steps for c in s.candidates}
    assert name in fates or name in RESHAPE


# --- the concept presets show their point --------------------------------------------------------------
LOOP = " He loved his dragons dearly. He loved his dragons dearly and he loved his dragons"


@pytest.mark.model
def test_dry_preset_breaks_the_greedy_loop(engine):
    ids = engine.prompt_ids([{"role": "user", "content": "Write a long story about a dragon."}])
    ids += engine.tokenizer.encode(LOOP, add_special_tokens=False)
    dearly = engine.tokenizer.encode(" dearly", add_special_tokens=False)[0]
    trap, fix = presets.load_preset("repetition-trap"), presets.load_preset("dry-breaks-the-loop")
    assert fix.replace(dry_multiplier=0.0) == trap
    assert int(engine.trace(ids, trap).final.argmax()) == dearly  # greedy goes round the loop again
    tr = engine.trace(ids, fix)
    assert int(tr.final.argmax()) != dearly  # DRY: " dearly" would extend a repeat
    # the repeat is " loved his dragons" (" he" and " He" differ): L = 3, penalty 0.8 * 1.75^(3 - 2)
    assert [engine.label(t) for t in ids[-3:]] == [" loved", " his", " dragons"]
    assert float(tr.scores[0][0, dearly] - tr.final[0, dearly]) == pytest.approx(0.8 * 1.75, abs=1e-4)


@pytest.mark.model
def test_xtc_preset_removes_the_obvious_choice(engine):
    params = presets.load_preset("xtc-creative")
    assert (params.min_p, params.xtc_probability) == (0.02, 0.5)
    ids = engine.prompt_ids([{"role": "user", "content": "Name a colour."}])
    seen = 0
    for tok in engine.tokenizer.encode("My favourite colour is blue because it", add_special_tokens=False):
        tr = engine.trace(ids, params)  # no seed: XTC shown as when it runs
        before = tr.probs(len(tr.stages) - 2)[0]  # what XTC sees (after min-p)
        top = before >= 0.1
        if top.sum() >= 2:
            seen += 1
            fates = {f.id: f.removed_by for f in tr.candidates(10)}
            assert fates[int(before.argmax())] == "xtc"  # the obvious choice is gone
            least = int(torch.where(top, before, 2.0).argmin())
            assert fates[least] is None and int(tr.final.argmax()) == least  # the least likely top choice leads
        ids = ids + [tok]
    assert seen >= 1


@pytest.mark.model
def test_top_n_sigma_preset_keeps_the_same_set_at_any_temperature(engine, chat_prompt):
    params = presets.load_preset("n-sigma-vs-temperature")
    hot = engine.trace(chat_prompt, params)
    cool = engine.trace(chat_prompt, params.replace(temperature=1.0))
    assert torch.equal(torch.isfinite(hot.final), torch.isfinite(cool.final))
    assert 1 <= int(torch.isfinite(hot.final).sum()) <= 50  # a few tokens of 49152
    without = engine.trace(chat_prompt, params.replace(top_n_sigma=0.0))
    assert int(torch.isfinite(without.final).sum()) == without.final.shape[-1]  # temperature alone keeps every token
