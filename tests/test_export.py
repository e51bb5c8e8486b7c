"""Code export: the snippets compile, carry exactly the params, and the script reproduces the engine."""

from __future__ import annotations

import contextlib
import io

import pytest

from playground import export, presets
from playground.params import build

MESSAGES = [{"role": "user", "content": 'Say "hi"\nand stop.'}]
CASES = {
    "defaults": build(),
    "greedy": build(do_sample=False),
    "temperature 0": build(temperature=0),
    "transformers order": build(temperature=0.7, top_k=40, top_p=0.9, min_p=0.05, typical_p=0.95, epsilon_cutoff=0.001,
                                eta_cutoff=0.002, seed=5),
    "temperature last": build(temperature=0.8, top_k=40, top_p=0.95, min_p=0.05, sampler_order="temperature_last"),
    "penalties": build(presence_penalty=0.5, frequency_penalty=1.0, repetition_penalty=1.2, no_repeat_ngram_size=3),
    "bias and stop": build(logit_bias={" the": -100, "42": 5}, stop=["\n\n", "User:"], min_new_tokens=2),
    "beam": build(num_beams=3, num_return_sequences=2, length_penalty=0.5, early_stopping=True),
} | {f"preset {n}": presets.load_preset(n) for n in presets.list_presets()}


@pytest.mark.parametrize("name", CASES)
def test_python_snippet_compiles_and_carries_exactly_the_generate_kwargs(name):
    params = CASES[name]
    code = export.python_snippet(params, MESSAGES, system="Be brief.")
    compile(code, f"<{name}>", "exec")
    assert export.kwargs_from_snippet(code) == params.to_generate_kwargs()
    assert "'role': 'system', 'content': 'Be brief.'" in code


@pytest.mark.parametrize("name", CASES)
def test_openai_snippet_compiles_and_carries_the_request_body(name):
    params = CASES[name]
    code = export.openai_snippet(params, MESSAGES)
    compile(code, f"<{name}>", "exec")
    want = params.to_openai_request(MESSAGES)
    want.pop("logit_bias", None)  # this model's token ids: never sent to another model
    assert export.body_from_snippet(code) == want
    for dropped in params.openai_unsupported():
        assert dropped.split(" (")[0] in code.split("from openai")[0]


def test_custom_processors_appear_only_when_needed():
    plain = export.python_snippet(build(temperature=0.7), MESSAGES)
    assert "OpenAIPenaltyLogitsProcessor" not in plain and "logits_processor" not in plain
    pen = export.python_snippet(build(frequency_penalty=0.5), MESSAGES)
    assert "class OpenAIPenaltyLogitsProcessor" in pen and "OpenAIPenaltyLogitsProcessor(0.0, 0.5, prompt_len)" in pen
    last = export.python_snippet(CASES["temperature last"], MESSAGES)
    assert ("[TopKLogitsWarper(40), TopPLogitsWarper(0.95), MinPLogitsWarper(0.05), TemperatureLogitsWarper(0.8)]"
            in last)
    # greedy ignores the sampler order: no warpers at all
    assert "Warper" not in export.python_snippet(build(do_sample=False, sampler_order="temperature_last", top_k=5),
                                                  MESSAGES)


def test_openai_snippet_names_what_it_drops():
    code = export.openai_snippet(build(top_k=40, logit_bias={"7": 3}), MESSAGES)
    assert "# Not sent: the OpenAI API has no field for top_k." in code
    assert "# Not sent: logit_bias. Its keys are this model's tokens" in code
    assert "logit_bias" not in export.body_from_snippet(code)
    assert "Not sent" not in export.openai_snippet(build(temperature=0.5), MESSAGES)
    assert "a Python script using the `openai` client" in code and "curl https://api.openai.com/v1/chat/completions" in code


