"""Engine.stream and Engine.beams on the real bundled model: stop strings, finish reasons, cancel,
per-request seeds (also across threads), context limits, logit bias, beams and candidates."""

from __future__ import annotations

import threading

import pytest
import torch

from playground.engine import Done, PromptTooLong, Step
from playground.params import ParamError, build
from playground.sampling import STAGE_INFO

pytestmark = pytest.mark.model

CHAT = [{"role": "user", "content": "What is the capital of France?"}]
STORY = [{"role": "user", "content": "Tell me a story about a dragon."}]


def run(engine, params, messages=CHAT, **kw) -> tuple[list[Step], Done]:
    items = list(engine.stream(messages, params, **kw))
    assert isinstance(items[-1], Done)
    steps = items[:-1]
    assert all(isinstance(s, Step) for s in steps)
    assert [s.step for s in steps] == list(range(len(steps)))
    assert [s.token_id for s in steps] == items[-1].token_ids
    return steps, items[-1]


def encode(engine, text: str) -> list[int]:
    return engine.tokenizer.encode(text, add_special_tokens=False)


# --- stop strings and streamed text ------------------------------------------------------------
def test_stop_string_is_cut_and_never_shown_in_part(engine):
    # forced tokens: 'The',' answer',' is',' ','4','2','.',' The',' end','.',...
    reply = encode(engine, "The answer is 42. The end. More text.")
    stop = ". The end"
    params = build(do_sample=False, max_new_tokens=len(reply), stop=["never-there", stop])
    steps, done = run(engine, params, prefix=reply)
    assert done.finish_reason == "stop"
    assert done.text == "The answer is 42"
    cut = [engine.tokenizer.decode(reply[:k]) for k in range(1, len(reply) + 1)].index("The answer is 42. The end") + 1
    assert done.token_ids == reply[:cut]
    assert all(s.forced for s in steps)
    for s in steps:
        assert stop not in s.text
        assert not any(s.text.endswith(stop[:k]) for k in range(1, len(stop))), s.text
        assert done.text.startswith(s.text)
    # '.' and ' The' may begin the stop string: they are held back until it is decided
    texts = [s.text for s in steps]
    assert texts[6] == texts[7] == texts[8] == "The answer is 42"
    assert texts[5] == "The answer is 42"


def test_streamed_text_never_shows_half_a_character(engine):
    text = "Café 🙂 naïve 日本 ok"
    reply = encode(engine, text)
    steps, done = run(engine, build(do_sample=False, max_new_tokens=len(reply)), prefix=reply)
    assert done.finish_reason == "length"
    assert done.text == text
    assert any(s.text == done.text[: len(s.text)] and s.text.endswith("naïve") for s in steps)
    for s in steps:
        assert "\ufffd" not in s.text and "\ufffd" not in s.token, (s.text, s.token)
        assert done.text.startswith(s.text)
    lengths = [len(s.text) for s in steps]
    assert lengths == sorted(lengths)


# --- finish reasons ----------------------------------------------------------------------------
def test_finish_length(engine):
    steps, done = run(engine, build(do_sample=False, max_new_tokens=3))
    assert (done.finish_reason, len(steps), done.seed) == ("length", 3, None)
    assert done.text == engine.tokenizer.decode(done.token_ids, skip_special_tokens=True)
    assert done.prompt_tokens == len(engine.prompt_ids(CHAT))


def test_finish_eos_and_plus_100_forces_a_token(engine):
    eos = engine.eos_ids[0]
    steps, done = run(engine, build(max_new_tokens=5, seed=1, logit_bias={str(eos): 100}))
    assert (done.finish_reason, done.token_ids, done.text) == ("eos", [eos], "")
    apple = encode(engine, " apple")
    assert len(apple) == 1
    steps, done = run(engine, build(max_new_tokens=6, seed=2, logit_bias={" apple": 100}))
    assert done.token_ids == apple * 6
    assert all(s.prob > 0.99 for s in steps)


def test_minus_100_bans_a_token(engine):
    _, free = run(engine, build(do_sample=False, max_new_tokens=4))
    first = free.token_ids[0]
    _, banned = run(engine, build(do_sample=False, max_new_tokens=4, logit_bias={str(first): -100}))
    assert first not in banned.token_ids
    # sampling at a high temperature still never picks it
    _, hot = run(engine, build(temperature=2.0, max_new_tokens=8, seed=5, logit_bias={str(first): -100}))
    assert first not in hot.token_ids


