"""The token inspector's handlers as plain functions on the real model: coloured reply, step view,
step mode with forced tokens, branches, and no forward pass beyond the decode's own."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import gradio as gr
import pytest

from playground import stage_rows as core
from playground.ui import chat, inspector, step_view
from tests.ui_util import figure, frame, last, values, with_value

pytestmark = pytest.mark.model

SKIP = gr.skip()
QUESTION = "Name three colours."
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def named(out) -> dict:
    """A model event's output: every name of `OUT`, by name."""
    assert isinstance(out, dict) and list(out) == list(inspector.OUT)
    return out


def view(out) -> dict:
    """The step view's part of a handler's output (its tables as DataFrames, to read by column)."""
    got = {n: out[n] for n in step_view.VIEW}
    for n in ("chain", "candidates"):
        if isinstance(got[n], dict) and isinstance(got[n].get("value"), dict):
            got[n] = {**got[n], "value": frame(got[n]["value"])}
    return got


class Spans(HTMLParser):
    """Every element of the tokens HTML, and the text and attributes of each token span."""

    def __init__(self, text: str):
        super().__init__()
        self.tags, self.spans, self._open = [], [], None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        if tag == "span" and "data-step" in a:
            self._open = {**a, "text": ""}
            self.spans.append(self._open)

    def handle_endtag(self, tag):
        if tag == "span":
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data


class CountingModel:
    """Counts the model's forward passes (and the tokens each takes) for the duration of a `with`."""

    def __init__(self, engine, monkeypatch):
        self.calls: list[int] = []
        real = engine.model.forward

        def forward(*a, **kw):
            self.calls.append(kw["input_ids"].shape[-1])
            return real(*a, **kw)

        monkeypatch.setattr(engine.model, "forward", forward)


@pytest.fixture(scope="module")
def sampled(engine):
    """A sampled chat reply through several filters (kept by the chat for the inspector)."""
    vals = values(temperature=0.9, top_k=30, top_p=0.9, min_p=0.05, repetition_penalty=1.1, seed=2, max_new_tokens=6)
    history, _, status, steps, reply = last(chat.send(engine, QUESTION, [], "", {}, *vals))
    assert len(steps) >= 3, status
    return reply


def test_the_coloured_reply_is_escaped_text_one_span_per_token(engine):
    vals = values(max_new_tokens=40, seed=1)
    started = named(last(inspector.step(engine, 1, "Say something.", [], "", {}, None, 30, "linear", *vals)))
    reply = started["reply"]
    out = named(last(inspector.force_text(engine, XSS, reply, {}, 30, "linear")))
    page = out["tokens"]
    assert "<script" not in page and "<img" not in page and "&lt;" in page
    parsed = Spans(page)
    assert set(parsed.tags) <= {"div", "span"}  # nothing but the panel's own elements
    spans = [s for s in parsed.spans if "next" not in s["class"]]
    steps = reply.dec.steps
    assert [int(s["data-step"]) for s in spans] == list(range(len(steps)))
    assert [int(s["data-id"]) for s in spans] == reply.dec.token_ids
    assert "".join(s["text"] for s in spans[1:]) == XSS  # the forced tokens, shown as the text they are
    for s, st in zip(spans, steps):
        assert f"step {st.step + 1} ·" in s["title"]  # the page numbers steps from 1: step 1 = the first token
        assert f"p = {st.prob:.4g}" in s["title"] and f"rank {st.rank}" in s["title"]
    assert all("forced" in s["class"] for s in spans[1:]) and "forced" not in spans[0]["class"]
    # the chat shows it as text too, and the model gets it back unescaped
    assert out["history"][-1]["content"] == html.escape(steps[-1].text, quote=False)
    assert chat.model_messages(out["history"])[-1]["content"].endswith(XSS)


