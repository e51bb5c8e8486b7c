"""Sharing (share.py): the page link and the session file, round trips and every way they can be bad."""

from __future__ import annotations

import base64
import json
import zlib

import pytest

from playground import presets, share
from playground.params import ParamError, build

PRESETS = {n: presets.load_preset(n) for n in presets.list_presets()}
CONVO = [{"role": "user", "content": "Name three colours."}, {"role": "assistant", "content": "Red, green and blue — ✓"}]


def test_a_link_restores_settings_system_conversation_and_step():
    params = build(temperature=0.7, top_k=12, stop=["\n\n"], seed=9)
    value = share.link_state(params, "Be brief.", CONVO, step=3, presets=PRESETS)
    got = share.read_link(value, PRESETS)
    assert (got.params, got.system, got.conversation, got.step, got.preset) == (params, "Be brief.", CONVO, 3, None)
    assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")  # one URL-safe value


def test_a_link_names_a_matching_preset_instead_of_its_values():
    named = share.link_state(PRESETS["llamacpp-defaults"], "", [], presets=PRESETS)
    spelled = share.link_state(PRESETS["llamacpp-defaults"], "", [], presets={})
    assert len(named) < len(spelled)
    got = share.read_link(named, PRESETS)
    assert got.preset == "llamacpp-defaults" and got.params == PRESETS["llamacpp-defaults"]
    assert share.read_link(share.link_state(build(), "", [], presets=PRESETS)).params == build()  # defaults: nothing stored


def _forge(state: dict) -> str:
    raw = json.dumps(state).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")


@pytest.mark.parametrize("value, words", [
    ("", "`link` is damaged or was changed: it is empty"),
    ("not-a-link!!", "it does not decode"),
    (_forge({"v": 99}), "its version is 99, not 1"),
    (_forge({"v": 1, "x": 1}), "it has unknown parts ['x']"),
    (_forge({"v": 1, "preset": "nope"}), "it names the preset 'nope', which this server does not have"),
    (_forge({"v": 1, "p": {"top_p": 1.5}}), "link: `top_p` must be in (0, 1], but is 1.5"),
    (_forge({"v": 1, "p": {"topp": 0.5}}), "`topp` is not a parameter"),
    (_forge({"v": 1, "c": [["x", "hi"]]}), "its conversation is not a list of"),
    (_forge({"v": 1, "k": -2}), "its step is -2, not a whole number >= 0"),
    (_forge({"v": 1, "sys": 5}), "`system` must be text"),
])
def test_a_bad_or_tampered_link_loads_nothing_and_says_why(value, words):
    with pytest.raises(ParamError) as e:
        share.read_link(value, PRESETS)
    assert words in str(e.value), str(e.value)


def test_a_changed_character_is_caught():
    value = share.link_state(build(temperature=0.5), "", CONVO)
    flipped = value[:10] + ("A" if value[10] != "A" else "B") + value[11:]
    with pytest.raises(ParamError, match="damaged or was changed"):
        share.read_link(flipped, PRESETS)


def test_a_conversation_too_long_for_a_link_says_to_use_the_file():
    import random

    rnd = random.Random(1)
    noise = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(20_000))  # does not compress
    with pytest.raises(ParamError, match="Download the session file instead"):
        share.link_state(build(), "", [{"role": "user", "content": noise}])


@pytest.mark.model
def test_a_session_file_round_trip_keeps_every_step_record(engine):
    params = build(temperature=0.8, top_k=20, seed=4, max_new_tokens=6)
    *_, done = engine.stream(CONVO[:1], params, report=True)
    model = {"id": engine.loaded.model_id, "dtype": str(engine.loaded.dtype).removeprefix("torch.")}
    text = share.session_json(share.Shared(params, "Be brief.", [*CONVO[:1], {"role": "assistant", "content": done.text}],
                                           steps=done.steps, finish_reason=done.finish_reason, model=model))
    got = share.read_session(text, model)
    assert got.params == params and got.system == "Be brief." and got.finish_reason == done.finish_reason
    assert [s.token_id for s in got.steps] == done.token_ids
    for mine, theirs in zip(done.steps, got.steps):
        assert theirs.candidates == mine.candidates[: share.TOP] and theirs.stages == mine.stages
        assert (theirs.prob, theirs.rank, theirs.text, theirs.params) == (mine.prob, mine.rank, mine.text, mine.params)
    with pytest.raises(ParamError, match=r"was made with 'bundled' \(float32\), but this server runs 'other' \(bfloat16\)"):
        share.read_session(text, {"id": "other", "dtype": "bfloat16"})


@pytest.mark.parametrize("text, words", [
    ("{not json", "is not a session file: it is not JSON"),
    (json.dumps({"format": "something-else"}), "is not a session file of Sampling Playground"),
    (json.dumps({"format": share.FORMAT, "version": 0}), "has session format version 0; this server reads version 1"),
    (json.dumps({"format": share.FORMAT, "version": 1, "params": {"temperature": 9}}), "`temperature` must be in [0, 3]"),
    (json.dumps({"format": share.FORMAT, "version": 1, "steps": [{"step": 0}]}), "has a damaged step record"),
])
def test_a_bad_session_file_says_why(text, words):
    with pytest.raises(ParamError) as e:
        share.read_session(text, name="mine.json")
    assert words in str(e.value) and "mine.json" in str(e.value), str(e.value)
