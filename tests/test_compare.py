"""Compare (compare.py, `python -m playground compare`): two settings, one seed, on the real model."""

from __future__ import annotations

import json

import pytest

from playground.cli import main
from playground.compare import compare, stream
from playground.params import build

pytestmark = pytest.mark.model
ASK = [{"role": "user", "content": "Write one sentence about the sea."}]


def test_each_side_is_its_own_reply_and_the_other_probability_comes_from_the_same_logits(engine):
    a, b = build(temperature=0.7, top_p=0.9, max_new_tokens=12), build(temperature=1.2, max_new_tokens=12)
    c = compare(engine, ASK, a, b, seed=3)
    *_, alone_a = engine.stream(ASK, a.replace(seed=3))
    *_, alone_b = engine.stream(ASK, b.replace(seed=3))
    assert c.a_done.text == alone_a.text and c.b_done.text == alone_b.text  # compare changes neither reply
    assert [t.token_id for t in c.a] == alone_a.token_ids
    k = c.parting.step if c.parting else min(len(c.a), len(c.b))
    for x, y in zip(c.a[:k], c.b[:k]):  # before the parting both saw the same context and logits
        assert x.token_id == y.token_id
        assert x.other == pytest.approx(y.prob, rel=1e-6) and y.other == pytest.approx(x.prob, rel=1e-6)
    assert all(0 <= t.other <= 1 and 0 < t.prob <= 1 for t in c.a + c.b)


def test_the_parting_step_names_the_stage_that_made_the_difference(engine):
    # A keeps only the most likely token (top_k=1); B samples hot: where B draws another token, A's top-k had removed it.
    a, b = build(top_k=1, max_new_tokens=16), build(temperature=1.5, max_new_tokens=16)
    c = compare(engine, ASK, a, b, seed=7)
    p = c.parting
    assert p is not None and p.a.token_id != p.b.token_id
    assert [t.token_id for t in c.a[: p.step]] == [t.token_id for t in c.b[: p.step]]
    assert p.b_under_a.removed_by == "top-k" and p.b_under_a.prob == 0 and p.b.other == 0
    assert p.a_under_b.removed_by is None and p.a_under_b.prob == pytest.approx(p.a.other)
    assert f"A's top-k removed B's token {p.b.token!r}" in p.why and f"part at token {p.step + 1}" in c.note
    chain_a, chain_b = p.chains  # both chains on the parting step's logits: A's top-k kept one token, B's has no cut
    assert [r.label for r in chain_a if r.removed] == ["top-k"] and chain_a[-1].kept == 1
    assert all(r.stage != "top_k" for r in chain_b) and chain_a[0].considered == chain_b[0].considered


def test_the_stream_takes_turns_and_ends_with_the_whole_comparison(engine):
    # A (greedy) and B (hot) each add one token per yield; the parting appears in the first yield that holds it.
    a, b = build(top_k=1, max_new_tokens=10), build(temperature=1.5, max_new_tokens=10)
    seen = list(stream(engine, ASK, a, b, seed=7))
    whole = compare(engine, ASK, a, b, seed=7)
    last = seen[-1]
    assert [t.token_id for t in last.a] == [t.token_id for t in whole.a] and last.b_done.text == whole.b_done.text
    assert last.parting.step == whole.parting.step and last.parting.why == whole.parting.why
    for i, c in enumerate(seen[:-1]):  # the tokens grow one a turn on each side until that side ends
        assert len(c.a) == min(i + 1, len(last.a)) and len(c.b) == min(i + 1, len(last.b))
        assert (c.parting is not None) == (min(len(c.a), len(c.b)) > whole.parting.step)
        assert c.a_done is None or c.b_done is None
        assert c.note.startswith("they part") or c.note.startswith("so far the same")


def test_the_same_settings_never_part(engine):
    same = build(temperature=0.9, max_new_tokens=8)
    c = compare(engine, ASK, same, same, seed=11)
    assert c.parting is None and c.note == "the two replies are the same, token for token"
    assert all(t.prob == pytest.approx(t.other) for t in c.a)


def test_the_command_line_prints_both_replies_and_the_parting(engine, capsys):
    args = ["compare", "--prompt", ASK[0]["content"], "--a", "preset:compare-cold max_new_tokens=10",
            "--b", "temperature=1.3 max_new_tokens=10", "--seed", "7", "--dtype", "float32"]
    assert main(args) == 0
    out = capsys.readouterr().out
    c = compare(engine, ASK, build(temperature=0.3, max_new_tokens=10), build(temperature=1.3, max_new_tokens=10), seed=7)
    assert f"A (preset:compare-cold max_new_tokens=10): {c.a_done.text}\n" in out
    assert f"B (temperature=1.3 max_new_tokens=10): {c.b_done.text}\n" in out
    assert f"seed 7: {c.note}" in out
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["a"]["text"] == c.a_done.text and data["b"]["params"] == {"temperature": 1.3, "max_new_tokens": 10, "seed": 7}
    assert (data["parting"] is None) == (c.parting is None)


def test_bad_sides_exit_2_naming_the_flag(capsys):
    assert main(["compare", "--prompt", "hi", "--a", "preset:gredy", "--b", "defaults"]) == 2
    assert "preset 'gredy' is unknown. Did you mean 'greedy'?" in capsys.readouterr().err
    assert main(["compare", "--prompt", "hi", "--a", "defaults", "--b", "top_p=1.5"]) == 2
    assert "`top_p` must be in (0, 1], but is 1.5" in capsys.readouterr().err
    assert main(["compare", "--prompt", "hi", "--a", "num_beams=2", "--b", "defaults"]) == 2
    assert "`--a` must not run beam search" in capsys.readouterr().err
