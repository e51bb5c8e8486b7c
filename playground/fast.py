"""The fast decode path (issue 13): a preallocated KV cache and a compiled one-token step.

A reply's prompt runs eagerly into a `DynamicCache` as before. From its first one-token step on, when a
compiled step for a fitting cache size is ready, the reply's cache moves into a `StaticCache` of that
size (one of `SIZES`, the smallest that holds the prompt and the whole budget) and every step runs
`torch.compile`'s graph of the model's forward (inductor's C++ backend on a CPU), shapes fixed so
nothing recompiles per step. Each size compiles once, in a background thread, the first time a reply
needs it; until then replies decode eagerly and switch over when it is ready (a cache converts either
way, so a reply can leave for the scheduler's batch, which keeps `DynamicCache`s). Compiled kernels
are kept on disk (`TORCHINDUCTOR_CACHE_DIR`, under the playground cache), so only the first start pays.

The compiled graph adds in another order than eager kernels: logits differ by about 1e-5 in fp32
(tests/test_fast.py checks the tokens and records against the eager path). It is off unless asked for
(`--fast`, `PLAYGROUND_FAST=1`): on the 2-core CPU it was built on, a whole reply came out at about the
eager speed (the step is bound by memory bandwidth there) while the first compile cost 1-2 minutes of
both cores and 24 MB per reply (bench/RESULTS.md). Unavailable (no C++ compiler, a compile error),
every reply decodes eagerly and one line says why.
"""

from __future__ import annotations

import os
import queue
import shutil
import sys
import threading
import time

import torch
from transformers import DynamicCache, StaticCache

from .loader import cache_dir

SIZES = (512, 1024, 2048)  # static cache lengths; a reply needing more decodes eagerly


def wanted(flag: bool | None = None) -> bool:
    """The fast path's switch: `flag` when given, else `PLAYGROUND_FAST` (off unless 1/true/on/yes)."""
    if flag is not None:
        return flag
    return os.environ.get("PLAYGROUND_FAST", "0").strip().lower() in ("1", "true", "on", "yes")


