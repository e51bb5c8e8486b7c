"""The batch the scheduler decodes: its replies, their shared KV cache and the attention mask.

Rows are left-padded to a common length: a reply that joins brings its own cache (its prompt, run
alone), or several new replies bring the cache of one padded pass over their prompts (`prefill`:
a pass of ~6 prompts of ~40 tokens cost ~0.6x the CPU of running them one by one), and the shorter
side gets zero keys and values on the left, masked out; everything that joins in a step is padded
and copied once. A reply that leaves can take its row back as its own cache (trimmed of its padding)
to go on alone or rejoin later; while no row leaves, the cache is not copied. One `forward` runs
every reply's last token at its own position and hands each its row of logits. A reply alone keeps
its own cache and takes its own step (`Decoder.next_logits`: the compiled path when the engine's is
on), so one user decodes exactly as a solo reply, at its speed.

Per step, two things cost more in a batch than they need to, and are done otherwise here:
- The KV cache grows by one column a step. A `DynamicCache` concatenates (copies the whole cache of
  every row, every layer, every step); the batch's layers are `SlabLayer`s, views of a buffer with
  `ROOM` spare columns that a step writes into in place (a copy only when the room runs out, or when
  rows join or leave).
- The output layer: `F.linear` over 8 rows took ~3.5x the time of 1 row on these CPUs (MKL's small-M
  path), `weight @ hidden.T` about 2x, oneDNN with its weight packed once ~1.3x (bench/RESULTS.md,
  issue 14). `forward` runs the model's body, then that product for the plain heads it knows (`_head`):
  on a packed copy of the output layer's weight (fp32 on a CPU with oneDNN: +113 MB for SmolLM2-135M,
  made at the first batched step and kept while the model lives), else `weight @ hidden.T` on the
  model's own; the whole model for the other heads. Logits stay ~5e-6 from a solo step's.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from . import fast

ROOM = 64  # spare columns a batch's cache keeps per row (46 KB a row and column for SmolLM2-135M in fp32)
PREFILL_TOKENS = 256  # tokens one batched prompt pass holds at most, padding included (past ~this, rows share little)
PLAIN_HEADS = ("llama", "mistral", "qwen2", "qwen3", "olmo", "olmo2", "smollm3", "phi3")  # logits = lm_head(h), no scaling


class SlabLayer(DynamicLayer):
    """A `DynamicLayer` whose keys and values are views of a buffer with room to grow: a step writes its
    column in place instead of concatenating a copy of the whole layer."""

    @classmethod
    def of(cls, keys: torch.Tensor, values: torch.Tensor) -> SlabLayer:
        layer = cls()
        layer.lazy_initialization(keys, values)
        layer._fill(keys, values)
        return layer

    def _fill(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Copy `keys` and `values` into new buffers with `ROOM` columns to spare."""
        b, h, n, d = keys.shape
        self.kbuf, self.vbuf = keys.new_empty(b, h, n + ROOM, d), values.new_empty(b, h, n + ROOM, values.shape[-1])
        self.kbuf[:, :, :n], self.vbuf[:, :, :n] = keys, values
        self.keys, self.values = self.kbuf[:, :, :n], self.vbuf[:, :, :n]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        n, q = self.keys.shape[-2], key_states.shape[-2]
        if n + q > self.kbuf.shape[-2]:
            self._fill(self.keys, self.values)
        self.kbuf[:, :, n:n + q], self.vbuf[:, :, n:n + q] = key_states, value_states
        self.keys, self.values = self.kbuf[:, :, :n + q], self.vbuf[:, :, :n + q]
        return self.keys, self.values