def test_a_step_opens_from_kept_logits_and_its_chain_adds_up(engine, sampled, monkeypatch):
    monkeypatch.setattr(engine.model, "forward", lambda *a, **kw: pytest.fail("opening a step must not run the model"))
    k = 2
    out = inspector.inspect(engine, f"{k}@7", sampled, 30, "linear")
    v = view(out)
    assert out["reply"] is sampled and sampled.selected == k
    # the page numbers steps from 1 (k is the 0-based index)
    assert f"**Step {k + 1}**" in v["info"] and f"id {sampled.dec.steps[k].token_id}" in v["info"]
    chain = v["chain"]["value"]
    assert f"step {k + 1}," in v["chain"]["label"]
    assert list(chain["stage"]) == [r["label"] for r in sampled.dec.steps[k].stages]
    assert list(chain["considered"])[0] == engine.vocab
    assert all(chain["kept"] + chain["removed"] == chain["considered"])
    assert list(chain["kept"])[:-1] == list(chain["considered"])[1:]  # each stage gets what the last one kept
    assert [(r["kept"], r["removed"]) for r in sampled.dec.steps[k].stages] == list(zip(chain["kept"], chain["removed"]))
    # the plot of the step marks the token chosen there
    fig = figure(v["plot"])
    star = [t for t in fig["data"] if t["name"] == "chosen token"][0]
    assert html.unescape(fig["layout"]["xaxis"]["ticktext"][star["x"][0]]) == step_view.readable(sampled.dec.steps[k].token)
    # raw beside final: the final side holds only survivors, and as many as the chain kept (up to 15 shown)
    raw, final = figure(v["raw_final"])["data"]
    kept = int(list(chain["kept"])[-1])
    assert len(final["x"]) == min(kept, step_view.N_BARS) and sum(raw["y"]) <= 1 + 1e-6
    # the order view: one chart per order, as many bars as each order's survivors (up to 15)
    trace = sampled.dec.trace_at(k)
    sets = core.compare_orders(engine, sampled.dec.prompt + sampled.dec.token_ids[:k], len(sampled.dec.prompt),
                               sampled.dec.params, sampled.dec.logit_history[k])
    assert [len(t["x"]) for t in figure(v["orders"])["data"]] == [min(len(sets[o]), step_view.N_BARS) for o in sets]
    assert set(core.survivors(trace)) == set(sets["transformers"])
    # the candidates: the chosen one is marked, the fates are the chain's
    cands = v["candidates"]["value"]
    chosen = cands[cands["fate"].str.contains("chosen")]
    assert list(chosen["id"]) == [sampled.dec.steps[k].token_id]
    # a step out of range says so and shows nothing
    bad = view(inspector.inspect(engine, "99", sampled, 30, "linear"))
    assert "not part of this reply" in bad["info"] and bad["plot"] is None


def test_step_three_times_then_force_a_candidate(engine, monkeypatch):
    counting = CountingModel(engine, monkeypatch)
    vals = values(max_new_tokens=8, seed=5, top_k=10)
    out = named(last(inspector.step(engine, 3, QUESTION, [], "", {}, None, 30, "linear", *vals)))
    reply = out["reply"]
    assert len(reply.dec.steps) == 3 and reply.selected == 3 and out["box"] == ""
    assert len(counting.calls) == 4  # three steps, then the fourth step's pass (which it will reuse)
    cands = view(out)["candidates"]["value"]
    assert "Candidates at step 4" in view(out)["candidates"]["label"]  # the next one: the page counts from 1
    row = cands[cands["fate"] == "removed by top-k"].iloc[0]  # a token the sampler could never have picked
    forced = named(last(inspector.force_candidate(engine, list(row), reply, {}, 30, "linear")))
    step = reply.dec.steps[3]
    assert step.token_id == int(row["id"]) and step.forced and len(reply.dec.steps) == 4
    assert reply.labels == ["1: original"]  # forcing the open step goes on with the same reply
    assert len(counting.calls) == 5 and counting.calls[-1] == 1  # the forced step used the kept pass; one new pass
    span = [s for s in Spans(forced["tokens"]).spans if s["data-step"] == "3"][0]
    assert int(span["data-id"]) == step.token_id and "forced" in span["class"]
    # then go on sampling to the end: the reply joins the chat like a normal one
    done = named(last(inspector.step(engine, None, "", forced["history"], "", {}, reply, 30, "linear", *vals)))
    assert reply.dec.done and "tokens/s" in done["status"] and done["history"][-1]["role"] == "assistant"
    assert reply.dec.token_ids[3] == step.token_id
    assert html.unescape(done["history"][-1]["content"]) == reply.dec.result().text
    assert done["steps"] is reply.dec.steps