def test_cancel_stops_within_one_step(engine):
    cancel = threading.Event()
    steps, done = [], None
    for item in engine.stream(STORY, build(max_new_tokens=40, seed=3, min_new_tokens=20), cancel=cancel):
        if isinstance(item, Done):
            done = item
            break
        steps.append(item)
        if len(steps) == 3:
            cancel.set()
    assert done is not None and done.finish_reason == "cancelled"
    assert 3 <= len(steps) <= 4
    assert done.token_ids == [s.token_id for s in steps]


def test_beam_params_do_not_stream(engine):
    with pytest.raises(ParamError, match="num_beams"):
        next(engine.stream(CHAT, build(num_beams=2)))


# --- seeds -------------------------------------------------------------------------------------
def test_same_seed_same_reply_and_none_reports_a_seed(engine):
    params = build(temperature=1.2, max_new_tokens=8, seed=1234)
    _, a = run(engine, params, STORY)
    _, b = run(engine, params, STORY)
    assert a.token_ids == b.token_ids and a.seed == b.seed == 1234
    _, c = run(engine, params.replace(seed=None), STORY)
    assert isinstance(c.seed, int) and 0 <= c.seed < 2**32
    _, d = run(engine, params.replace(seed=c.seed), STORY)
    assert d.token_ids == c.token_ids and d.text == c.text


def test_concurrent_streams_keep_their_own_generators(engine):
    pa, pb = build(max_new_tokens=8, seed=11), build(max_new_tokens=8, seed=22)
    _, alone_a = run(engine, pa, STORY)
    _, alone_b = run(engine, pb, STORY)
    assert alone_a.token_ids != alone_b.token_ids  # otherwise the test below proves nothing
    results: dict[str, Done] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker(name, params):
        try:
            start.wait()
            results[name] = run(engine, params, STORY)[1]
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=("a", pa)), threading.Thread(target=worker, args=("b", pb))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert results["a"].token_ids == alone_a.token_ids
    assert results["b"].token_ids == alone_b.token_ids


def test_global_torch_seed_does_not_matter(engine):
    params = build(max_new_tokens=6, seed=99)
    torch.manual_seed(1)
    _, a = run(engine, params, STORY)
    torch.manual_seed(2)
    _, b = run(engine, params, STORY)
    assert a.token_ids == b.token_ids


# --- limits and bad input ----------------------------------------------------------------------
def test_prompt_longer_than_context(engine, monkeypatch):
    n = len(engine.prompt_ids(CHAT))
    monkeypatch.setattr(engine, "context", n - 5)
    with pytest.raises(PromptTooLong) as info:
        next(engine.stream(CHAT, build(max_new_tokens=4)))
    msg = str(info.value)
    assert f"{n} tokens" in msg and f"context is {n - 5}" in msg and "Shorten" in msg
    with pytest.raises(PromptTooLong):
        engine.next_logits(engine.prompt_ids(CHAT) + [1] * 10)


def test_max_new_tokens_cut_to_fit_the_context(engine, monkeypatch):
    n = len(engine.prompt_ids(CHAT))
    monkeypatch.setattr(engine, "context", n + 3)
    steps, done = run(engine, build(do_sample=False, max_new_tokens=10, logit_bias={str(engine.eos_ids[0]): -100}))
    assert len(steps) == 3 and done.finish_reason == "length"
    assert done.notice and "3" in done.notice and "max_new_tokens" in done.notice


def test_logit_bias_text_of_several_tokens_is_refused(engine):
    key = "xyzzyq"
    assert len(encode(engine, key)) > 1
    with pytest.raises(ParamError) as info:
        next(engine.stream(CHAT, build(logit_bias={key: 5})))
    msg = str(info.value)
    assert "`logit_bias`" in msg and repr(key) in msg and "exactly one token" in msg
    with pytest.raises(ParamError, match="vocabulary size"):
        engine.bias_ids(build(logit_bias={str(engine.vocab): 1}))
    assert engine.bias_ids(build(logit_bias={" apple": 3, "17": -2})) == {encode(engine, " apple")[0]: 3, 17: -2}


