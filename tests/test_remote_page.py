"""The page on a remote backend (playground/ui/remote_page.py, remote_chat.py), its handlers driven as the page drives
them, against a real OpenAI-compatible server on loopback: this playground's own API (as in test_remote.py).

A reply through the page equals the local engine's for the same seed; its steps carry the server's top 20, which
colour the reply's tokens and draw the plot under a label saying what they are; the controls a kind of server cannot
take are greyed with the reason; the chain view says it is unavailable; server errors reach the status line as one
line with the chat and the message kept. `app.py --backend openai` builds the same page from its flags.
"""

from __future__ import annotations

import html
import json
import re

import gradio as gr
import pytest

from playground.backends import LocalBackend
from playground.limits import Limits
from playground.params import build
from playground.remote import OpenAIBackend
from playground.ui import controls, remote_chat, remote_page
from tests.test_i18n import chinese  # noqa: F401 - handlers run for a visitor whose browser asks for Chinese
from tests.test_remote import ASK, server  # noqa: F401 - the loopback API fixture

pytest.importorskip("openai")
pytestmark = pytest.mark.model


@pytest.fixture
def remote(server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("TEST_REMOTE_KEY", "sesame")
    return OpenAIBackend.connect(server.url + "v1", api_key_env="TEST_REMOTE_KEY")


def send(backend, params, message=ASK[0]["content"], history=None, run=None, limits=None):
    """Every update the page's Send handler yields, as the page would receive them."""
    values = controls.to_values(params)
    return list(remote_chat.send(backend, message, history or [], "", run if run is not None else {}, 20, "linear", *values,
                                 limits=limits))


def bars(fig_json: str) -> list[dict]:
    fig = json.loads(fig_json)
    return [t for t in fig["data"] if t["type"] == "bar"]


def test_a_reply_through_the_page_equals_the_local_engines_and_plots_the_servers_top_20(remote, engine):
    params = build(temperature=0.9, top_k=30, seed=21, max_new_tokens=8)
    updates = send(remote, params)
    *_, here = LocalBackend(engine).stream(ASK, params)
    history, box, status, steps, tokens, fig, note, shown = updates[-1]
    assert history[-1] == {"role": "assistant", "content": html.escape(here.text, quote=False)} and box == ""
    assert [s.token for s in steps] == [s.token for s in here.steps] and len(steps) == len(here.token_ids)
    assert any(u[2].startswith("Generating… ") for u in updates[:-1])  # streamed token by token
    assert status.startswith(f"**{here.finish_reason}**") and f"{len(steps)} tokens" in status and "seed 21" in status
    # the plot: step 1's top 20 as the server sent them, labelled; the note says what is not drawn and why
    assert shown == 0 and sum(len(t["x"]) for t in bars(fig)) == 20
    title = json.loads(fig)["layout"]["title"]["text"]
    assert title == "Step 1: the server's top 20, after its samplers"
    heights = sorted((y for t in bars(fig) for y in t["y"]), reverse=True)
    assert heights == pytest.approx(sorted((c.prob_final for c in here.steps[0].candidates), reverse=True)[:20], rel=1e-5)
    assert "not drawn on a remote backend" in note and f"rank {steps[0].rank} of the server's top 20" in note
    # the reply's tokens: one span per step, coloured by the probability the server reported, step 1 selected
    spans = re.findall(r'<span class="tok[^"]*" data-step="(\d+)"[^>]*title="([^"]*)"', tokens)
    assert len(spans) == len(steps) and 'class="tok sel" data-step="0"' in tokens
    assert f"p = {steps[1].prob:.4g} · rank {steps[1].rank}" in spans[1][1] and "id -1" not in tokens
    # Regenerate answers the same turn again: the same seed, the same reply
    again = list(remote_chat.regenerate(remote, history, "", {}, 20, "linear", *controls.to_values(params)))[-1]
    assert again[0] == history and again[1] == gr.skip()
    nothing = list(remote_chat.regenerate(remote, [], "", {}, 20, "linear", *controls.to_values(params)))
    assert len(nothing) == 1 and nothing[0][2] == "⚠️ Nothing to regenerate: the conversation has no user message yet."
    # a click on token 3 (the page writes "2@n"), then Top N: that step, 5 bars
    tokens, fig, note, shown = remote_chat.inspect(remote, "2@1", steps, 20, "linear")
    assert shown == 2 and "Step 3:" in json.loads(fig)["layout"]["title"]["text"]
    tokens, fig, note, shown = remote_chat.redraw(remote, shown, steps, 5, "log")
    assert shown == 2 and sum(len(t["x"]) for t in bars(fig)) == 5 and json.loads(fig)["layout"]["yaxis"]["type"] == "log"


def test_settings_a_server_cannot_take_are_refused_and_nothing_is_lost(remote, server):  # noqa: F811
    plain = OpenAIBackend(server.url + "v1", remote.model, kind="openai", api_key_env="TEST_REMOTE_KEY")
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]
    (update,) = send(plain, build(top_k=40, seed=1), message="Keep me", history=history)
    assert update[0] == update[1] == gr.skip()  # the page keeps the chat and the message as they are
    assert update[2].startswith("⚠️ `top_k` is not taken by a OpenAI-compatible server, but is 40.")
    # the server's own error (its cap), then a wrong key: one line each, the conversation and the message kept
    *_, last = send(remote, build(max_new_tokens=500, seed=1), message="Keep me", history=history)
    assert last[0] == history and last[1] == "Keep me" and last[2].count("\n") == 0
    assert "answered 400: `max_tokens` must be at most 64" in last[2]


