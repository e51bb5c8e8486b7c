"""One visitor cannot stall the others (issue 14, section 5): every input of every event is checked
before any work, with a message naming the field, and the costs that a value sets are bounded.

Costs are bounded by counting work (token ids decoded, characters scanned, forward passes, bars drawn,
the size of a reply), never by timing. Handlers are called as plain functions on the real model; the
last tests go through the real app over HTTP, where a lone surrogate used to break the next request.
"""

from __future__ import annotations

import json
import math
import random

import gradio as gr
import orjson
import pytest

from playground import cli, inputs
from playground.params import MAX_BIAS, MAX_STOP_CHARS, ParamError, build
from playground.text import StopScanner, brief
from playground.ui import chat, controls, inspector, plot, presets_panel
from tests.test_app_client import client  # noqa: F401  (the real app over HTTP)
from tests.test_inspector_ui import CountingModel, named, view
from tests.ui_util import figure, flat, last, values, with_value

SKIP = gr.skip()
QUESTION = "Name three colours."
HISTORY = [{"role": "user", "content": QUESTION}]
MB = "x" * 1_000_000
SURROGATE = "a\ud800b"
SMALL = 1_000  # characters: the most a message about a bad value may take, whatever the value's size


def bars(fig: str) -> int:
    return sum(len(t["x"]) for t in figure(fig)["data"] if t["type"] == "bar")


def sendable(out) -> None:
    """What the page gets back must be JSON that gradio can send (orjson refuses a lone surrogate)."""
    orjson.dumps([o for o in out if isinstance(o, (str, list, dict, int, float, type(None)))])


class CountingTokenizer:
    """The real tokenizer, counting the token ids each `decode` is given."""

    def __init__(self, tokenizer):
        self.tokenizer, self.decoded = tokenizer, []

    def decode(self, ids, **kw):
        self.decoded.append(len(ids))
        return self.tokenizer.decode(ids, **kw)


# --- stop strings ----------------------------------------------------------------------------------------
def test_a_long_stop_string_is_refused_with_its_length():
    with pytest.raises(ParamError) as e:
        build(stop=["ok", MB])
    msg = str(e.value)
    assert msg.startswith(f"`stop` strings must be at most {MAX_STOP_CHARS} characters, but one is 1000000 characters long")
    assert len(msg) < SMALL
    assert build(stop=["y" * MAX_STOP_CHARS]).stop == ("y" * MAX_STOP_CHARS,)
    with pytest.raises(ParamError, match="`stop` strings must be at most"):
        build(stop=["y" * (MAX_STOP_CHARS + 1)])


@pytest.mark.model
def test_a_1mb_stop_string_from_the_page_costs_no_decode(engine, monkeypatch):
    counting = CountingTokenizer(engine.tokenizer)
    monkeypatch.setattr(engine, "tokenizer", counting)
    out = last(chat.send(engine, QUESTION, [], "", {}, *with_value(values(max_new_tokens=2), "stop", MB)))
    assert out[0] == [] and out[1] == QUESTION  # nothing lost: the message stays in its box
    assert "`stop` strings must be at most 200 characters (at most 4 of them), but the text is 1000000" in out[2]
    assert len(out[2]) < SMALL
    assert counting.decoded == []


