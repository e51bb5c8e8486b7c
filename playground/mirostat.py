"""Mirostat v2, the peers' sampler that is a pick of its own: `MirostatPick`, the chain's last link, with its mu
carried from step to step by the reply, and `MirostatV2LogitsWarper`, the same as a filter `generate()` can run
(the code export copies its source into a script).

Like the other peers' samplers (`samplers.py`, which re-exports both) it follows llama.cpp's definition
(`src/llama-sampling.cpp`), is pure (it never changes its input), masks with `-inf` and keeps at least one token;
the warper is self-contained (torch, math and `LogitsProcessor` only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from transformers.generation.logits_process import LogitsProcessor


class MirostatV2LogitsWarper(LogitsProcessor):
    """Mirostat v2 as `generate()` can run it (one instance per reply, batch of one): a filter that keeps
    the tokens of surprise `-log2 p_i <= mu` (at least the top one), then, at the next call, learns from
    the token `generate()` drew: `mu -= eta * (-log2 p~(x) - tau)`, p~ the distribution it left; mu starts
    at 2 tau. `MirostatPick` is the same, as the chain's last link.

    Example: p = [0.5, 0.3, 0.2], mu = 2 (tau 1): surprises 1, 1.74, 2.32 bits: 0.2 goes, p~ = [0.625,
    0.375]. Drawing token 1 (surprise 1.415 bits) with eta 0.1: mu = 2 - 0.1 * (1.415 - 1) = 1.958.
    """

    def __init__(self, tau: float, eta: float):
        self.tau, self.eta, self.mu, self.left = tau, eta, 2 * tau, None

    @staticmethod
    def cut(scores, mu: float):
        """The tokens of surprise above mu bits removed (the most likely one always stays)."""
        p = torch.softmax(scores, dim=-1)
        keep = (-torch.log2(p) <= mu) | (p == p.max(-1, keepdim=True).values)
        return scores.masked_fill(~keep, float("-inf"))

    @staticmethod
    def learn(mu: float, tau: float, eta: float, p: float) -> float:
        """mu after drawing a token of probability p (in the distribution the cut left); p = 0 (a forced
        token the cut had removed): mu unchanged."""
        return mu - eta * (-math.log2(p) - tau) if p > 0 else mu

    def __call__(self, input_ids, scores):
        if self.left is not None:
            self.mu = self.learn(self.mu, self.tau, self.eta, float(self.left[0, input_ids[0, -1]]))
        out = self.cut(scores, self.mu)
        self.left = torch.softmax(out, dim=-1)
        return out


@dataclass(frozen=True)
class MirostatPick:
    """The final pick with Mirostat v2 (llama.cpp `llama_sampler_mirostat_v2_apply`): remove the tokens of
    surprise `-log2 p_i > mu`, draw from the rest with the request's generator, then
    `mu <- mu - eta * (-log2 p~(x) - tau)`. `mu` is this step's (None: a reply's first step, mu = 2 tau);
    `after(trace, token)` is the pick of the next step. The filters other than temperature do not run
    (llama.cpp's chain becomes temperature -> mirostat). A forced token moves mu by its own surprise in
    the distribution the cut left (not at all if the cut had removed it). TGW runs it as one of its
    filters, followed by its other samplers and an ordinary draw.
    """

    tau: float
    eta: float
    mu: float | None = None
    name = "mirostat"
    random = True
    narrows = True  # the cut is a row of the chain table

    @property
    def level(self) -> float:
        return 2 * self.tau if self.mu is None else self.mu

    @property
    def label(self) -> str:
        return f"mirostat (mu = {self.level:.3g})"

    @property
    def note(self) -> str:
        return (f"Mirostat v2: tokens of surprise above mu = {self.level:.3g} bits are cut (tau = {self.tau:g}, "
                f"eta = {self.eta:g}); the filters other than temperature do not run.")

    def leave(self, final: torch.Tensor) -> torch.Tensor:
        return MirostatV2LogitsWarper.cut(final, self.level)

    def choose(self, trace, generator: torch.Generator | None) -> int:
        return int(torch.multinomial(trace.picked_probs, 1, generator=generator)[0, 0])

    def after(self, trace, token: int) -> MirostatPick:
        p = float(trace.picked_probs[0, token])
        return replace(self, mu=MirostatV2LogitsWarper.learn(self.level, self.tau, self.eta, p))