def test_branch_keeps_the_prefix_and_switching_back_restores_the_original(engine, monkeypatch):
    greedy = values(do_sample=False, max_new_tokens=10)
    history, _, _, steps, reply = last(chat.send(engine, QUESTION, [], "", {}, *greedy))
    original = history[-1]["content"]
    k = 4
    inspector.inspect(engine, str(k), reply, 30, "linear")
    counting = CountingModel(engine, monkeypatch)
    hot = values(temperature=1.5, seed=3, max_new_tokens=10)
    out = named(last(inspector.branch(engine, reply, {}, 30, "linear", *hot)))
    new = reply.dec
    assert reply.labels == ["1: original", f"2: from step {k + 1} (do_sample True, temperature 1.5, seed 3)"]
    assert out["branches"]["value"] == reply.labels[1] and out["branches"]["choices"] == reply.labels
    assert new.token_ids[:k] == [s.token_id for s in steps[:k]] and new.token_ids != [s.token_id for s in steps]
    prefix = engine.tokenizer.decode([s.token_id for s in steps[:k]], skip_special_tokens=True)
    assert html.unescape(out["history"][-1]["content"]).startswith(prefix)
    # step k's kept logits: no pass for step k. A finished reply keeps no KV cache (bounded memory), so the
    # next pass runs the kept prefix once; each later token is one single-token pass
    assert counting.calls == [len(new.prompt) + k + 1] + [1] * (len(new.steps) - k - 2)
    assert reply.selected == k and f"**Step {k + 1}**" in view(out)["info"]
    # the branch's steps before k are shown with the parameters that chose them (greedy)
    assert "mode greedy" in view(inspector.inspect(engine, "1", reply, 30, "linear"))["info"]
    back = named(inspector.switch(engine, "1: original", reply, 30, "linear"))
    assert back["history"] == history and back["history"][-1]["content"] == original
    assert back["steps"] is steps and back["branches"]["value"] == "1: original"
    again = named(inspector.switch(engine, reply.labels[1], reply, 30, "linear"))
    assert again["history"][-1]["content"] == out["history"][-1]["content"]


def test_the_inspector_components_have_their_ids(engine):
    from playground.ui.layout import build_demo

    demo = build_demo(engine)
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    wanted = {"reply-tokens", "chain-table", "candidates", "step-btn", "step10-btn", "run-btn", "force-text",
              "force-btn", "force-token", "branch-btn", "branches", "order-view", "inspect-plot", "raw-vs-final"}
    assert wanted <= ids, wanted - ids


def test_bad_inspector_input_is_named_and_changes_nothing(engine, sampled):
    def status(gen):
        out = named(last(gen))
        assert out["history"] == SKIP and out["reply"] == SKIP
        return out["status"]

    assert "`force text`" in status(inspector.force_text(engine, "", sampled, {}, 30, "linear"))
    sampled.selected = None
    assert "branch from" in status(inspector.branch(engine, sampled, {}, 30, "linear", *values()))
    assert "`top_p`" in status(inspector.branch(engine, sampled, {}, 30, "linear", *with_value(values(), "top_p", 2)))
    assert "`num_beams`" in status(inspector.step(engine, 1, QUESTION, [], "", {}, None, 30, "linear",
                                                  *values(num_beams=2)))
    beams = with_value(with_value(values(), "num_beams", 2), "do_sample", False)
    assert "`num_beams` must be 1 to branch, but is 2" in status(inspector.branch(engine, sampled, {}, 30, "linear", *beams))
    assert "`message`" in status(inspector.step(engine, 1, "", [], "", {}, None, 30, "linear", *values()))
    assert "`force token`" in status(inspector.force_token(engine, engine.vocab, sampled, {}, 30, "linear"))
    assert "`branch`" in named(inspector.switch(engine, "9: nope", sampled, 30, "linear"))["status"]
    assert len(sampled.decoders) == 1



def test_a_reply_that_fails_midway_takes_its_tokens_with_it(engine, monkeypatch):
    # The model fails at the fourth token: the chat goes back to before the reply, and the steps and the reply state
    # (what the token strip and the inspector read) are emptied, not left holding a reply that is not in the chat.
    make = engine.decoder

    def breaking(*args, **kw):
        dec = make(*args, **kw)
        advance = dec.advance

        def fails():
            if len(dec.steps) == 3:
                raise RuntimeError("out of memory")
            return advance()

        dec.advance = fails
        return dec

    monkeypatch.setattr(engine, "decoder", breaking)
    updates = list(chat.send(engine, QUESTION, [], "", {}, *values(max_new_tokens=12, seed=1)))
    assert any(isinstance(u[3], list) and len(u[3]) >= 1 for u in updates[:-1])  # its tokens were out while it streamed
    history, box, status, steps, reply = updates[-1]
    assert history == [] and box == QUESTION and "The model failed: RuntimeError: out of memory" in status
    assert steps == [] and reply is None
