"""int8 weights (`--dtype int8`, playground/loader.quantize_int8) on the real bundled model.

int8 is another model numerically (its logits differ from float32's), so the equivalence that holds is between
the engine and `generate()` on the same quantized model: the same tokens for the same seed, the same finite set
at every step, the engine's raw logits equal to generate()'s. Each step's record (its token's probability, its
kept candidates) reproduces what was sampled. The output layer, tied to the embedding in float32, is quantized
too. Not timed: bench/decode.py --int8 measures the speed.
"""

from __future__ import annotations

import pytest
import torch

from playground import export, fast, loader, share, stage_rows
from playground.backends import LocalBackend
from playground.engine import Engine
from playground.params import ParamError, build
from tests import test_equivalence
from tests.test_equivalence import COMBOS
from tests.test_inspector_engine import MSGS, run_to_end

pytestmark = pytest.mark.model

CASES = [COMBOS[i] for i in (0, 1, 2, 3, 8, 18)]  # greedy, greedy + penalties, plain sampling, min-p, a drawn set, the peers'


@pytest.fixture(scope="module")
def int8():
    return Engine(loader.load(dtype="int8"))


def quantized(module) -> bool:
    return isinstance(module, torch.ao.nn.quantized.dynamic.Linear)


def test_every_linear_layer_is_int8_and_the_output_layer_too(int8, loaded):
    model = int8.model
    assert int8.loaded.dtype == torch.int8 and int8.loaded.device == "cpu"
    assert not any(isinstance(m, torch.nn.Linear) and not quantized(m) for m in model.modules())
    assert quantized(model.lm_head)  # untied: the int8 output layer is its own copy
    assert model.lm_head.weight().dtype == torch.qint8 and model.lm_head.weight().shape == (49152, 576)
    assert model.model.embed_tokens.weight.dtype == torch.float32
    assert loaded.model.lm_head.weight.data_ptr() == loaded.model.model.embed_tokens.weight.data_ptr()  # fp32 untouched
    assert fast.unavailable(model, exact=False).startswith("the model's weights are int8")
    ids = int8.prompt_ids(MSGS)
    a, b = int8.next_logits(ids), Engine(loaded).next_logits(ids)
    assert not torch.allclose(a, b, atol=1e-2)  # a different model numerically...
    assert a.argmax() == b.argmax()  # ...of the same weights


@pytest.mark.parametrize("prompt_no,values,seed", CASES, ids=[f"combo{COMBOS.index(c)}" for c in CASES])
def test_int8_engine_gives_generates_tokens_on_the_same_int8_model(int8, monkeypatch, prompt_no, values, seed):
    test_equivalence.test_stream_matches_generate(int8, monkeypatch, prompt_no, values, seed)


@pytest.mark.parametrize("params", [build(do_sample=False, max_new_tokens=6),
                                    build(temperature=0.7, top_p=0.8, min_p=0.05, seed=9, max_new_tokens=6)])
def test_each_int8_step_record_reproduces_its_token(int8, params):
    dec = run_to_end(int8.decoder(MSGS, params, keep_logits=True))
    for k, step in enumerate(dec.steps):
        trace = dec.trace_at(k)
        final = torch.softmax(trace.final[0], dim=-1)
        assert abs(float(final[step.token_id]) - step.prob) < 1e-6
        assert step.token_id in stage_rows.survivors(trace)
        if params.mode == "greedy":
            assert step.token_id == int(trace.final[0].argmax())


def test_the_int8_export_quantizes_as_the_app_did():
    code = export.python_snippet(build(max_new_tokens=4), MSGS, model_id=loader.BUNDLED, dtype="int8")
    assert "dtype=torch.float32)" in code and "dtype=torch.int8" not in code
    assert "quantize_dynamic(model.eval(), {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)" in code
    compile(code, "exported.py", "exec")


def test_the_label_and_a_session_file_say_int8(int8, engine):
    assert "(int8, cpu): exact" in LocalBackend(int8).describe()
    named = lambda e: {"id": e.loaded.model_id, "dtype": str(e.loaded.dtype).removeprefix("torch.")}  # as the page names it
    params = build(do_sample=False, max_new_tokens=3)
    *_, done = int8.stream(MSGS, params)
    text = share.session_json(share.Shared(params, "", [*MSGS, {"role": "assistant", "content": done.text}], steps=done.steps,
                                           finish_reason=done.finish_reason, model=named(int8)))
    assert share.read_session(text, named(int8)).model["dtype"] == "int8"
    with pytest.raises(ParamError, match=r"\(int8\), but this server runs 'bundled' \(float32\)"):
        share.read_session(text, named(engine))


def test_int8_on_a_gpu_is_refused_with_a_reason():
    with pytest.raises(loader.ModelLoadError, match="int8 runs on a CPU only"):
        loader.pick_dtype("int8", "cuda")
