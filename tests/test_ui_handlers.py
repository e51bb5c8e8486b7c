"""The UI handlers as plain functions: controls <-> params, chat, plot data, presets (real model where it matters)."""

from __future__ import annotations

import html

import gradio as gr
import pytest

from playground import plotdata, presets
from playground.params import SPECS, ParamError, build
from playground.ui import chat, controls, examples, plot, presets_panel
from tests.test_inspector_ui import CountingModel
from tests.ui_util import figure, last, values, with_value

SKIP = gr.skip()
QUESTION = "Name three colours."


# --- controls (no model) ---------------------------------------------------------------------------
def test_one_control_per_parameter_with_its_spec():
    with gr.Blocks():
        made = controls.build_controls()
    assert list(made) == list(SPECS)
    for name, c in made.items():
        s = SPECS[name]
        assert c.elem_id == f"param-{name}" and c.label == name and s.help in c.info.key  # the info: a translation key (i18n.py)
        if s.kind in ("float", "int"):
            assert isinstance(c, gr.Slider)
            assert (c.minimum, c.maximum, c.step, c.value) == (s.ui_min, s.ui_max, s.step, s.default)
    assert isinstance(made["do_sample"], gr.Checkbox) and isinstance(made["seed"], gr.Number)
    assert isinstance(made["sampler_order"], gr.Dropdown) and isinstance(made["logit_bias"], gr.Textbox)


@pytest.mark.parametrize("name", presets.list_presets())
def test_values_round_trip_every_preset(name):
    params = presets.load_preset(name)
    assert controls.to_params(controls.to_values(params)) == params


def test_text_fields_round_trip_awkward_values():
    params = build(logit_bias={" cat": -100, "42": 5.5, "a:b": 1}, stop=["\n\n", " User:"], seed=7)
    assert controls.to_params(controls.to_values(params)) == params


def test_logit_bias_accepts_lines_and_json():
    assert controls.parse_bias('cat: -5\n" dog": 3\n\n42: 1') == {"cat": -5.0, " dog": 3.0, "42": 1.0}
    assert controls.parse_bias('{"x": 2}') == {"x": 2.0}
    assert controls.parse_bias("  ") == {}


@pytest.mark.parametrize("text, words", [
    ("cat -5", ["`logit_bias`", "line 1", "token: bias", "'cat -5'"]),
    ("cat: lots", ["`logit_bias`", "numbers", "'lots'"]),
    ('{"cat": ', ["`logit_bias`", "valid JSON"]),
    ("[1, 2]", ["`logit_bias`", "line 1"]),
])
def test_malformed_logit_bias_is_named(text, words):
    with pytest.raises(ParamError) as e:
        controls.parse_bias(text)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_stop_accepts_lines_and_json_lists():
    assert controls.parse_stop("User:\n\nEND") == ["User:", "END"]
    assert controls.parse_stop('["\\n\\n", " x"]') == ["\n\n", " x"]
    with pytest.raises(ParamError, match="`stop` must be valid JSON"):
        controls.parse_stop('["a", ')
    with pytest.raises(ParamError, match="`stop` must hold at most 4"):
        controls.to_params(with_value(values(), "stop", "a\nb\nc\nd\ne"))


@pytest.mark.parametrize("name, value, words", [
    ("top_p", 1.5, ["`top_p`", "(0, 1]", "1.5"]),
    ("temperature", -1, ["`temperature`", "[0, 3]", "-1"]),
    ("top_k", 2.5, ["`top_k`", "whole number", "2.5"]),
    ("max_new_tokens", None, ["`max_new_tokens`", "empty"]),
    ("seed", -3, ["`seed`", "-3"]),
])
def test_out_of_range_values_are_named(name, value, words):
    with pytest.raises(ParamError) as e:
        controls.to_params(with_value(values(), name, value))
    assert all(w in str(e.value) for w in words), str(e.value)


