"""The shared loader: one instance per (model, dtype, device), loaded once even under concurrent
requests; clear errors for folders that are not models, offline hub ids, missing chat templates and
bad dtypes; the default model id."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from playground import loader
from playground.loader import Loaded, ModelLoadError


@pytest.fixture
def fresh_cache(monkeypatch):
    """An empty loader cache for the test, the real one restored afterwards."""
    monkeypatch.setattr(loader, "_cache", {})
    monkeypatch.setattr(loader, "_locks", {})


@pytest.mark.model
def test_load_twice_is_the_same_object(loaded):
    assert loader.load(dtype="float32") is loaded
    assert loader.load(loaded.model_id, dtype="fp32", device="cpu") is loaded
    assert loaded.dtype == torch.float32 and loaded.device == "cpu"
    assert next(loaded.model.parameters()).dtype == torch.float32
    assert not loaded.model.training


def test_concurrent_loads_share_one_load(monkeypatch, fresh_cache):
    calls = []

    def slow_load(model_id, dtype, device, progress):
        calls.append(model_id)
        time.sleep(0.3)  # wide window: every thread arrives while the first is still loading
        return Loaded(object(), object(), model_id, dtype, device, 0.3)

    monkeypatch.setattr(loader, "_load", slow_load)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(loader.load("fake/model", dtype="float32", device="cpu"))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    assert calls == ["fake/model"]
    assert len(results) == 4 and all(r is results[0] for r in results)
    # another dtype is another instance
    other = loader.load("fake/model", dtype="bfloat16", device="cpu")
    assert other is not results[0] and other.dtype == torch.bfloat16 and len(calls) == 2


def test_default_model_id_honours_env(monkeypatch, fresh_cache):
    monkeypatch.setenv("PLAYGROUND_MODEL", "someone/some-model")
    assert loader.default_model_id() == "someone/some-model"
    seen = []
    monkeypatch.setattr(loader, "_load", lambda m, d, dev, p: seen.append(m) or Loaded(None, None, m, d, dev, 0.0))
    assert loader.load(dtype="float32").model_id == "someone/some-model" and seen == ["someone/some-model"]
    monkeypatch.delenv("PLAYGROUND_MODEL")
    want = loader.BUNDLED if loader.bundled_gguf() else loader.HUB_FALLBACK
    assert loader.default_model_id() == want
    monkeypatch.setenv("PLAYGROUND_MODEL", "")
    assert loader.default_model_id() == want


def test_folder_without_config(tmp_path, fresh_cache):
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(ModelLoadError) as info:
        loader.load(str(tmp_path), dtype="float32")
    msg = str(info.value)
    assert str(tmp_path) in msg and "config.json" in msg


def test_unknown_hub_id_offline(monkeypatch, fresh_cache):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as info:
        loader.load("nobody/no-such-model-xyz", dtype="float32")
    msg = str(info.value)
    assert "`nobody/no-such-model-xyz`" in msg and "offline" in msg


@pytest.mark.parametrize("dtype", ["float8", "int4", "half-precision"])
def test_bad_dtype(dtype, fresh_cache):
    with pytest.raises(ModelLoadError) as info:
        loader.load("anything", dtype=dtype)
    msg = str(info.value)
    assert msg.startswith("`dtype` must be one of") and repr(dtype) in msg and "float32" in msg and "bfloat16" in msg


def test_dtype_names():
    assert loader.pick_dtype("bf16", "cpu") is torch.bfloat16
    assert loader.pick_dtype("fp16", "cpu") is torch.float16
    assert loader.pick_dtype(torch.float32, "cpu") is torch.float32
    assert loader.pick_dtype("auto", "cpu") is torch.float32  # batched replies equal solo ones only in fp32
    assert loader.pick_device("cpu") == "cpu"


@pytest.mark.model
def test_model_without_chat_template(loaded, tmp_path, fresh_cache):
    """A tiny random model with the bundled tokenizer: loads with a template, refused without one."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

    tok = AutoTokenizer.from_pretrained(loaded.model.name_or_path)
    assert tok.chat_template
    cfg = LlamaConfig(vocab_size=loaded.model.config.vocab_size, hidden_size=16, intermediate_size=32,
                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64)
    tiny = AutoModelForCausalLM.from_config(cfg)

    with_template = tmp_path / "with"
    tiny.save_pretrained(with_template)
    tok.save_pretrained(with_template)
    ok = loader.load(str(with_template), dtype="float32")
    assert ok.tokenizer.chat_template and ok.model.config.hidden_size == 16

    without = tmp_path / "without"
    tiny.save_pretrained(without)
    tok.chat_template = None
    tok.save_pretrained(without)
    (without / "chat_template.jinja").unlink(missing_ok=True)
    with pytest.raises(ModelLoadError) as info:
        loader.load(str(without), dtype="float32")
    msg = str(info.value)
    assert str(without) in msg and "chat template" in msg