@pytest.mark.model
def test_stop_scanner_work_per_token_is_bounded(engine):
    """About 2,000 tokens against four 200-character stop strings that keep almost matching: each token
    decodes a window of a few ids and each character is scanned once (the old scan decoded the whole reply
    every token, n²/2 = about 2 million ids here, and tried every prefix of every stop string)."""
    text = "The answer is 42. " * 300
    ids = engine.tokenizer.encode(text, add_special_tokens=False)
    near = ("The answer is 42. " * 12)[:MAX_STOP_CHARS - 1]  # 11 phrases and a "T"
    stops = tuple(near[:MAX_STOP_CHARS - 1 - i] + "!" for i in range(4))  # a prefix of each is always held back
    assert len(ids) > 1500 and max(map(len, stops)) == MAX_STOP_CHARS
    counting = CountingTokenizer(engine.tokenizer)
    scanner = StopScanner(counting, stops)
    shown = []
    for t in ids:
        before = len(counting.decoded)
        shown.append(scanner.feed(t))
        assert sum(counting.decoded[before:]) <= 3 * StopScanner.MAX_PENDING
    assert sum(counting.decoded) <= 4 * len(ids)
    assert scanner.final_text() == text and not scanner.stopped
    assert scanner.work["scanned"] == len(text)  # each character once
    assert all(text.startswith(s) for s in shown) and len(text) - len(shown[-1]) < MAX_STOP_CHARS
    for t in engine.tokenizer.encode("T!", add_special_tokens=False):  # the text now ends with stops[0]
        scanner.feed(t)
    assert scanner.stopped and scanner.text == scanner.final_text() == text[: len(text) - len(stops[0]) + 2]


@pytest.mark.model
def test_stop_scanner_keeps_its_contract(engine):
    """The stop string is cut and never shown in part, nor half a character; without one, every token's text."""
    tok = engine.tokenizer
    ids = tok.encode("Café 🙂 naïve 日本 ok. User: more", add_special_tokens=False)
    stop = "🙂 naïve 日"
    scanner = StopScanner(tok, (stop, "User:"))
    shown = [scanner.feed(t) for t in ids if not scanner.stopped]
    assert scanner.stopped and scanner.text == "Café " == scanner.final_text() and len(shown) < len(ids)
    for s in shown:
        assert "\ufffd" not in s and "Café ".startswith(s) and not any(s.endswith(stop[:k]) for k in range(1, len(stop)))
    rng = random.Random(0)
    for _ in range(50):  # any ids at all, multi-byte pieces and invalid bytes included: the same text as one decode
        ids = [rng.randrange(engine.vocab) for _ in range(rng.randrange(1, 30))]
        scanner = StopScanner(tok)
        for t in ids:
            scanner.feed(t)
        assert scanner.final_text() == tok.decode(ids, skip_special_tokens=True)


# --- top_n and the other view inputs -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def ctx(engine):
    out = plot.refresh(engine, HISTORY, "", 30, "linear", *values())
    assert isinstance(out[0], dict), out[2]
    return out[0]


@pytest.fixture(scope="module")
def reply(engine):
    out = last(chat.send(engine, QUESTION, [], "", {}, *values(max_new_tokens=3, do_sample=False)))
    assert len(out[3]) == 3, out[2]
    return out[4], out[3]


@pytest.mark.model
def test_top_n_of_1e9_draws_at_most_100_bars_on_every_plot_event(engine, ctx, reply):
    _, steps = reply
    settings = controls.mirror(values())
    events = {
        "live": lambda n: plot.live(engine, ctx, n, "linear", *values())[0],
        "moved": lambda n: plot.moved(engine, "top_k", ctx, n, "linear", dict(settings), 0)[0],
        "released": lambda n: plot.released(engine, "top_k", ctx, n, "linear", dict(settings), 7)[0],
        "resync /plot": lambda n: plot.resync(engine, ctx, n, "linear", dict(settings), *values())[0],
        "redraw": lambda n: plot.redraw(engine, ctx, n, "linear", settings)[0],
        "refresh_plot": lambda n: plot.refresh(engine, HISTORY, "", n, "linear", *values())[1],
        "preview": lambda n: plot.preview(engine, "A new question?", HISTORY, "", n, "linear", *values())[1],
    }
    for name, event in events.items():
        huge, most = event(1e9), event(100)
        assert bars(huge) <= 100 and huge == most, name  # clamped to the slider's range before any work
        assert len(huge) < 100_000, name
        assert bars(event(-5)) == bars(event(5)) <= 5, name


BAD_NUMBERS = [math.nan, math.inf, "inf", "1e400", [30], {"n": 1}, True, "thirty", 10**5000]