def test_figures_travel_as_json_strings():
    import math

    import plotly.graph_objects as go

    from playground.ui import figure_view

    assert figure_view.encode(None) is None
    fig = figure(figure_view.encode({"data": [{"type": "bar", "x": [0, 1], "y": [0.5, math.nan]}], "layout": {}}))
    assert fig["data"][0]["y"] == [0.5, None]  # NaN is not JSON: it travels as null
    fig = figure(figure_view.encode(go.Figure(go.Bar(x=["a"], y=[1.0]))))
    assert fig["data"][0]["type"] == "bar" and fig["data"][0]["x"] == ["a"]
    assert figure_view.PLOTLY_JS.is_file()  # the page loads plotly.js from the installed package
    view = figure_view.FigureView(label="A plot", elem_id="a-plot")
    assert f"gradio_api/file={figure_view.PLOTLY_JS.as_posix()}" in view.head and "Plotly.react" in view.js_on_load


def test_inactive_controls_follow_the_mode():
    base = controls.mode_updates(None, *values())
    assert base[0] == "sample"
    upd = dict(zip(controls.NAMES, base[1:]))
    assert upd["top_k"]["interactive"] and not upd["length_penalty"]["interactive"]
    assert "Inactive" in upd["length_penalty"]["info"]
    greedy = dict(zip(controls.NAMES, controls.mode_updates("sample", *values(temperature=0))[1:]))
    assert not greedy["top_k"]["interactive"] and "greedy" in greedy["top_k"]["info"]
    assert greedy["temperature"]["interactive"]  # a mode switch stays usable, or greedy could not be left
    beam = dict(zip(controls.NAMES, controls.mode_updates("greedy", *values(num_beams=3))[1:]))
    assert beam["length_penalty"]["interactive"] and not beam["stop"]["interactive"]
    same = controls.mode_updates("sample", *values(top_k=7))
    assert same[0] == "sample" and all(u == SKIP for u in same[1:])


# --- chat ------------------------------------------------------------------------------------------
def test_history_is_escaped_for_display_and_unescaped_for_the_model():
    hist = [{"role": "user", "content": [{"type": "text", "text": "&lt;b&gt;"}]},
            {"role": "assistant", "content": "hi"}, {"role": "assistant", "content": "x", "metadata": {"title": "t"}}]
    assert chat.model_messages(hist) == [{"role": "user", "content": "<b>"}, {"role": "assistant", "content": "hi"}]
    assert chat.plot_messages(hist) == [{"role": "user", "content": "<b>"}]


@pytest.mark.model
def test_send_streams_a_reply_with_its_statistics(engine):
    outs = list(chat.send(engine, QUESTION, [], "", {}, *values(max_new_tokens=6, seed=1)))
    history, box, status, steps, reply = outs[-1]
    assert len(outs) >= 3 and box == ""
    assert [m["role"] for m in history] == ["user", "assistant"] and history[0]["content"] == QUESTION
    assert html.unescape(history[1]["content"]) == engine.tokenizer.decode([s.token_id for s in steps],
                                                                          skip_special_tokens=True)
    finish = "eos" if steps[-1].token_id in engine.eos_ids else "length"
    assert f"**{finish}**" in status and f"{len(steps)} tokens" in status and "tokens/s" in status and "seed 1" in status
    # the reply's Decoder is kept for the inspector, with every step's logits and stage counts
    assert reply.dec.steps is steps and len(reply.dec.logit_history) == len(steps) and steps[0].stages is not None


@pytest.mark.model
def test_markup_in_model_output_is_shown_as_text(engine):
    vals = values(max_new_tokens=6, logit_bias={"<": 100, "script": 100, ">": 100}, seed=2)
    history = last(chat.send(engine, "<script>alert(1)</script>", [], "", {}, *vals))[0]
    shown = [m["content"] for m in history]
    assert shown[0] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert "<" not in shown[1] and ">" not in shown[1] and "&lt;" in shown[1]
    assert set(html.unescape(shown[1])) <= set("<script>")


