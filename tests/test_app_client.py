"""The real app over HTTP: launched in-process on a free port and driven with gradio_client."""

from __future__ import annotations

import json
import socket

import pytest

from playground.params import build
from playground.ui import controls

pytestmark = pytest.mark.model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def client(engine, tmp_path_factory):
    import shutil

    from gradio_client import Client

    from playground import presets
    from playground.ui.layout import build_demo

    folder = tmp_path_factory.mktemp("presets")
    for name in ("balanced", "greedy"):
        shutil.copy(presets.PRESETS_DIR / f"{name}.yaml", folder)
    demo = build_demo(engine, presets_folder=folder)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, show_error=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        demo.close()


def kept_tokens(plot) -> list:
    """The x positions of the 'kept' bars in a plot value returned over the API (the figure as JSON)."""
    fig = json.loads(plot)
    kept = [t for t in fig["data"] if t.get("name") == "kept"]
    return list(kept[0]["x"]) if kept else []


def test_streaming_chat_returns_a_reply(client):
    values = controls.to_values(build(max_new_tokens=5, seed=3))
    job = client.submit("Hi!", [], "", *values, api_name="/chat")
    outputs = list(job)  # every streamed update
    history, box, status = job.result()[:3]
    assert len(outputs) >= 2  # streamed, not one final answer
    assert [m["role"] for m in history] == ["user", "assistant"]
    reply = history[-1]["content"]
    reply = reply if isinstance(reply, str) else "".join(p.get("text", "") for p in reply)
    assert reply.strip()
    assert box == ""
    assert "tokens/s" in status and "5 tokens" in status


def test_plot_kept_set_shrinks_when_top_k_goes_from_0_to_5(client):
    base = controls.to_values(build(top_k=0))
    history = [{"role": "user", "content": [{"type": "text", "text": "Name a colour."}]}]
    refreshed = client.predict(history, "", 30, "linear", *base, api_name="/refresh_plot")
    assert len(kept_tokens(refreshed[0])) == 30, refreshed[1]  # nothing filters: every shown token survives
    fig = client.predict(30, "linear", *controls.to_values(build(top_k=5)), api_name="/plot")[0]
    assert len(kept_tokens(fig)) == 5


def test_preset_load_sets_values(client):
    out = client.predict("balanced", api_name="/load_preset")
    values, message = list(out[:-1]), out[-1]
    got = dict(zip(controls.NAMES, values))
    assert got["temperature"] == pytest.approx(0.7) and got["top_p"] == pytest.approx(0.95)
    assert got["top_k"] == 0 and "balanced" in message


def test_export_gives_code_for_the_current_settings(client):
    from playground import export

    params = build(temperature=0.6, top_k=20, presence_penalty=0.5, stop=["\n\n"], seed=3)
    history = [{"role": "user", "content": [{"type": "text", "text": "Name a colour."}]}]
    py, body, completion, cli, note = client.predict(history, "Be brief.", *controls.to_values(params), api_name="/export")
    compile(py, "export.py", "exec")
    assert export.kwargs_from_snippet(py) == params.to_generate_kwargs()
    sent = export.body_from_snippet(body)
    assert sent["temperature"] == 0.6 and sent["presence_penalty"] == 0.5 and sent["stop"] == ["\n\n"]
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert "top_k" in note  # OpenAI has no top-k: the page says it is dropped
    from playground import llama_cli

    assert llama_cli.body_from_snippet(completion)["top_k"] == 20 and llama_cli.from_llama_cli(cli).top_k == 20
    bad = controls.to_values(params)
    bad[controls.NAMES.index("top_p")] = 1.5
    *_, message = client.predict(history, "", *bad, api_name="/export")
    assert "`top_p` must be in (0, 1], but is 1.5" in message


def test_the_api_names_its_parameters_and_takes_openai_style_messages(client):
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    for name in ("/chat", "/regenerate", "/step", "/run_to_end", "/plot", "/export", "/refresh_plot", "/save_preset"):
        names = [p["parameter_name"] for p in info[name]["parameters"]]
        assert not [n for n in names if n.startswith("param_")], (name, names)
    chat = {p["parameter_name"]: p for p in info["/chat"]["parameters"]}
    assert list(chat)[:3] == ["message", "history", "system"] and {"temperature", "top_k", "seed"} <= set(chat)
    assert chat["seed"]["parameter_has_default"] and chat["system"]["parameter_has_default"]
    assert not chat["message"]["parameter_has_default"]
    # string content (OpenAI style), by name, seed and system left out
    history = [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue."}]
    out, box, status = client.predict("And another?", history, max_new_tokens=4, api_name="/chat")[:3]
    assert [m["role"] for m in out] == ["user", "assistant", "user", "assistant"] and "tokens/s" in status
    # a status quoting markup reads as plain text: no HTML entities
    *_, bad = client.predict("Hi", [], top_p="<b>&", api_name="/chat")[:3]
    assert "`top_p`" in bad and "&lt;" not in bad and "&amp;" not in bad and "<b>&" in bad.replace("\\", "")
