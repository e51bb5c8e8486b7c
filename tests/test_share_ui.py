"""The Share and Compare panels' handlers on the real model, without a browser: a session file written from
a reply and opened again replays it read-only with no forward pass (Step, Branch and Force are refused);
settings B are read as a whole and a bad line is named."""

from __future__ import annotations

import pytest

from playground.params import ParamError, build
from playground.ui import chat, compare_panel, controls, inspector, share_panel, step_view
from tests.test_i18n import chinese  # noqa: F401 - handlers run for a visitor whose browser asks for Chinese

pytestmark = pytest.mark.model
MODEL = {"id": "bundled", "dtype": "float32"}


@pytest.fixture
def counted(engine):
    """The forward passes the model runs while the test goes on."""
    calls, forward = [], engine.model.forward
    engine.model.forward = lambda *a, **k: calls.append(1) or forward(*a, **k)
    try:
        yield calls
    finally:
        engine.model.forward = forward


def _session(engine, params) -> tuple:
    """(decoder, reply, session file text, its name) of a short reply on the real model."""
    convo = [{"role": "user", "content": "Name a fruit &amp; a colour."}]
    dec = engine.decoder(chat.model_messages(convo), params, system="Be brief.", top_n=chat.TOP_N, report=True)
    while not dec.done:
        dec.step()
    reply = chat.Reply.start(convo, dec)
    return dec, reply, *share_panel.download_session(reply.history(), "Be brief.", reply, MODEL)[:2]


def test_a_session_file_replays_read_only_without_a_forward_pass(engine, counted):
    params = build(temperature=0.9, seed=5, max_new_tokens=5)
    dec, reply, text, fname = _session(engine, params)
    made = len(counted)

    out = share_panel.open_session(engine, text, fname, 30, "linear", {}, MODEL)
    history, system, status, steps, replayed = (out[n] for n in ("history", "system", "status", "steps", "reply"))
    assert history == reply.history() and system == "Be brief." and "Replaying" in status
    assert [s.token_id for s in steps] == dec.token_ids and [out[n] for n in controls.NAMES] == controls.to_values(params)
    shown = inspector.inspect(engine, "2", replayed)  # a step from its record: info, plot, chain rows, candidates
    assert "Step 3" in shown["info"] and step_view.RECORD_ONLY[:30] in shown["info"]
    assert len(shown["chain"]["value"]["data"]) == len(dec.steps[2].stages) > 0
    refused = list(inspector.branch(engine, replayed, {}, 30, "linear", *controls.to_values(params)))
    assert "read-only" in refused[-1]["status"]
    assert len(counted) == made  # the replay never ran the model

    other = share_panel.open_session(engine, text, fname, 30, "linear", {}, {"id": "bundled", "dtype": "bfloat16"})
    assert "bfloat16" in other["status"] and list(other) == ["status"]  # another dtype: nothing else loaded (gradio keeps it)


def test_the_replay_and_the_download_in_chinese(engine, chinese):  # noqa: F811
    dec, reply, text, fname = _session(engine, build(seed=5, max_new_tokens=3))
    assert share_panel.download_session(reply.history(), "", reply, MODEL)[2] == f"已把上一条回复（3 个 token）下载为 **{fname}**。"
    out = share_panel.open_session(engine, text, fname, 30, "linear", {}, MODEL)
    assert out["status"] == (f"正在只读重放 **{fname}**（3 个 token，bundled，float32）：点击一个 token 查看它的那一步。不会运行模型；"
                             "“发送”或“重新生成”会生成一条新回复。")
    assert out["note"] == "重放回复的第 1 步，来自会话文件的记录（没有运行模型）。"
    assert out["reply"].labels == [f"1：从 {fname} 重放（只读）"]


def test_settings_b_are_read_as_a_whole_and_a_bad_line_is_named():
    start = build(max_new_tokens=64)
    b = compare_panel.settings_b("temperature=1.3\n\ntop_k=5", start)
    assert (b.temperature, b.top_k, b.max_new_tokens) == (1.3, 5, 64)
    assert compare_panel.lines(b, start) == "temperature=1.3\ntop_k=5"
    with pytest.raises(ParamError, match="line 2 must be key=value"):
        compare_panel.settings_b("temperature=1\ntemperature 2", start)
    with pytest.raises(ParamError, match="top_p"):
        compare_panel.settings_b("top_p=1.5", start)


def test_compare_refuses_before_running_anything():
    start = build(max_new_tokens=64)
    values = controls.to_values(start)
    long = next(compare_panel.run(None, "Hi", [], "", "max_new_tokens=300", 7, *values, start=start))
    assert "`max_new_tokens` must be at most 256 to compare" in long[0] and "in B" in long[0]
    bad_seed = next(compare_panel.run(None, "Hi", [], "", "", -1, *values, start=start))
    assert "`seed` must be a whole number" in bad_seed[0]
    nothing = next(compare_panel.run(None, "", [], "", "", 7, *values, start=start))
    assert "no user turn to answer" in nothing[0]