@pytest.mark.model
@pytest.mark.parametrize("message, vals, words", [
    ("  ", values(), ["`message`", "empty"]),
    (QUESTION, with_value(values(), "top_p", 1.5), ["`top_p`", "1.5"]),
    (QUESTION, with_value(values(), "logit_bias", "hello world: 5"), ["`logit_bias`", "one token", "'hello world'"]),
    (QUESTION, with_value(values(), "stop", '["x", '), ["`stop`", "JSON"]),
])
def test_bad_input_keeps_the_conversation_and_the_message(engine, message, vals, words):
    before = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    history, box, status, steps, reply = last(chat.send(engine, message, before, "", {}, *vals))
    assert history == before and box == message and steps == SKIP and reply == SKIP
    assert all(w in status for w in words), status


class FailingEngine:
    """The real engine, except that the model breaks after the first token."""

    def __init__(self, engine):
        self.engine, self.scheduler = engine, engine.scheduler

    def __getattr__(self, name):  # everything else (the tokenizer, the prompt) is the real engine's
        return getattr(self.engine, name)

    def decoder(self, *a, **kw):
        dec = self.engine.decoder(*a, **kw)
        real = dec.advance  # the scheduler decodes a chat reply step by step through `advance`

        def step(*a2, **kw2):
            if dec.steps:
                raise RuntimeError("CUDA error: device lost")
            return real(*a2, **kw2)

        dec.advance = step
        return dec


@pytest.mark.model
def test_a_failing_model_is_reported_and_nothing_is_lost(engine):
    before = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    outs = list(chat.send(FailingEngine(engine), QUESTION, before, "", {}, *values(max_new_tokens=5)))
    assert any(len(o[0]) == 4 for o in outs[:-1])  # it did start streaming
    history, box, status, _, _ = outs[-1]
    assert history == before and box == QUESTION
    assert "model failed" in status and "device lost" in status


@pytest.mark.model
def test_stop_ends_the_reply_within_a_step(engine):
    run = {}
    gen = chat.send(engine, QUESTION, [], "", run, *values(max_new_tokens=50, seed=3, min_new_tokens=50))
    next(gen), next(gen)
    assert chat.stop(run) == chat.STOPPING
    history, _, status, steps, _ = list(gen)[-1]
    assert "**cancelled**" in status and len(steps) <= 3 and len(history[-1]["content"]) > 0
    assert chat.stopped(chat.STOPPING, steps) == f"**cancelled**: stopped before the end · {len(steps)} tokens"
    assert chat.stop(run) == "Nothing is being generated." and chat.stopped("Nothing is being generated.", []) == SKIP
    # closing the generator (what gradio does on Stop) sets the event as well
    run2 = {}
    gen2 = chat.send(engine, QUESTION, [], "", run2, *values(max_new_tokens=50))
    next(gen2), next(gen2)
    gen2.close()
    assert run2["cancel"].is_set()


@pytest.mark.model
def test_regenerate_undo_and_clear(engine):
    greedy = values(do_sample=False, max_new_tokens=5)
    first = last(chat.send(engine, QUESTION, [], "", {}, *greedy))[0]
    again, box, status, _, _ = last(chat.regenerate(engine, first, "", {}, *greedy))
    assert again == first and box == SKIP and "tokens/s" in status  # greedy: the same reply again
    longer = last(chat.regenerate(engine, first, "", {}, *values(do_sample=False, max_new_tokens=7)))[0]
    assert longer[0] == first[0] and len(longer) == 2 and longer[1] != first[1]
    history, box, status, steps, reply = chat.undo(longer, "")
    assert history == [] and box == QUESTION and steps == [] and reply is None
    assert chat.undo([], "draft")[1] == "draft" and "Nothing to undo" in chat.undo([], "draft")[2]
    assert "no user message" in last(chat.regenerate(engine, [], "", {}, *greedy))[2]
    assert chat.clear()[0] == []