class Batch:
    """The active replies, their shared KV cache (rows left-padded to a common length) and its mask."""

    def __init__(self, model):
        self.model = model
        self.jobs: list = []  # scheduler.Job: each has .dec, the reply's Decoder
        self.cache: DynamicCache | None = None
        self.mask: torch.Tensor | None = None  # [B, T]: 1 for a real token, 0 for padding

    @staticmethod
    def groups(jobs: list) -> list[list]:
        """`jobs` in order, in runs whose prompts can share one padded pass (`prefill`): consecutive new replies
        (nothing in their cache yet) while the pass holds at most `PREFILL_TOKENS` tokens, padding included;
        any other reply (one that gave its place up: one token to run) alone."""
        runs: list[list] = []
        for job in jobs:
            run = runs[-1] if runs else None
            if run and _fresh(job.dec) and _fresh(run[0].dec) and \
                    (len(run) + 1) * max(j.dec.ids.shape[1] for j in [*run, job]) <= PREFILL_TOKENS:
                run.append(job)
            else:
                runs.append([job])
        return runs

    def prefill(self, jobs: list) -> tuple[DynamicCache, torch.Tensor] | None:
        """Each reply's next logits. One reply runs alone (`Decoder.next_logits`, exactly as solo) and keeps its
        cache (None returned); several new ones run in one pass, left-padded (an attention mask over the padding,
        each row at its own positions), and their cache is returned with its mask, for `join`: rows in order,
        zero keys and values on the padding, as `join` pads."""
        if len(jobs) == 1:
            jobs[0].dec.next_logits()
            return None
        width = max(j.dec.ids.shape[1] for j in jobs)
        ids = torch.cat([_pad_left(j.dec.ids, width - j.dec.ids.shape[1]) for j in jobs], dim=0)
        mask = torch.cat([_pad_left(torch.ones_like(j.dec.ids), width - j.dec.ids.shape[1]) for j in jobs], dim=0)
        cache = DynamicCache(config=self.model.config)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(dim=1) - 1).clamp(min=0),
                         past_key_values=cache, use_cache=True, logits_to_keep=1)
        logits = out.logits[:, -1].to(dtype=torch.float32)
        for i, job in enumerate(jobs):
            job.dec.logits, job.dec.cache = logits[i:i + 1].clone(), None  # the batch holds its cache from now on
            pad = width - job.dec.ids.shape[1]
            for layer in cache.layers:
                layer.keys[i, :, :pad], layer.values[i, :, :pad] = 0, 0
        return cache, mask

    def join(self, runs: list[tuple[list, tuple[DynamicCache, torch.Tensor] | None]]) -> None:
        """Add replies whose caches hold every token the model has seen: each run is one reply with its own cache
        (None) or the replies of one `prefill` pass with its cache and mask. The rows are padded to a common length
        and copied into slabs once for all of them."""
        jobs = [j for run, _ in runs for j in run]
        if not jobs:
            return
        if not self.jobs and len(jobs) == 1 and runs[0][1] is None:  # alone, it keeps its own cache and steps
            self.jobs, self.cache, self.mask = jobs, None, None  # as it would solo (compiled, when on)
            return
        parts = [] if not self.jobs else [self._take(self.jobs[0]) if self.cache is None else (self.cache, self.mask)]
        parts += [block if block is not None else self._take(run[0]) for run, block in runs]
        width = max(mask.shape[1] for _, mask in parts)  # shorter rows get more padding on the left
        self.cache = parts[0][0]
        for li, layer in enumerate(self.cache.layers):
            for name in ("keys", "values"):
                rows = [_pad_left(getattr(cache.layers[li], name), width - mask.shape[1]) for cache, mask in parts]
                setattr(layer, name, torch.cat(rows, dim=0) if len(rows) > 1 else rows[0])
        self.mask = torch.cat([_pad_left(mask, width - mask.shape[1]) for _, mask in parts], dim=0)
        self.jobs = self.jobs + jobs
        self._slab()

    def _slab(self) -> None:
        """The cache's layers as `SlabLayer`s (a copy with room: after rows joined or left)."""
        self.cache.layers = [SlabLayer.of(x.keys, x.values) if isinstance(x, DynamicLayer) and x.is_initialized else x
                             for x in self.cache.layers]

    def _take(self, job) -> tuple[DynamicCache, torch.Tensor]:
        """The reply's own cache (as a `DynamicCache`), now the batch's, and its mask row (one per token it holds)."""
        own = fast.to_dynamic(self.model, job.dec.cache)
        job.dec.cache = None
        return own, torch.ones(1, fast.seq_len(own), dtype=torch.long, device=job.dec.ids.device)

    def keep(self, stay: list, own_cache: list) -> None:
        """Only `stay` remain; each of `own_cache` (leaving but not ended) takes its row back as its own cache,
        and so does the last one staying (alone, it steps on its own cache)."""
        if self.cache is None:  # one reply on its own cache: an ended one drops it, as the batch would
            for job in self.jobs:
                if job not in stay and job not in own_cache:
                    job.dec.release()
            self.jobs = list(stay)
            return
        if [id(j) for j in stay] == [id(j) for j in self.jobs]:  # nobody leaves: the cache stays as it is (no copy)
            return
        index = {id(j): i for i, j in enumerate(self.jobs)}
        for job in own_cache + (stay if len(stay) == 1 else []):
            i = index[id(job)]
            pad = int((self.mask[i] == 0).sum())
            job.dec.cache = DynamicCache(config=self.model.config)
            for li, layer in enumerate(self.cache.layers):
                job.dec.cache.update(layer.keys[i:i + 1, :, pad:].clone(), layer.values[i:i + 1, :, pad:].clone(), li)
            job.dec.fresh = job.dec.ids[:, self.mask.shape[1] - pad:]  # the token it took this step, if any
        if len(stay) <= 1:
            self.jobs, self.cache, self.mask = list(stay), None, None
            return
        rows = torch.tensor([index[id(j)] for j in stay], device=self.mask.device)
        self.cache.batch_select_indices(rows)
        self.mask, self.jobs = self.mask[rows], list(stay)
        lead = int(self.mask.any(dim=0).to(torch.int8).argmax())  # columns that are padding in every row
        if lead:
            self.mask = self.mask[:, lead:]
            for layer in self.cache.layers:
                layer.keys, layer.values = layer.keys[:, :, lead:], layer.values[:, :, lead:]
        self._slab()

    def forward(self) -> None:
        """One pass over every reply's last token; each gets its row of logits (a reply alone: its own step)."""
        if self.cache is None:
            self.jobs[0].dec.next_logits()
            return
        last = torch.cat([j.dec.ids[:, -1:] for j in self.jobs], dim=0)
        self.mask = torch.cat([self.mask, self.mask.new_ones(len(self.jobs), 1)], dim=1)
        positions = self.mask.sum(dim=1, keepdim=True) - 1
        kw = dict(input_ids=last, attention_mask=self.mask, position_ids=positions, past_key_values=self.cache, use_cache=True)
        head = _head(self.model)
        if head is None:
            logits = self.model(**kw, logits_to_keep=1).logits[:, -1]
        else:
            logits = head(self.model.get_decoder()(**kw).last_hidden_state[:, -1])
        logits = logits.to(dtype=torch.float32)
        for i, job in enumerate(self.jobs):
            job.dec.logits = logits[i:i + 1].clone()


