"""Issue 9 §3-4, readable anywhere: finish reasons said in words, ties at top-k's cut, byte tokens as the
characters they make, and the cumulative axis's own colour and round ticks."""

from __future__ import annotations

import pytest

from playground import plotdata, stages
from playground.params import build
from playground.records import Done, Step
from playground.ui import chat, plot, tokens_html
from tests.test_sampling import chain


def test_the_status_line_says_why_a_reply_ended():
    for reason, words in (("length", "hit max_new_tokens"), ("eos", "the model ended its turn"),
                          ("stop", "matched a stop string")):
        done = Done("x", reason, [1, 2], None, 1.0, 5)
        assert f"**{reason}**: {words}" in chat.done_status(done, build())


def test_top_k_ties_at_the_cut_are_said():
    # scores 3, 2, 2, 2, 1 and top_k=2: the 2nd score is shared by three tokens, and top-k keeps all of them
    trace = chain({"top_k": 2}, [3.0, 2.0, 2.0, 2.0, 1.0])
    data = plotdata.from_trace(trace, build(top_k=2), str, top_n=5)
    assert data.kept == 4
    assert any(n.startswith("top_k=2 kept 4: 3 tokens tie at the cut") for n in data.notes), data.notes
    plain = plotdata.from_trace(chain({"top_k": 2}, [3.0, 2.5, 2.0, 1.0]), build(top_k=2), str, top_n=4)
    assert not any("tie" in n for n in plain.notes)


def test_byte_tokens_show_the_character_they_make_with_the_bytes_on_hover():
    tokens = ["Hi", " ", "<0xF0><0x9F>", "<0x98><0x80>", "!", "<0xFF>"]
    runs = tokens_html.byte_runs(tokens)
    assert runs[2] == ("😀", "bytes <0xF0><0x9F><0x98><0x80> make '😀' together") and runs[3][0] == ""
    assert runs[0] == (None, "") and runs[4] == (None, "") and runs[5] == (None, "")  # 0xFF alone is no UTF-8: as bytes
    steps = [Step(i, 100 + i, t, 0.5, 0.5, 1, [], "") for i, t in enumerate(tokens)]
    page = tokens_html.render(steps)
    assert ">😀</span>" in page and 'data-step="3"' in page and "tok cont" in page  # the second piece stays clickable
    assert "&lt;0xFF&gt;" in page and "make &#x27;😀&#x27; together" in page


def test_the_cumulative_axis_has_its_own_colour_and_round_ticks():
    trace = chain({"top_p": 0.9}, [2.0, 1.0, 0.5, 0.0])
    fig = plot.figure(plotdata.from_trace(trace, build(top_p=0.9), str, top_n=4), log=True)
    axis = fig["layout"]["yaxis2"]
    assert axis["tickvals"] == [0, 0.25, 0.5, 0.75, 1] and axis["type"] == "linear"  # linear while the bars are log
    curve = next(t for t in fig["data"] if t.get("yaxis") == "y2" and t["name"].startswith("cumulative"))
    assert curve["line"]["color"] == plot.CUMULATIVE
    assert plot.CUMULATIVE not in {s.color for s in stages.STAGES.values()}


def test_a_step_plot_always_shows_its_chosen_token_even_outside_the_top_n():
    # token 4 is the least likely of five; with top_n=2 it is still drawn, last, and marked as chosen
    trace = chain({}, [3.0, 2.0, 1.0, 0.5, 0.0])
    data = plotdata.from_trace(trace, build(), str, top_n=2, chosen=4)
    assert [b.id for b in data.bars] == [0, 1, 4] and [b.chosen for b in data.bars] == [False, False, True]
    assert not any(b.chosen for b in plotdata.from_trace(trace, build(), str, top_n=2).bars)


def test_a_newline_token_has_something_to_click():
    page = tokens_html.render([Step(0, 1, "Hi", 0.5, 0.5, 1, [], ""), Step(1, 198, "\n", 0.9, 0.9, 1, [], "")])
    assert 'data-step="1"' in page and ">↵\n</span>" in page  # an arrow to click, then the line break


@pytest.mark.model
def test_tokens_per_second_counts_decoding_not_the_prompt(engine, monkeypatch):
    """The prompt's pass is made to take a whole second more; the reply's decoding time does not include it
    (a one-token reply's time is its chain and record only, far under that second)."""
    import time

    dec = engine.decoder([{"role": "user", "content": "Name three colours."}], build(max_new_tokens=1, seed=1))
    forward = engine.model.forward

    def slow_prompt(*args, **kw):
        ids = kw.get("input_ids", args[0] if args else None)
        if ids is not None and ids.shape[1] > 1:
            time.sleep(1.0)
        return forward(*args, **kw)

    monkeypatch.setattr(engine.model, "forward", slow_prompt)
    dec.step()
    assert dec.result().seconds < 1.0