@pytest.mark.model
def test_beam_search_shows_the_best_beam_and_the_others_with_scores(engine):
    vals = values(num_beams=3, num_return_sequences=3, max_new_tokens=4)
    history, _, status, _, reply = last(chat.send(engine, QUESTION, [], "", {}, *vals))
    assert [m["role"] for m in history] == ["user", "assistant", "assistant"]
    others = history[2]
    assert "Other beams (2)" in others["metadata"]["title"] and others["content"].count("(score ") == 2
    assert "3 beams" in status and reply is None  # beam search has no token steps to inspect
    assert chat.model_messages(history)[-1]["content"] == html.unescape(history[1]["content"])  # others not sent


# --- plot ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ctx(engine):
    history = [{"role": "user", "content": QUESTION}]
    out = plot.refresh(engine, history, "", 30, "linear", *values())
    assert out[0]["ids"] == engine.prompt_ids([{"role": "user", "content": QUESTION}])
    return out[0]


def bars(fig, name="kept") -> int:
    return sum(len(t["x"]) for t in figure(fig)["data"] if t["name"] == name)


@pytest.mark.model
def test_plot_kept_set_follows_top_k_without_a_forward_pass(engine, ctx, monkeypatch):
    monkeypatch.setattr(engine, "next_logits", lambda ids: pytest.fail("the live plot must not run the model"))
    fig, note = plot.live(engine, ctx, 30, "linear", *values())
    assert bars(fig) == 30
    fig5 = plot.live(engine, ctx, 30, "log", *values(top_k=5))[0]
    assert bars(fig5) == 5 and bars(fig5, "removed by top-k") == 25 and figure(fig5)["layout"]["yaxis"]["type"] == "log"


@pytest.mark.model
def test_each_control_updates_the_settings_mirror_the_plot_reads(engine, ctx):
    settings = controls.mirror()
    assert settings == dict(zip(controls.NAMES, values()))
    # A preset (all controls at once), then one slider: the plot applies both, from the mirror.
    fig = plot.resync(engine, ctx, 30, "linear", settings, *values(top_k=5, temperature=0.7))[0]
    assert bars(fig) == 5 and settings["top_k"] == 5 and settings["temperature"] == 0.7
    fig, note = plot.moved(engine, "top_p", ctx, 30, "linear", settings, 0.05)
    assert settings["top_p"] == 0.05 and settings["top_k"] == 5
    want = plot.live(engine, ctx, 30, "linear", *values(top_k=5, temperature=0.7, top_p=0.05))[0]
    assert fig == want and bars(fig, "removed by top-k") == 25 and bars(fig, "removed by top-p") > 0
    # A bad value is remembered as typed (the note names it); the next good one replaces it.
    fig, note = plot.moved(engine, "top_p", ctx, 30, "linear", settings, 1.5)
    assert fig == SKIP and "`top_p`" in note and "but is 1.5" in note and settings["top_p"] == 1.5
    fig, note = plot.moved(engine, "top_p", ctx, 30, "linear", settings, 1)
    assert bars(fig) == 5
    # Released (gradio clamped the typed 1.5 to 1 when the box lost focus): the mirror takes 1, the
    # plot follows and the note says what happened; a release with the value already drawn does nothing.
    plot.moved(engine, "top_p", ctx, 30, "linear", settings, 1.5)
    fig, note = plot.released(engine, "top_p", ctx, 30, "linear", settings, 1)
    assert settings["top_p"] == 1 and bars(fig) == 5 and "but is 1.5" in note and "back to 1" in note
    assert plot.released(engine, "top_p", ctx, 30, "linear", settings, 1) == (SKIP, SKIP)
    fig, note = plot.released(engine, "top_k", ctx, 30, "linear", settings, 0)  # its reset button
    assert settings["top_k"] == 0 and bars(fig) == 30 and "⚠️" not in note
    plot.moved(engine, "top_k", ctx, 30, "linear", settings, 5)
    # A mode switch greys the controls from the mirror too.
    greedy = controls.mode_moved("temperature", "sample", settings, 0)
    assert greedy[0] == "greedy" and settings["temperature"] == 0.7  # the plot's event records the value
    assert controls.mode_moved("temperature", "sample", settings, -3, released=True)[0] == "greedy"  # clamped to 0
    assert controls.released_value("top_k", "") == 0 and controls.released_value("top_p", 7) == 1
    # Top N reads the mirror.
    fig, note = plot.redraw(engine, ctx, 12, "linear", settings)
    assert len(figure(fig)["layout"]["xaxis"]["tickvals"]) == 12