@pytest.mark.model
@pytest.mark.parametrize("bad", BAD_NUMBERS, ids=brief)
def test_a_bad_top_n_is_named_by_every_event(engine, ctx, reply, bad, monkeypatch):
    r, steps = reply
    settings = controls.mirror(values())
    counting = CountingModel(engine, monkeypatch)
    outs = {
        "live": plot.live(engine, ctx, bad, "linear", *values()),
        "moved": plot.moved(engine, "top_k", ctx, bad, "linear", dict(settings), 3),
        "resync": plot.resync(engine, ctx, bad, "linear", dict(settings), *values()),
        "redraw": plot.redraw(engine, ctx, bad, "linear", settings),
        "refresh": plot.refresh(engine, [{"role": "user", "content": "A new question?"}], "", bad, "linear", *values()),
        "preview": plot.preview(engine, "A new question?", HISTORY, "", bad, "linear", *values()),
        "show_reply": inspector.show_reply(engine, r, bad, "linear"),
        "inspect": inspector.inspect(engine, "1@2", r, bad, "linear"),
        "switch": inspector.switch(engine, r.labels[0], r, bad, "linear"),
        "step": last(inspector.step(engine, 1, "", HISTORY, "", {}, r, bad, "linear", *values())),
        "force_text": last(inspector.force_text(engine, " blue", r, {}, bad, "linear")),
        "force_token": last(inspector.force_token(engine, 42, r, {}, bad, "linear")),
        "force_candidate": last(inspector.force_candidate(engine, ["x", 42, 0.1, 0.1, "kept"], r, {}, bad, "linear")),
        "branch": last(inspector.branch(engine, r, {}, bad, "linear", *values())),
    }
    for name, out in outs.items():
        out = flat(out)
        text = [o for o in out if isinstance(o, str) and "`top_n`" in o]
        assert len(text) == 1 and "must be a number in [5, 100]" in text[0] and len(text[0]) < SMALL, (name, out)
        assert all(o == SKIP for o in out if o is not text[0] and o is not None), name  # nothing else changes
        sendable(out)
    assert counting.calls == []  # not one forward pass


@pytest.mark.model
@pytest.mark.parametrize("field, bad", [("scale", "cubic"), ("scale", ["log"]), ("step", math.nan), ("step", -1),
                                        ("step", "1e999"), ("step", True)])
def test_a_bad_scale_or_step_is_named(engine, ctx, reply, field, bad):
    r, _ = reply
    if field == "scale":
        fig, note = plot.redraw(engine, ctx, 30, bad, controls.mirror(values()))
    else:  # a clicked token's step (the one way to look at a past step)
        shown = inspector.inspect(engine, bad, r, 30, "linear")
        note, fig, field = shown["info"], shown["plot"], "inspect step"
    assert fig == SKIP and f"`{field}` must be" in note and len(note) < SMALL, note


@pytest.mark.model
@pytest.mark.parametrize("bad, rule", [(math.inf, "a token id"), (math.nan, "a token id"), ("1e400", "a token id"),
                                       (True, "a token id"), (10**5000, "a token id"), (-1, "[0, 49151]"),
                                       (49152, "[0, 49151]"), (2.5, "whole number")], ids=brief)
def test_a_bad_force_token_is_named(engine, reply, bad, rule, monkeypatch):
    r, _ = reply
    counting = CountingModel(engine, monkeypatch)
    out = named(last(inspector.force_token(engine, bad, r, {}, 30, "linear")))
    assert "`force token` must be" in out["status"] and rule in out["status"] and len(out["status"]) < SMALL
    assert counting.calls == [] and len(r.decoders) == 1


@pytest.mark.model
@pytest.mark.parametrize("bad", ["", "x@1", "nan", "1e999@3", ["1"], "1" * 5000])
def test_a_bad_clicked_step_is_named(engine, reply, bad):
    r, _ = reply
    info = view(inspector.inspect(engine, bad, r, 30, "linear"))["info"]
    assert "`inspect step` must be" in info and len(info) < SMALL, info
    assert view(inspector.inspect(engine, "1@5", r, 30, "linear"))["info"].startswith("**Step 2**")  # index 1: step 2