def test_a_wrong_key_is_one_line_and_never_shown(server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("TEST_WRONG_KEY", "open-sesame-not")
    wrong = OpenAIBackend(server.url + "v1", "SmolLM2-135M-Instruct", kind="playground", api_key_env="TEST_WRONG_KEY")
    *_, last = send(wrong, build(seed=1), message="Keep me")
    assert last[0] == [] and last[1] == "Keep me" and "refused the API key (401): set TEST_WRONG_KEY" in last[2]
    assert "open-sesame" not in last[2] and "\n" not in last[2]


def test_in_public_mode_no_status_line_names_the_servers_address(server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("TEST_WRONG_KEY", "open-sesame-not")
    wrong = OpenAIBackend(server.url + "v1", "SmolLM2-135M-Instruct", kind="playground", api_key_env="TEST_WRONG_KEY")
    shown = send(wrong, build(seed=1), message="Keep me", limits=Limits())[-1][2]
    assert f"The server at {server.url}v1 refused the API key (401)" in shown  # a private instance: where, for its owner
    *_, last = send(wrong, build(seed=1), message="Keep me", limits=Limits(public=True))
    assert last[1] == "Keep me" and last[2].startswith("⚠️ The server refused the API key (401): set TEST_WRONG_KEY to")
    gone = OpenAIBackend("http://127.0.0.1:9/v1", "m", kind="openai")  # nothing listens on port 9
    *_, last = send(gone, build(seed=1), message="Keep me", limits=Limits(public=True))
    assert last[2].startswith("⚠️ Cannot reach the server: ") and last[2].endswith("The conversation and the settings are unchanged.")
    for update in send(wrong, build(seed=1), limits=Limits(public=True)) + send(gone, build(seed=1), limits=Limits(public=True)):
        assert "127.0.0.1" not in str(update[2]) and server.url not in str(update[2])


def test_the_sampling_mode_greys_controls_as_on_the_local_page(server):  # noqa: F811
    greedy = controls.to_values(build(do_sample=False))
    for kind in ("openai", "llamacpp"):
        backend = OpenAIBackend(server.url + "v1", "m", kind=kind)
        mode, *updates = remote_page.mode_updates(backend, "sample", *greedy)
        local = dict(zip(controls.NAMES, controls.mode_updates("sample", *greedy)[1:]))
        assert mode == "greedy"
        by_name = dict(zip(controls.NAMES, updates))
        untaken = remote_page.greyed(backend)
        for name, update in by_name.items():
            assert update == (local[name] if name not in untaken else gr.update(interactive=False, info=untaken[name])), name
        assert by_name["top_p"]["interactive"] is False and by_name["top_p"]["info"].startswith("Inactive: ")
        assert by_name["top_k"]["info"].startswith("Not on this server" if kind == "openai" else "Inactive: ")
        assert remote_page.mode_updates(backend, "greedy", *greedy)[1:] == [gr.skip()] * len(controls.NAMES)  # unchanged


def test_the_remote_page_speaks_chinese_to_a_chinese_visitor(remote, server, chinese):  # noqa: F811
    *_, (history, box, status, steps, tokens, fig, note, shown) = send(remote, build(seed=21, max_new_tokens=6))
    assert re.search(r"\*\*\w+\*\*: [^·]+ · \d+ 个 token · ", status), status
    figure = json.loads(fig)
    assert figure["layout"]["title"]["text"] == "第 1 步：服务器在其采样器处理后给出的前 20 个 token"
    assert figure["layout"]["yaxis"]["title"]["text"] == "服务器概率"
    assert "累积概率（所显示的头部 token）" in {t["name"] for t in figure["data"]}
    label = "服务器在其采样器处理后给出的前 20 个 token"  # the server's top 20, after its samplers
    assert note.startswith("生成的第 1 个 token：") and f"（p = {steps[0].prob:.3g}，{label} 中排第 {steps[0].rank}）" in note
    assert "所以在远程后端上不绘制。" in note and "在远程服务器上：概率和排名都是服务器给出的" in tokens
    cleared = remote_chat.step_view(remote, [], None)
    assert cleared[2].startswith(f"发送一条消息：图中随后会按服务器报告的样子显示回复的每个 token（{label}）")
    plain = OpenAIBackend(server.url + "v1", remote.model, kind="openai", api_key_env="TEST_REMOTE_KEY")
    (refused,) = send(plain, build(top_k=40, seed=1))
    assert refused[2].startswith("⚠️ OpenAI 兼容服务器不接受 `top_k`，但它现在是 40。请把它设回 0，")
    *_, last = send(remote, build(max_new_tokens=500, seed=1), limits=Limits(max_new_tokens_cap=1024, public=True))
    assert last[2].startswith("⚠️ 服务器回答了 400：") and last[2].endswith("对话和设置都没有改变。")
    gone = OpenAIBackend("http://127.0.0.1:9/v1", "m", kind="openai")
    *_, last = send(gone, build(seed=1))
    assert last[2].startswith("⚠️ 连不上服务器 http://127.0.0.1:9/v1 ：") and "它在运行吗？" in last[2]
    assert remote_page.mode_updates(remote, "sample", *controls.to_values(build(do_sample=False)))[
        1 + controls.NAMES.index("top_p")]["info"].startswith("未生效：")


def test_stop_ends_the_reply_at_the_next_token_and_says_cancelled(remote):
    run: dict = {}
    gen = remote_chat.send(remote, "Count from one to fifty.", [], "", run, 20, "linear",
                           *controls.to_values(build(seed=3, max_new_tokens=64, min_new_tokens=64)))
    for update in gen:
        if update[2].startswith("Generating… 2 tokens"):
            break
    from playground.ui import chat

    assert chat.stop(run) == chat.STOPPING
    *_, last = list(gen)
    assert last[2].startswith("**cancelled**") and len(last[3]) < 64


def test_a_visitor_who_leaves_stops_the_servers_reply(remote):
    # `sessions.watched` puts the connection's liveness into `run`; once it is gone the stream ends at the next token.
    asked = []
    run: dict = {"alive": lambda: asked.append(1) or len(asked) < 3}
    *_, last = remote_chat.send(remote, "Count from one to fifty.", [], "", run, 20, "linear",
                                *controls.to_values(build(seed=3, max_new_tokens=64, min_new_tokens=64)))
    assert last[2].startswith("**cancelled**") and len(last[3]) < 64


def test_controls_a_server_cannot_take_are_greyed_with_the_reason(server):  # noqa: F811
    from playground.ui.remote_page import build_remote_demo, greyed

    def props(kind):
        demo = build_remote_demo(OpenAIBackend(server.url + "v1", "SmolLM2-135M-Instruct", kind=kind))
        by_id = {c["props"].get("elem_id"): c["props"] for c in demo.config["components"]}
        return by_id, demo

    plain, demo = props("openai")
    for name in ("top_k", "min_p", "repetition_penalty", "num_beams"):
        assert plain[f"param-{name}"]["interactive"] is False
    assert plain["param-top_k"]["info"].startswith("Not on this server: the server (OpenAI-compatible server) does not "
                                                   "take it. ")
    assert plain["param-temperature"].get("interactive") is not False and plain["param-top_p"].get("interactive") is not False
    unavailable = plain["remote-unavailable"]["value"]  # a translation key: its English
    unavailable = json.loads(unavailable.removeprefix("__i18n__"))["key"] if unavailable.startswith("__i18n__") else unavailable
    assert unavailable.startswith("**Unavailable on this remote backend: the chain view and the chain table, the live redraw")
    assert "Step, Force and Branch" in unavailable and "compare" in unavailable and "full logits" in unavailable
    demo.close()
    llama, demo = props("llamacpp")
    assert llama["param-top_k"].get("interactive") is not False and llama["param-min_p"].get("interactive") is not False
    assert llama["param-dry_multiplier"].get("interactive") is not False and llama["param-top_a"]["interactive"] is False
    assert set(greyed(OpenAIBackend(server.url + "v1", "m", kind="llamacpp"))) == {
        n for n in controls.NAMES if llama[f"param-{n}"].get("interactive") is False}
    demo.close()


def test_app_flags_and_environment_pick_the_remote_backend(server, monkeypatch):  # noqa: F811
    import app

    monkeypatch.setenv("TEST_REMOTE_KEY", "sesame")
    args = app.parse_args(["--backend", "openai", "--base-url", server.url + "v1", "--api-key-env", "TEST_REMOTE_KEY"])
    backend = app.remote_backend(args)
    assert backend.kind == "playground" and backend.model == "SmolLM2-135M-Instruct"
    for var, value in {"PLAYGROUND_BACKEND": "openai", "PLAYGROUND_BASE_URL": server.url + "v1",
                       "PLAYGROUND_API_KEY_ENV": "TEST_REMOTE_KEY", "PLAYGROUND_SERVER_KIND": "openai"}.items():
        monkeypatch.setenv(var, value)
    args = app.parse_args([])
    assert (args.backend, args.base_url, args.api_key_env, args.server_kind) == ("openai", server.url + "v1",
                                                                                 "TEST_REMOTE_KEY", "openai")
    assert app.remote_backend(args).kind == "openai"
    monkeypatch.setenv("TEST_REMOTE_KEY", "wrong")
    with pytest.raises(SystemExit, match=r"^error: The server at .* refused the API key \(401\)") as e:
        app.remote_backend(args)
    assert "wrong" not in str(e.value)
    monkeypatch.delenv("PLAYGROUND_BASE_URL")
    with pytest.raises(SystemExit, match="`--base-url` is needed with `--backend openai`"):
        app.remote_backend(app.parse_args([]))


def test_a_reply_that_fails_midway_takes_its_tokens_with_it(remote, monkeypatch):
    # The server sends three tokens, then fails: the chat, the steps and the token strip all go back to before it.
    from playground.backends import BackendError

    real = remote.stream

    def breaks(*args, **kw):
        for i, item in enumerate(real(*args, **kw)):
            if i == 3:
                raise BackendError("The server at somewhere answered 500: upstream died.")
            yield item

    monkeypatch.setattr(remote, "stream", breaks)
    updates = send(remote, build(seed=1, max_new_tokens=12), message="Keep me")
    assert any(len(u[3]) == 3 for u in updates if isinstance(u[3], list))  # its tokens were shown while it streamed
    last = updates[-1]
    assert last[0] == [] and last[1] == "Keep me" and "answered 500: upstream died" in last[2]
    assert last[3] == [] and "data-step" not in last[4] and last[7] is None  # no steps, no token strip, no shown step


def test_the_address_is_hidden_also_as_an_ipv6_literal_or_in_other_case():
    v6 = remote_chat.unnamed("The server at http://[::1]:8000/v1 answered 500. Cannot reach http://[::1]:8000/v1.",
                             "http://[::1]:8000/v1")
    assert v6 == "The server answered 500. Cannot reach the server."
    assert remote_chat.unnamed("The server at HTTP://LocalHost:8000/v1 refused.", "http://localhost:8000/v1") == "The server refused."