# --- beam search -------------------------------------------------------------------------------
def test_beams_equal_generate(engine):
    params = build(num_beams=3, num_return_sequences=3, max_new_tokens=8, length_penalty=1.0)
    beams, done = engine.beams(CHAT, params)
    assert len(beams) == 3
    scores = [b.score for b in beams]
    assert scores == sorted(scores, reverse=True)
    assert done.text == beams[0].text and done.token_ids == beams[0].token_ids
    assert done.finish_reason in ("eos", "length") and done.seed is None

    prompt = engine.prompt_ids(CHAT)
    with torch.inference_mode():
        out = engine.model.generate(torch.tensor([prompt]), **engine.generate_kwargs(params, len(prompt)),
                                    return_dict_in_generate=True, output_scores=True)
    for beam, seq, score in zip(beams, out.sequences, out.sequences_scores):
        assert beam.token_ids == [t for t in seq[len(prompt):].tolist() if t not in engine.eos_ids]
        assert beam.score == pytest.approx(float(score), abs=1e-5)
        assert beam.text == engine.tokenizer.decode(beam.token_ids, skip_special_tokens=True)
    assert len({tuple(b.token_ids) for b in beams}) == 3


# --- candidates --------------------------------------------------------------------------------
def test_candidates_when_sampling(engine):
    top_n = 10
    steps, _ = run(engine, build(top_k=5, temperature=1.3, max_new_tokens=6, seed=4), STORY, top_n=top_n)
    for s in steps:
        ids = [c.id for c in s.candidates]
        assert len(ids) in (top_n, top_n + 1) and len(set(ids)) == len(ids)
        assert s.token_id in ids
        chosen = s.candidates[ids.index(s.token_id)]
        assert chosen.kept and chosen.removed_by is None
        assert s.prob == pytest.approx(chosen.prob_final)
        assert s.prob_raw == pytest.approx(chosen.prob_raw)
        kept = [c for c in s.candidates if c.kept]
        assert 1 <= len(kept) <= 5
        assert sum(c.prob_final for c in kept) == pytest.approx(1.0, abs=1e-5)  # all 5 fit in the top 10
        for c in s.candidates:
            assert c.removed_by is None or c.removed_by in STAGE_INFO
            assert c.kept == (c.removed_by is None)
            if not c.kept:
                assert c.prob_final == 0.0 and c.removed_by == "top_k"
        raws = [c.prob_raw for c in s.candidates[:top_n]]
        assert raws == sorted(raws, reverse=True)  # no penalties: ordered by the model's probability
        if s.rank <= top_n:
            assert s.rank == 1 + sum(1 for c in s.candidates if c.prob_raw > s.prob_raw)


def test_candidates_when_greedy(engine):
    steps, _ = run(engine, build(do_sample=False, max_new_tokens=3), top_n=5)
    for s in steps:
        assert len(s.candidates) == 5
        assert s.candidates[0].id == s.token_id and s.rank == 1
        assert [c.kept for c in s.candidates] == [True, False, False, False, False]
        assert all(c.removed_by == "greedy" for c in s.candidates[1:])
        assert s.candidates[0].prob_final == 1.0


def test_forced_token_removed_by_a_penalty_is_reported(engine):
    # forcing ' dragon' after ' the' a second time: no-repeat n-gram (size 2) had removed it
    reply = encode(engine, " the dragon, the dragon")
    assert reply[:2] == reply[3:5]
    steps, done = run(engine, build(temperature=0.8, seed=6, max_new_tokens=6, no_repeat_ngram_size=2), STORY,
                      prefix=reply, top_n=5)
    assert done.token_ids[:5] == reply and all(s.forced for s in steps[:5]) and not steps[5].forced
    first, repeat = steps[1], steps[4]
    mine = next(c for c in first.candidates if c.id == reply[1])
    assert mine.kept and mine.removed_by is None
    mine = next(c for c in repeat.candidates if c.id == reply[4])
    assert not mine.kept and mine.removed_by == "no_repeat_ngram" and mine.prob_final == 0.0
    assert repeat.prob == 0.0 and repeat.prob_raw > 0
    assert all(c.kept for c in repeat.candidates if c.id != reply[4])  # the others passed every stage
    assert steps[5].token_id != reply[2]  # (' dragon', ',') occurred: ',' is banned after ' dragon'