# --- texts: type, size, lone surrogates ---------------------------------------------------------------------
TEXTS = [(5, "must be text, but is 5"), (["hi"], "must be text"), (SURROGATE, "lone surrogate '\\ud800' at character 1"),
         ("y" * (inputs.MAX_TEXT + 1), f"at most {inputs.MAX_TEXT} characters")]


@pytest.mark.model
@pytest.mark.parametrize("bad, words", TEXTS, ids=lambda v: repr(v)[:20])
def test_a_bad_message_or_system_prompt_is_named_and_the_next_request_works(engine, bad, words):
    run = {}
    for field, out in (("message", last(chat.send(engine, bad, [], "", run, *values(max_new_tokens=2)))),
                       ("system", last(chat.send(engine, QUESTION, [], bad, run, *values(max_new_tokens=2)))),
                       ("system", plot.refresh(engine, HISTORY, bad, 30, "linear", *values())[1:3]),
                       ("message", plot.preview(engine, bad, HISTORY, "", 30, "linear", *values())[1:3]),
                       ("message", last(inspector.step(engine, 1, bad, [], "", run, None, 30, "linear", *values()))),
                       ("force text", last(inspector.force_text(engine, bad, None, run, 30, "linear")))):
        out = flat(out)
        status = next(o for o in out if isinstance(o, str) and o.startswith("⚠️"))
        assert f"`{field}` must" in status and words in status and len(status) < SMALL, status
        assert all(o == SKIP for o in out if o is not status), out  # the page keeps what it shows, the text too
        sendable(out)
    history, box, status, steps, _ = last(chat.send(engine, QUESTION, [], "", run, *values(max_new_tokens=2)))
    assert [m["role"] for m in history] == ["user", "assistant"] and len(steps) == 2, status


@pytest.mark.model
@pytest.mark.parametrize("bad, words", [
    ("not a list", "`history` must be a list of chat messages"),
    ([1], "`history[0]` must be a message"),
    ([{"role": "wizard", "content": "x"}], "`history[0]` must be a message"),
    ([{"role": "user", "content": 5}], "`history[0]` must be a message whose content is text"),
    ([{"role": "user", "content": [{"type": "text", "text": SURROGATE}]}], "`history[0]` must be text, but holds a lone"),
    ([{"role": "user", "content": "x"}] * (inputs.MAX_MESSAGES + 1), "at most 2000 messages"),
    ([{"role": "user", "content": "y" * 600_000}], f"`history[0]` must be at most {inputs.MAX_TEXT} characters"),
    ([{"role": "user", "content": "y" * 99_000}] * 11, "`history` must be at most 1000000 characters in all"),
])
def test_a_bad_history_is_named_by_every_event(engine, bad, words):
    outs = [last(chat.send(engine, QUESTION, bad, "", {}, *values())), last(chat.regenerate(engine, bad, "", {}, *values())),
            chat.undo(bad, ""), plot.refresh(engine, bad, "", 30, "linear", *values()),
            plot.preview(engine, QUESTION, bad, "", 30, "linear", *values()),
            presets_panel.export_code(bad, "", None, *values()),
            last(inspector.step(engine, 1, QUESTION, bad, "", {}, None, 30, "linear", *values()))]
    for out in map(flat, outs):
        status = next(o for o in out if isinstance(o, str))
        assert words in status and len(status) < SMALL, status
        assert all(o == SKIP for o in out if o is not status)


def test_a_bad_preset_name_is_named(tmp_path):
    for bad in (5, SURROGATE, "n" * 201):
        store, dropdown, message = presets_panel.save(bad, {}, *values(), folder=tmp_path)
        assert store == dropdown == SKIP and "`preset name` must" in message and len(message) < SMALL, message
    assert list(tmp_path.iterdir()) == []


# --- the controls' values: types, NaN, bool -----------------------------------------------------------------
@pytest.mark.parametrize("name", ["temperature", "top_k", "max_new_tokens", "seed"])
@pytest.mark.parametrize("bad", BAD_NUMBERS, ids=brief)
def test_a_bad_number_names_its_control(name, bad):
    with pytest.raises(ParamError) as e:
        controls.to_params(with_value(values(), name, bad))
    assert str(e.value).startswith(f"`{name}` must be"), str(e.value)
    assert len(str(e.value)) < SMALL


