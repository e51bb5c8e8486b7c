"""What the sampler chain did to one step's logits: a `Trace` (the scores after every stage, what the pick
leaves, each computed once: probabilities, the top tokens, the finite masks) and a candidate's `Fate`.

`sampling.run` builds a `Trace`; the record of a step (`Decoder._record`), the chain table
(`stage_rows.chain_table`) and the plot read it. Computed once per step and shared: the softmax of each link,
its top tokens (the candidates' sort of 100 also gives the chain table's top 5) and its finite mask.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True, slots=True)
class Fate:
    """One candidate token and what the chain did to it."""

    id: int
    raw: float  # what the model alone gave it
    pre: float  # after the processors (bias, penalties), before the sampling filters
    final: float  # its chance of being picked: after the whole chain and the pick (0 when removed)
    removed_by: str | None  # the name of the first link that removed it (a stage or the pick), None if kept


@dataclass
class Trace:
    """What the chain did to one step's logits.

    `scores[0]` is the raw logits, `scores[s + 1]` the scores after stage s; `removed_by[i]` is the
    index of the stage that first set token i to `-inf`, or -1 when it survived. `picked` is what the
    final pick chooses from (greedy: the argmax alone; sampling: `final` itself).
    """

    stages: list  # sampling.Stage, in chain order (not imported: sampling imports this module)
    scores: list[torch.Tensor]
    pick: object | None = None  # the chain's last link: sampling.GreedyPick or SamplePick, or mirostat.MirostatPick
    _probs: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)  # softmax of links()[i], once each
    _tops: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict, repr=False)  # their topk, the longest
    _finite: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)  # isfinite(chain_scores[i]), once each

    @property
    def raw(self) -> torch.Tensor:
        return self.scores[0]

    @property
    def final(self) -> torch.Tensor:
        return self.scores[-1]

    @property
    def pre_warper(self) -> torch.Tensor:
        """Scores after the processors (bias, penalties), before the sampling filters."""
        return self.scores[sum(1 for s in self.stages if not s.warper)]

    @functools.cached_property
    def picked(self) -> torch.Tensor:
        """What the pick chooses from: greedy, the argmax alone; sampling (or beam search), `final` itself."""
        return self.final if self.pick is None else self.pick.leave(self.final)

    @functools.cached_property
    def chain_scores(self) -> list[torch.Tensor]:
        """`scores`, then what the pick leaves when it removes tokens (greedy): one entry per link's result."""
        return self.scores + ([self.picked] if self.pick is not None and self.pick.narrows else [])

    @property
    def picked_probs(self) -> torch.Tensor:
        """Each token's chance of being picked ([1, V]): after the whole chain and the pick (greedy: one-hot)."""
        return self.probs_at(len(self.chain_scores) - 1)

    def probs(self, after: int | None = None) -> torch.Tensor:
        """Probabilities after stage `after` (None: after the whole chain; -1: raw), each computed once: the
        pick, the record and the chain table share them."""
        return self.probs_at(len(self.scores) - 1 if after is None else after + 1)

    def probs_at(self, i: int) -> torch.Tensor:
        """softmax(scores[i]) (i == len(scores): of what the greedy pick leaves)."""
        if i not in self._probs:
            self._probs[i] = torch.softmax(self.chain_scores[i], dim=-1)
        return self._probs[i]

    def kept(self, after: int | None = None) -> torch.Tensor:
        """The tokens still in after stage `after` (None: after the whole chain), the mask `finite_at` keeps."""
        return self.finite_at(len(self.scores) - 1 if after is None else after + 1)

    @functools.cached_property
    def removed_by(self) -> torch.Tensor:
        return self.removed_by_at(torch.arange(self.raw.shape[-1], device=self.raw.device))

    def removed_by_at(self, idx: torch.Tensor) -> torch.Tensor:
        """For the tokens `idx` only: the index of the stage that first removed each, or -1 (cheap)."""
        if not self.stages:
            return torch.full(idx.shape, -1, dtype=torch.long, device=idx.device)
        alive = torch.stack([torch.isfinite(s[0, idx]) for s in self.scores[1:]])  # [S, n]
        dead = ~alive & torch.isfinite(self.raw[0, idx])
        first = torch.argmax(dead.to(torch.int8), dim=0)
        return torch.where(dead.any(dim=0), first, torch.full_like(first, -1))

    def links(self) -> list[tuple[str, str]]:
        """(name, label) per link in order: the stages, then the pick when it removes tokens (greedy).
        Link s turns `chain_scores[s]` into `chain_scores[s + 1]`."""
        out = [(s.name, s.label) for s in self.stages]
        return out + ([(self.pick.name, self.pick.label)] if len(self.chain_scores) > len(self.scores) else [])

    def top(self, i: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """`torch.topk(probs_at(i)[0], n)`: (values, indices). A longer one already taken (the candidates' 100) gives
        its first n, unless equal non-zero values among them make the order of ties matter (then a topk of n)."""
        have = self._tops.get(i)
        if have is not None and have[0].shape[0] > n:
            v = have[0][:n + 1].tolist()
            if not any(a == b and a > 0 for a, b in zip(v, v[1:])):
                return have[0][:n], have[1][:n]
        if have is not None and have[0].shape[0] == n:
            return have
        got = torch.topk(self.probs_at(i)[0], n)
        if have is None or have[0].shape[0] < n:
            self._tops[i] = got
        return got

    def finite_at(self, i: int) -> torch.Tensor:
        """isfinite(chain_scores[i]) (as `abs() < inf`, the same mask in one pass less), once each."""
        if i not in self._finite:
            self._finite[i] = self.chain_scores[i].abs() < math.inf
        return self._finite[i]

    def stage_report(self) -> list[dict]:
        """Per link: tokens before and after, how many it removed, and the probability mass they held."""
        out = []
        for s, (name, label) in enumerate(self.links()):
            before, after = self.finite_at(s), self.finite_at(s + 1)
            gone = before & ~after
            removed = int(gone.sum())
            mass = float(self.probs_at(s)[gone].sum()) if removed else 0.0
            out.append(dict(stage=name, label=label, considered=int(before.sum()),
                            kept=int(after.sum()), removed=removed, removed_mass=mass))
        return out

    def candidates(self, n: int, also: int | None = None) -> list[Fate]:
        """The n most likely tokens after the processors, then the model's own top n that a processor
        removed outright (EOS before min_new_tokens...), then `also` (e.g. the chosen token), each with
        its fate: the first link that removed it (a stage, or the pick), or None when it was kept."""
        n_pre = sum(1 for s in self.stages if not s.warper)
        raw, pre, final = self.probs_at(0)[0], self.probs_at(n_pre)[0], self.picked_probs[0]
        n = min(n, pre.shape[0])
        top = self.top(n_pre, n)[1].tolist() if n else []
        if n and n_pre:  # the raw favourites a processor removed
            seen, best = set(top), self.top(0, n)[1]
            top += [i for i, p in zip(best.tolist(), pre[best].tolist()) if i not in seen and p == 0]
        if n and also is not None and also not in top:
            top.append(also)
        idx = torch.tensor(top, dtype=torch.long, device=pre.device)
        names = [s.name for s in self.stages]
        removed = self.removed_by_at(idx).tolist()
        picked = torch.isfinite(self.picked[0, idx]).tolist()
        return [Fate(i, r, p, f, names[by] if by >= 0 else (None if ok else self.pick.name))
                for i, by, ok, r, p, f in zip(top, removed, picked, raw[idx].tolist(), pre[idx].tolist(), final[idx].tolist())]