@pytest.mark.model
@pytest.mark.parametrize("kw", [dict(temperature=1.5, min_p=0.05), dict(temperature=0.6, min_p=0.02),
                                dict(temperature=1.5, min_p=0.05, sampler_order="temperature_last")])
def test_min_p_line_separates_kept_from_removed(engine, ctx, kw):
    params = build(**kw)
    data = plotdata.from_trace(engine.trace(ctx["ids"], params, logits=engine.cached_logits(ctx["ids"])), params,
                           engine.label, top_n=60)
    fates = {b.fate for b in data.bars}
    assert fates == {"kept", "min_p"}  # the line has something on both sides
    for b in data.bars:
        assert (b.prob >= data.min_p_cut) == (b.fate == "kept"), (b, data.min_p_cut)


@pytest.mark.model
@pytest.mark.parametrize("kw", [dict(temperature=0.6, top_p=0.8), dict(top_p=0.5, sampler_order="temperature_last"),
                                dict(temperature=1.3, top_k=40, top_p=0.7)])
def test_top_p_line_cuts_the_cumulative_curve_where_top_p_cuts(engine, ctx, kw):
    params = build(**kw)
    data = plotdata.from_trace(engine.trace(ctx["ids"], params, logits=engine.cached_logits(ctx["ids"])), params,
                           engine.label, top_n=60)
    assert "top_p" in {b.fate for b in data.bars} and data.top_p == params.top_p
    before = [0.0] + data.cumulative[:-1]
    for b, cum in zip(data.bars, before):  # a token goes once the tokens above it hold top_p of the mass
        if b.fate == "kept":
            assert cum < data.top_p
        elif b.fate == "top_p":
            assert cum >= data.top_p - 1e-6
    kept = [b for b in data.bars if b.fate == "kept"]
    assert len(kept) == data.kept and sum(b.final for b in kept) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.model
def test_plot_keeps_the_last_figure_on_bad_input_or_missing_logits(engine, ctx):
    fig, note = plot.live(engine, ctx, 30, "linear", *with_value(values(), "top_p", 0))
    assert fig == SKIP and "`top_p`" in note and "but is 0" in note
    unknown = {"ids": ctx["ids"] + [engine.eos_ids[0], 42, 42], "about": ""}
    fig, note = plot.live(engine, unknown, 30, "linear", *values())
    assert fig == SKIP and "being computed" in note and engine.cached_logits(unknown["ids"]) is None
    assert plot.refresh(engine, [], "", 30, "linear", *values())[:2] == (None, None)


@pytest.mark.model
def test_after_a_reply_the_plot_shows_its_first_token(engine, ctx):
    history, _, _, steps, _ = last(chat.send(engine, QUESTION, [], "", {}, *values(max_new_tokens=4, seed=5, top_k=20)))
    ctx2, fig, note = plot.refresh(engine, history, "", 30, "linear", *values(top_k=20))
    assert ctx2["ids"] == ctx["ids"]  # what Regenerate samples from; a past step opens in the inspector (its token)
    assert bars(fig) == 20 and bars(fig, "removed by top-k") == 10