@pytest.mark.parametrize("kw, words", [
    (dict(temperature=True), "`temperature` must be a number in [0, 3], but is True"),
    (dict(top_k=False), "`top_k` must be a number"), (dict(seed=True), "`seed` must be a number"),
    (dict(logit_bias={"cat": True}), "`logit_bias` must map a token (text or id) to a number"),
    (dict(top_k=math.nan), "`top_k` must be an integer, but is nan"),
    (dict(temperature="inf"), "`temperature` must be in [0, 3], but is inf"),
    (dict(temperature=[1]), "`temperature` must be a number, but is [1]"),
    (dict(seed=10**5000), "`seed` must be in [0, 4294967295], but is <an integer of about 5000 digits>"),
    (dict(stop=[SURROGATE]), "`stop` strings must be text, but 'a\\ud800b' holds a lone surrogate"),
    (dict(logit_bias={str(i): 1 for i in range(MAX_BIAS + 1)}), f"`logit_bias` must hold at most {MAX_BIAS} tokens"),
    (dict(sampler_order=MB), "`sampler_order` must be one of"),
])
def test_generation_params_name_the_field_of_a_bad_type(kw, words):
    with pytest.raises(ParamError) as e:
        build(**kw)
    assert str(e.value).startswith(words) and len(str(e.value)) < SMALL, str(e.value)


@pytest.mark.parametrize("name, bad", [("stop", 5), ("logit_bias", 5), ("stop", ["a"]), ("logit_bias", {"a": 1}),
                                       ("logit_bias", "cat: nan"), ("logit_bias", '{"cat": true}'),
                                       ("stop", "y" * (controls.STOP_TEXT + 1)), ("logit_bias", "y: 1\n" * inputs.MAX_TEXT),
                                       ("logit_bias", SURROGATE + ": 1")], ids=brief)
def test_a_bad_text_control_names_its_field(name, bad):
    with pytest.raises(ParamError) as e:
        controls.to_params(with_value(values(), name, bad))
    assert str(e.value).startswith(f"`{name}`") and len(str(e.value)) < SMALL, str(e.value)


def test_the_wrong_number_of_control_values_is_named():
    with pytest.raises(ParamError, match=rf"`controls` must be {len(controls.NAMES)} values .* but are 3"):
        controls.to_params([1, 2, 3])
    assert controls.released_value("top_k", math.nan) is math.nan and controls.released_value("top_k", 10**400) == 10**400


# --- logit_bias keys --------------------------------------------------------------------------------------
@pytest.mark.model
def test_logit_bias_keys_are_ids_only_in_ascii_digits(engine):
    superscript = engine.tokenizer.encode("²", add_special_tokens=False)
    assert len(superscript) == 1 and engine.bias_ids(build(logit_bias={"²": 5, " 42 ": 1})) == {superscript[0]: 5, 42: 1}
    for key, words in (("1" * 150, "`logit_bias` token ids must be below the vocabulary size 49152, but '111"),
                       ("٣", "`logit_bias` keys must be exactly one token"), ("1" * 5000, "`logit_bias` keys must be at most")):
        with pytest.raises(ParamError) as e:
            engine.bias_ids(build(logit_bias={key: 1}))
        assert str(e.value).startswith(words) and len(str(e.value)) < SMALL, str(e.value)
    body = build(logit_bias={"²": 1, "7": 2}).to_openai_request([])
    assert body["logit_bias"] == {"7": 2}


@pytest.mark.model
def test_a_bad_logit_bias_key_is_named_not_a_model_failure(engine, ctx):
    vals = with_value(values(max_new_tokens=2), "logit_bias", '{"' + "9" * 150 + '": 5}')
    status = last(chat.send(engine, QUESTION, [], "", {}, *vals))[2]
    assert "`logit_bias` token ids must be below the vocabulary size" in status and "failed" not in status
    note = plot.live(engine, ctx, 30, "linear", *vals)[1]
    assert "Plot not updated: `logit_bias` token ids must be below" in note


