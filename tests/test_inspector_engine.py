"""Engine-level token inspector: forcing, branching, per-stage counts and the sampler-order view."""

import pytest
import torch

from playground import stage_rows
from playground.params import build

pytestmark = pytest.mark.model

MSGS = [{"role": "user", "content": "List three colours."}]


def run_to_end(dec):
    while not dec.done:
        dec.step()
    return dec


@pytest.fixture(scope="module")
def greedy_reply(engine):
    return run_to_end(engine.decoder(MSGS, build(do_sample=False, max_new_tokens=14), keep_logits=True))


def test_forcing_a_token_continues_like_the_prompt_extended_by_it(engine, greedy_reply):
    k = 3
    alt = greedy_reply.steps[k].candidates[1].id  # the runner-up, not what greedy chose
    assert alt != greedy_reply.token_ids[k]
    forced = greedy_reply.branch(k)
    step = forced.step(force=alt)
    assert step.forced and step.token_id == alt
    run_to_end(forced)
    extended = engine.prompt_ids(MSGS) + greedy_reply.token_ids[:k] + [alt]
    fresh = list(engine.stream(None, build(do_sample=False, max_new_tokens=len(forced.steps) - k - 1), prompt=extended))[-1]
    assert forced.token_ids[k + 1:] == fresh.token_ids


def test_forcing_in_the_middle_of_a_stream(engine, greedy_reply):
    alt = greedy_reply.steps[2].candidates[2].id
    done = list(engine.stream(MSGS, build(do_sample=False, max_new_tokens=6), force={2: alt}))[-1]
    assert done.token_ids[:2] == greedy_reply.token_ids[:2] and done.token_ids[2] == alt
    assert done.steps[2].forced and not done.steps[1].forced


def test_branch_keeps_the_prefix_byte_for_byte_and_the_original(engine, greedy_reply):
    before = greedy_reply.result().text
    k = 5
    branch = run_to_end(greedy_reply.branch(k, build(temperature=1.8, seed=4, max_new_tokens=14)))
    prefix = engine.tokenizer.decode(greedy_reply.token_ids[:k])
    assert branch.token_ids[:k] == greedy_reply.token_ids[:k]
    assert branch.result().text.encode().startswith(prefix.encode())
    assert branch.token_ids[k:] != greedy_reply.token_ids[k:]  # a hot sampler goes elsewhere
    assert greedy_reply.result().text == before  # the earlier branch is untouched and can be shown again


def test_branch_without_kept_logits_reruns_one_token_only(engine, greedy_reply):
    dec = engine.decoder(MSGS, build(do_sample=False, max_new_tokens=14))
    for _ in range(6):
        dec.step()
    branch = dec.branch(4)
    assert branch.fresh.shape[-1] == 1  # only the last kept token goes through the model again
    for _ in range(4):
        branch.step()
    assert branch.token_ids == greedy_reply.token_ids[:8]


def test_stage_counts_add_up_at_every_step(engine):
    p = build(temperature=0.9, top_k=30, top_p=0.9, min_p=0.05, repetition_penalty=1.1, seed=2, max_new_tokens=6)
    dec = run_to_end(engine.decoder(MSGS, p, report=True, keep_logits=True))
    vocab = engine.vocab
    for k, step in enumerate(dec.steps):
        assert [r["stage"] for r in step.stages] == ["repetition_penalty", "temperature", "top_k", "top_p", "min_p"]
        for r in step.stages:
            assert r["kept"] + r["removed"] == r["considered"]
        assert step.stages[0]["considered"] == vocab
        assert all(a["kept"] == b["considered"] for a, b in zip(step.stages, step.stages[1:]))
        rows = stage_rows.chain_table(dec.trace_at(k), engine.label)
        assert [(r.kept, r.removed) for r in rows] == [(r["kept"], r["removed"]) for r in step.stages]
        assert rows[2].kept <= 30 and rows[2].removed == rows[2].considered - rows[2].kept


def test_trace_at_reproduces_what_was_sampled(engine):
    p = build(temperature=0.7, top_p=0.8, seed=9, max_new_tokens=5)
    dec = run_to_end(engine.decoder(MSGS, p, keep_logits=True))
    for k, step in enumerate(dec.steps):
        trace = dec.trace_at(k)
        final = torch.softmax(trace.final[0], dim=-1)
        assert abs(float(final[step.token_id]) - step.prob) < 1e-6
        kept = {c.id for c in step.candidates if c.kept}
        assert kept <= set(stage_rows.survivors(trace))


def test_order_view_shows_min_p_with_high_temperature(engine):
    p = build(temperature=3.0, min_p=0.1)
    ids = engine.prompt_ids(MSGS)
    orders = stage_rows.compare_orders(engine, ids, len(ids), p, engine.next_logits(ids))
    default, last = orders["transformers"], orders["temperature_last"]
    # min-p after a hot temperature keeps far more tokens than min-p on the model's own distribution
    assert len(default) > len(last) >= 1
    assert set(last) <= set(default)
    assert abs(sum(default.values()) - 1) < 1e-4 and abs(sum(last.values()) - 1) < 1e-4
    # temperature last: min-p judged the model's own distribution, so the survivors are exactly the tokens
    # with at least 0.1 of the top probability, and temperature 3 flattened them afterwards
    raw = torch.softmax(engine.next_logits(ids).float(), -1)[0]
    assert set(last) == set(torch.nonzero(raw >= 0.1 * raw.max()).flatten().tolist())
    top = max(last, key=last.get)
    assert last[top] < raw[top] / raw[list(last)].sum()


def test_order_view_draws_a_custom_order_first_beside_the_named_ones(engine):
    p = build(temperature=3.0, min_p=0.1, top_k=50, sampler_order="top_k,min_p,temperature")
    ids = engine.prompt_ids(MSGS)
    orders = stage_rows.compare_orders(engine, ids, len(ids), p, engine.next_logits(ids))
    assert list(orders) == ["top_k,min_p,temperature", "transformers", "temperature_last", "text-generation-webui"]
    # top-k then min-p on the model's own distribution, temperature last: the same set as llama.cpp's order here
    assert orders["top_k,min_p,temperature"] == orders["temperature_last"]
    assert len(orders["transformers"]) > len(orders["top_k,min_p,temperature"]) >= 1