def _head(model) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The output layer as hidden [B, H] -> logits [B, V] when the model's logits are just `lm_head(hidden)` (no
    bias, scaling or soft-capping: the model types in `PLAIN_HEADS`), else None (the batch then runs the whole
    model): oneDNN on its packed weight (`_pack`) when it can, else `weight @ hidden.T` on the model's own."""
    head = model.get_output_embeddings()
    if getattr(model.config, "model_type", None) not in PLAIN_HEADS or type(head) is not torch.nn.Linear or head.bias is not None:
        return None
    weight = head.weight
    if model not in _PACKED:
        _PACKED[model] = _pack(weight)
    packed = _PACKED[model]
    if packed is None:
        return lambda hidden: torch.mm(weight, hidden.t()).t()
    return lambda hidden: torch.ops.mkldnn._linear_pointwise(hidden.contiguous(), packed, None, "none", [], "")


_PACKED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its output layer's weight packed (or None)


def _pack(weight: torch.Tensor) -> torch.Tensor | None:
    """A oneDNN-packed copy of an fp32 CPU weight [V, H] (the layout its matrix product reads fastest), or None."""
    if weight.dtype != torch.float32 or weight.device.type != "cpu" or not torch.backends.mkldnn.is_available():
        return None
    try:
        with torch.no_grad():
            return torch.ops.mkldnn._reorder_linear_weight(weight.detach(), None)
    except (RuntimeError, AttributeError):  # a build of torch without these ops
        return None


def _pad_left(x: torch.Tensor, n: int) -> torch.Tensor:
    """`x` with n zero columns before its sequence axis (axis 2 of a cache tensor, axis 1 of a mask)."""
    if n <= 0:
        return x
    axis = 2 if x.dim() == 4 else 1
    shape = list(x.shape)
    shape[axis] = n
    return torch.cat([x.new_zeros(shape), x], dim=axis)


def _fresh(dec) -> bool:
    """A reply the model has seen nothing of yet (its prompt, or a released branch, runs whole)."""
    return dec.logits is None and (dec.cache is None or fast.seq_len(dec.cache) == 0)