# --- the command line ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, words", [
    (["--prompt", "caf\udce9"], "`--prompt` must be UTF-8 text, but byte 0xE9 at character 3 is not"),
    (["--prompt", "Hi", "--system", "\udcfft\udcff"], "`--system` must be UTF-8 text, but byte 0xFF at character 0"),
    (["--prompt", "Hi", "--set", 'logit_bias={"' + "1" * 1000 + '": 1}'], "`logit_bias` keys must be at most 200"),
    (["--prompt", "Hi", "--set", "logit_bias={" + "1" * 5000 + ": 1}"], "`logit_bias` must be a mapping of token to number"),
    (["--prompt", "Hi", "--set", "temperature=" + "9" * 5000], "`temperature` must be in [0, 3], but is inf"),
    (["--prompt", "Hi", "--set", "stop=\udcff"], "`stop` strings must be text"),
])
def test_cli_names_the_field_of_bad_text_and_exits_2(args, words, capsys):
    assert cli.main(["generate", *args]) == cli.USAGE_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: ") and words in err and "Traceback" not in err and len(err) < SMALL, err


@pytest.mark.model
def test_cli_takes_a_superscript_logit_bias_key_as_a_token_text(engine, capsys):
    args = ["generate", "--prompt", "Hi", "--dtype", "float32", "--json", "--top-n", "0",
            "--set", 'logit_bias={"²": 100}', "--set", "max_new_tokens=1", "--set", "do_sample=false"]
    assert cli.main(args) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["token_ids"] == engine.tokenizer.encode("²", add_special_tokens=False)  # +100 forces "²"


# --- over HTTP: the real app ------------------------------------------------------------------------------
def call(app, api: str, *data, session: str = "stalls") -> tuple[str, object, int]:
    """One event over gradio's HTTP API, in this session, as raw JSON (gradio_client cannot send a lone
    surrogate): its last SSE event and data, and the size of the whole answer."""
    import httpx

    base = f"{app.src.rstrip('/')}/gradio_api/call/{api}"
    body = json.dumps({"data": list(data), "session_hash": session})  # ensure_ascii: "\\ud800" travels as JSON
    event_id = httpx.post(base, content=body, headers={"content-type": "application/json"}, timeout=60).json()["event_id"]
    answer = httpx.get(f"{base}/{event_id}", timeout=120).text
    event, payload = answer.rstrip().rsplit("\n\n", 1)[-1].split("\n", 1)
    return event.removeprefix("event: "), json.loads(payload.removeprefix("data: ")), len(answer)


@pytest.mark.model
def test_over_http_bad_values_get_small_named_replies_and_the_session_goes_on(client):  # noqa: F811
    vals = controls.to_values(build(max_new_tokens=2, seed=1))
    event, out, _ = call(client, "chat", SURROGATE, [], "", *vals)
    assert event == "complete" and "`message` must be text, but holds a lone surrogate" in out[2], (event, out)
    event, out, _ = call(client, "chat", QUESTION, [], "", *vals)  # the same session: its next request works
    assert event == "complete" and [m["role"] for m in out[0]] == ["user", "assistant"], (event, out)
    page_history = [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}]  # the Chatbot's format
    event, out, _ = call(client, "refresh_plot", page_history, "", 30, "linear", *vals)
    assert event == "complete" and bars(out[1]) == 30, (event, out)  # (ctx: a state, sent as None), figure, ...
    for api, data in (("plot", (1e9, "linear", *vals)), ("redraw", (1e9, "linear"))):
        event, out, size = call(client, api, *data)
        assert event == "complete" and 5 < bars(out[0]) <= 100 and size < 200_000, (api, event, size)
    for api, data in (("plot", ("NaN", "linear", *vals)), ("redraw", ([1], "linear"))):
        event, out, size = call(client, api, *data)
        assert event == "complete" and "must be" in out[1] and size < SMALL * 2, (api, event, out)