def unavailable(model, exact: bool = True) -> str | None:
    """Why the fast path cannot run here, or None. `exact`: only where it gives the eager path's tokens, which
    is fp32: in bf16 the compiled graph rounds differently (logits move by ~0.4, and sampled replies part
    from the eager ones: 0 of 4 identical in bench/decode.py)."""
    if any(hasattr(m, "_packed_params") for m in model.modules()):
        return "the model's weights are int8 (dynamically quantized), which the compiled step does not take"
    dtype = next(model.parameters()).dtype
    if exact and dtype != torch.float32:
        return f"it gives the eager tokens in float32 only, and the model is {str(dtype).removeprefix('torch.')}"
    if not getattr(model, "_can_compile_fullgraph", False) and not getattr(model, "_supports_static_cache", True):
        return f"{type(model).__name__} does not support a static KV cache"
    if not torch._dynamo.is_dynamo_supported():
        return "torch.compile is not supported on this Python"
    if next(model.parameters()).device.type == "cpu" and not (shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")):
        return "no C++ compiler (g++) for torch.compile's CPU backend"
    return None


def seq_len(cache) -> int:
    return int(cache.get_seq_length())


def to_static(model, cache: DynamicCache | StaticCache, size: int) -> StaticCache:
    """A `StaticCache` of `size` holding what `cache` holds (a copy)."""
    n = seq_len(cache)
    out = StaticCache(config=model.config, max_cache_len=size)
    for dst, src in zip(out.layers, cache.layers):
        dst.lazy_initialization(src.keys, src.values)
        dst.keys[:, :, :n] = src.keys[:, :, :n]
        dst.values[:, :, :n] = src.values[:, :, :n]
        dst.cumulative_length.fill_(n)
    return out


def to_dynamic(model, cache):
    """A `DynamicCache` of what `cache` holds (`cache` itself when it is one)."""
    if cache is None or isinstance(cache, DynamicCache):
        return cache
    n, out = seq_len(cache), DynamicCache(config=model.config)
    for i, layer in enumerate(cache.layers):
        out.update(layer.keys[:, :, :n].clone(), layer.values[:, :, :n].clone(), i)
    return out


def crop(cache, n: int) -> None:
    """Keep the first n positions (a static cache forgets the rest: they are overwritten, and masked until then)."""
    if isinstance(cache, StaticCache):
        for layer in cache.layers:
            layer.cumulative_length.fill_(n)
    elif seq_len(cache) > n:
        cache.crop(n - seq_len(cache))  # transformers takes the number of tokens to remove, negated


def copy_cache(model, cache):
    """An independent copy of a dynamic or static cache."""
    if isinstance(cache, StaticCache):
        return to_static(model, cache, cache.layers[0].max_cache_len)
    out = DynamicCache(config=model.config)
    for i, layer in enumerate(cache.layers):
        out.update(layer.keys.clone(), layer.values.clone(), i)
    return out


class Fast:
    """The compiled one-token step of one model, per cache size; compiles in a background thread."""

    def __init__(self, model, progress=None, exact: bool = True):
        self.model = model
        self.progress = progress or (lambda m: print(f"[playground] {m}", file=sys.stderr, flush=True))
        self.state: dict[int, str] = {}  # size -> "compiling", "ready" or "failed"
        self.reason: str | None = unavailable(model, exact)  # why it is off, once it is
        self.compile_seconds: dict[int, float] = {}
        self.steps = 0  # steps run compiled (tests count them)
        self._todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if self.reason:
            self.progress(f"fast decode path off: {self.reason}; decoding eagerly")
            return
        # imported here, not at the top: torch._inductor pulls in torch._dynamo and sympy, a third of the app's
        # import time (bench/startup.py), which an app with the fast path off never needs
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir

        if os.environ.get("TORCHINDUCTOR_CACHE_DIR") in (None, default_cache_dir()):  # not chosen by the user
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache_dir() / "inductor")
        self._compiled = torch.compile(self._forward, dynamic=False)

    @property
    def on(self) -> bool:
        return self.reason is None

    def _forward(self, tok: torch.Tensor, pos: torch.Tensor, cache: StaticCache) -> torch.Tensor:
        out = self.model(input_ids=tok, position_ids=pos, cache_position=pos[0], past_key_values=cache, use_cache=True,
                         logits_to_keep=1)
        return out.logits[:, -1].to(dtype=torch.float32)

    def step(self, tok: torch.Tensor, cache: StaticCache) -> torch.Tensor:
        """Logits [1, V] (fp32, a fresh tensor) after the one token `tok` [1, 1], which goes into `cache`."""
        pos = torch.tensor([[seq_len(cache)]], device=tok.device)
        self.steps += 1
        return self._compiled(tok.reshape(1, 1).clone(), pos, cache).clone()  # a view of the ids has their strides

    # --- which size, compiling it ---------------------------------------------------------------------
    def size_for(self, need: int) -> int | None:
        return next((s for s in SIZES if s >= need), None)

    def ready(self, size: int | None) -> bool:
        return size is not None and self.state.get(size) == "ready"

    def want(self, size: int | None) -> None:
        """Compile `size` in the background unless it is done, under way, or failed."""
        if size is None or not self.on:
            return
        with self._lock:
            if size in self.state:
                return
            self.state[size] = "compiling"
            self._todo.put(size)
            if self._thread is None:
                self._thread = threading.Thread(target=self._worker, name="playground-compile", daemon=True)
                self._thread.start()

    def wait(self, size: int = SIZES[0], timeout: float | None = None) -> bool:
        """Ask for `size` and block until it is compiled (or failed); True when ready."""
        self.want(size)
        end = None if timeout is None else time.monotonic() + timeout
        while self.on and self.state.get(size) == "compiling" and (end is None or time.monotonic() < end):
            time.sleep(0.05)
        return self.ready(size)

    def _worker(self) -> None:
        while True:
            size = self._todo.get()
            start = time.perf_counter()
            try:
                self._warm(size)
            except Exception as e:  # noqa: BLE001 - any failure means: decode eagerly, and say why
                self.state[size] = "failed"
                self.reason = f"compiling the decode step failed ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
                self.progress(f"fast decode path off: {self.reason}; decoding eagerly")
                continue
            self.compile_seconds[size] = time.perf_counter() - start
            self.state[size] = "ready"
            self.progress(f"fast decode path ready for {size}-token replies (compiled in {self.compile_seconds[size]:.1f} s)")

    def _warm(self, size: int) -> None:
        """Run the compiled step twice on a throwaway cache of `size`: it compiles (or loads from disk)."""
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            cache = DynamicCache(config=self.model.config)
            self.model(input_ids=torch.tensor([[1, 2]], device=device), past_key_values=cache, use_cache=True, logits_to_keep=1)
            cache = to_static(self.model, cache, size)
            for t in (3, 4):
                self.step(torch.tensor([[t]], device=device), cache)
