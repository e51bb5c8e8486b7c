"""The batch the scheduler decodes: its replies, their shared KV cache and the attention mask.

Rows are left-padded to a common length: a reply that joins brings its own cache (its prompt, run
alone), and the shorter side gets zero keys and values on the left, masked out. A reply that leaves
can take its row back as its own cache (trimmed of its padding) to go on alone or rejoin later. One
`forward` runs every reply's last token at its own position and hands each its row of logits. A reply
alone keeps its own cache and takes its own step (`Decoder.next_logits`: the compiled path when the
engine's is on), so one user decodes exactly as a solo reply, at its speed.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache

from . import fast


class Batch:
    """The active replies, their shared KV cache (rows left-padded to a common length) and its mask."""

    def __init__(self, model):
        self.model = model
        self.jobs: list = []  # scheduler.Job: each has .dec, the reply's Decoder
        self.cache: DynamicCache | None = None
        self.mask: torch.Tensor | None = None  # [B, T]: 1 for a real token, 0 for padding

    def join(self, job) -> None:
        """Add a reply whose own cache holds every token so far (its next logits are computed)."""
        if not self.jobs:  # alone, it keeps its own cache and steps as it would solo (compiled, when on)
            self.jobs, self.cache, self.mask = [job], None, None
            return
        if self.cache is None:  # the reply so far alone hands its cache over
            self.cache, self.mask = self._take(self.jobs[0])
        own, row = self._take(job)
        t, n = self.mask.shape[1], row.shape[1]
        width = max(t, n)  # the rows so far get more padding on the left when the newcomer is longer
        for mine, theirs in zip(self.cache.layers, own.layers):
            for name in ("keys", "values"):
                ours, its = _pad_left(getattr(mine, name), width - t), _pad_left(getattr(theirs, name), width - n)
                setattr(mine, name, torch.cat([ours, its], dim=0))
        self.mask = torch.cat([_pad_left(self.mask, width - t), _pad_left(row, width - n)], dim=0)
        self.jobs.append(job)

    def _take(self, job) -> tuple[DynamicCache, torch.Tensor]:
        """The reply's own cache (as a `DynamicCache`), now the batch's, and its mask row."""
        own, n = fast.to_dynamic(self.model, job.dec.cache), job.dec.ids.shape[1]
        job.dec.cache = None
        return own, torch.ones(1, n, dtype=torch.long, device=job.dec.ids.device)

    def keep(self, stay: list, own_cache: list) -> None:
        """Only `stay` remain; each of `own_cache` (leaving but not ended) takes its row back as its own cache,
        and so does the last one staying (alone, it steps on its own cache)."""
        if self.cache is None:  # one reply on its own cache: an ended one drops it, as the batch would
            for job in self.jobs:
                if job not in stay and job not in own_cache:
                    job.dec.release()
            self.jobs = list(stay)
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

    def forward(self) -> None:
        """One pass over every reply's last token; each gets its row of logits (a reply alone: its own step)."""
        if self.cache is None:
            self.jobs[0].dec.next_logits()
            return
        last = torch.cat([j.dec.ids[:, -1:] for j in self.jobs], dim=0)
        self.mask = torch.cat([self.mask, self.mask.new_ones(len(self.jobs), 1)], dim=1)
        positions = self.mask.sum(dim=1, keepdim=True) - 1
        out = self.model(input_ids=last, attention_mask=self.mask, position_ids=positions,
                         past_key_values=self.cache, use_cache=True, logits_to_keep=1)
        logits = out.logits[:, -1].to(dtype=torch.float32)
        for i, job in enumerate(self.jobs):
            job.dec.logits = logits[i:i + 1].clone()


def _pad_left(x: torch.Tensor, n: int) -> torch.Tensor:
    """`x` with n zero columns before its sequence axis (axis 2 of a cache tensor, axis 1 of a mask)."""
    if n <= 0:
        return x
    axis = 2 if x.dim() == 4 else 1
    shape = list(x.shape)
    shape[axis] = n
    return torch.cat([x.new_zeros(shape), x], dim=axis)