@pytest.mark.model
def test_the_landing_example_is_drawn_once_per_engine(engine, monkeypatch):
    """The page opens with an example in the box and its plot drawn (`plot.preview`): one forward pass for it,
    however many page loads, even after other contexts filled the engine's cache of recent ones."""
    plot.PINNED.pop(engine, None)
    counting = CountingModel(engine, monkeypatch)
    prompt = examples.LANDING
    ids = engine.prompt_ids([{"role": "user", "content": prompt}])
    engine._logits_cache.pop(tuple(ids), None)  # a page loaded just before (a browser test) may have drawn it
    for _ in range(3):
        ctx, fig, note = plot.preview(engine, prompt, [], "", 30, "linear", *values())
        assert ctx["ids"] == ids and bars(fig) == 30 and prompt in note and "not sent yet" in note
        assert examples.about(prompt) in note  # what this example shows, in one line
    assert len(counting.calls) == 1
    for i in range(17):  # other visitors' contexts push it out of the engine's own cache
        engine.next_logits(engine.prompt_ids([{"role": "user", "content": f"Question {i}?"}]))
    assert engine.cached_logits(ids) is None
    counting.calls.clear()
    ctx, fig, _ = plot.preview(engine, prompt, [], "", 30, "linear", *values())
    assert bars(fig) == 30 and counting.calls == []
    # Any other unsent message is a context like any other (not kept); with a chat, it follows the whole chat.
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    ctx, fig, note = plot.preview(engine, prompt, history, "", 30, "linear", *values())
    assert ctx["ids"] == engine.prompt_ids(chat.model_messages(history) + [{"role": "user", "content": prompt}])
    assert "pin" not in ctx and examples.about(prompt) not in note
    assert plot.preview(engine, "", history, "", 30, "linear", *values())[0]["ids"] == engine.prompt_ids(
        [{"role": "user", "content": "Hi"}])  # an empty box: the last reply's first token, as `refresh`


# --- presets ---------------------------------------------------------------------------------------
def test_choosing_a_preset_sets_every_control():
    out = presets_panel.choose("balanced")
    assert controls.to_params(out[:-1]) == presets.load_preset("balanced") and "balanced" in out[-1]
    assert presets_panel.reset()[:-2] == values() and presets_panel.reset()[-1] is None


def test_a_bad_preset_changes_nothing_and_names_the_file_and_key(tmp_path):
    (tmp_path / "broken.yaml").write_text("temperature: 0.5\ntopp: 0.9\n")
    out = presets_panel.choose("broken", None, tmp_path)
    assert all(v == SKIP for v in out[:-1])
    assert "broken.yaml" in out[-1] and "`topp`" in out[-1] and "top_p" in out[-1]
    assert str(tmp_path) not in out[-1]  # the file's name, never its folder


def test_save_as_preset_in_the_browser_then_load_it(tmp_path):
    vals = values(temperature=0.5, top_k=7, stop=["END"])
    store, dropdown, message = presets_panel.save("mine", {}, *vals, folder=tmp_path)
    assert presets.parse_preset(store["mine"], "mine")[0] == build(temperature=0.5, top_k=7, stop=["END"]).changed()
    assert ("mine (this browser)", "browser:mine") in dropdown["choices"] and dropdown["value"] == "browser:mine"
    assert "Saved" in message and "this browser" in message and list(tmp_path.iterdir()) == []
    assert presets_panel.choose("browser:mine", store, tmp_path)[:-1] == vals
    again = presets_panel.save("mine", store, *with_value(vals, "top_k", 8), folder=tmp_path)
    assert "Replaced" in again[2] and presets_panel.choose("browser:mine", again[0], tmp_path)[:-1] == with_value(vals, "top_k", 8)
    assert "not saved in this browser" in presets_panel.choose("browser:other", store, tmp_path)[-1]
    bad = presets_panel.save("x", store, *with_value(vals, "top_p", 2), folder=tmp_path)
    assert bad[0] == SKIP and "`top_p`" in bad[2]