def test_after_a_reply_both_exports_ask_what_the_reply_was_asked():
    convo = [*MESSAGES, {"role": "assistant", "content": "hi"}]
    py = export.python_snippet(build(seed=1), convo)
    asked = py.split("messages = ", 1)[1].split("\n#", 1)[0]
    assert "assistant" not in asked and "'role': 'user'" in asked  # the conversation up to the last user turn
    assert "# messages += [{'role': 'assistant', 'content': 'hi'}," in py  # continuing after it is offered
    assert [m["role"] for m in export.body_from_snippet(export.openai_snippet(build(), convo))["messages"]] == ["user"]


def test_the_reply_seed_is_exported_when_the_settings_have_none():
    assert "torch.manual_seed(1234)" in export.python_snippet(build(), MESSAGES, seed=1234)
    assert "torch.manual_seed(5)" in export.python_snippet(build(seed=5), MESSAGES, seed=1234)  # the settings' own wins
    assert export.body_from_snippet(export.openai_snippet(build(), MESSAGES, seed=1234))["seed"] == 1234


def _run(code: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "<snippet>", "exec"), {"__name__": "__snippet__"})
    return buf.getvalue()


def _engine_text(engine, params) -> str:
    *_, done = engine.stream(MESSAGES, params, system="Be brief.", top_n=0)
    return done.text


@pytest.mark.model
@pytest.mark.parametrize("params", [
    build(do_sample=False, max_new_tokens=12, frequency_penalty=1.5, presence_penalty=0.5, logit_bias={"Hi": -100}),
    build(temperature=0.9, top_k=40, top_p=0.95, min_p=0.05, sampler_order="temperature_last", seed=11,
          max_new_tokens=12, repetition_penalty=1.1),
    build(temperature=0.9, top_n_sigma=1.5, xtc_probability=0.5, xtc_threshold=0.05, dry_multiplier=0.8, top_a=0.05,
          smoothing_factor=0.2, seed=12, max_new_tokens=12),
    build(mirostat=2, mirostat_tau=3.0, mirostat_eta=0.3, temperature=0.9, seed=13, max_new_tokens=12),
    build(temperature=2.0, top_k=40, min_p=0.1, top_p=0.9, sampler_order="min_p,top_k,temperature,top_p", seed=14,
          max_new_tokens=12),
], ids=["greedy-penalties-bias", "sampled-temperature-last", "the-peers-samplers", "mirostat", "custom-order"])
def test_python_snippet_reproduces_the_engine(engine, loaded, params):
    code = export.python_snippet(params, MESSAGES, system="Be brief.", model_id=loaded.model.name_or_path)
    assert _run(code).rstrip("\n") == _engine_text(engine, params)


@pytest.mark.model
@pytest.mark.model
@pytest.mark.parametrize("dtype", ["bfloat16", "int8"])
def test_the_script_of_the_bundled_model_gives_the_apps_reply(dtype, tmp_path):
    """The script as the page exports it (the bundled GGUF, the app's dtype, the reply's seed, the conversation
    up to the last user turn), run as its own process, prints the reply the app gave. In bf16, where the old
    export parted from the app; fp32 is `test_python_snippet_reproduces_the_engine` (each GGUF load is ~15 s)."""
    import os
    import subprocess
    import sys

    from playground import loader
    from playground.engine import Engine

    engine = Engine(loader.load(loader.BUNDLED, dtype=dtype))
    params = build(temperature=0.9, top_k=40, max_new_tokens=10)
    *_, done = engine.stream(MESSAGES, params.replace(seed=77))
    convo = [*MESSAGES, {"role": "assistant", "content": done.text}]
    script = tmp_path / "exported.py"
    script.write_text(export.python_snippet(params, convo, model_id=loader.BUNDLED, dtype=dtype, seed=done.seed))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.rstrip("\n") == done.text


@pytest.mark.model
def test_python_snippet_beam_prints_every_beam(loaded):
    params = build(num_beams=3, num_return_sequences=2, max_new_tokens=6)
    out = _run(export.python_snippet(params, MESSAGES, model_id=loaded.model.name_or_path))
    assert [line[:10] for line in out.splitlines()] == ["#1 score -", "#2 score -"]
