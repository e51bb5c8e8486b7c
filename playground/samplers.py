"""The peers' samplers that transformers lacks: top-n-sigma, XTC, DRY, dynamic temperature, smoothing
(quadratic), top-a and tail-free sampling, each a `LogitsProcessor`; and Mirostat v2, a pick of its own
(`MirostatPick`, the chain's last link, with its mu carried from step to step by the reply), in `mirostat.py`
and re-exported here, where the chain (`sampling.impl_class`) and the code export look each class up.

Each is pure (it never changes its input; it returns a new tensor), masks with `-inf` and keeps at
least one token; each docstring gives the formula and a worked example. They follow llama.cpp's
definitions (`src/llama-sampling.cpp`) and say where text-generation-webui (TGW,
`modules/sampler_hijack.py`) differs; smoothing, top-a and tail-free are TGW's own. Each class is
self-contained (torch, math, random and `LogitsProcessor` only) so that the code export can copy its
source into a script (`export.py`): `generate()` then runs the very same code.
"""

from __future__ import annotations

import math
import random

import torch
from transformers.generation.logits_process import LogitsProcessor

from .mirostat import MirostatPick, MirostatV2LogitsWarper  # noqa: F401  (samplers.MirostatPick: looked up by name)


class TopNSigmaLogitsWarper(LogitsProcessor):
    """top-n-sigma: keep the tokens with `z_i >= max_j z_j - n * sigma`, sigma the population standard
    deviation of the finite logits (the `-inf` ones do not count). Off when n <= 0.

    Example: z = [2, 1, 0, -inf]: mean 1, sigma = sqrt(2/3) = 0.816. n = 1 keeps z >= 1.18: token 0 only;
    n = 1.5 keeps z >= 0.78: tokens 0 and 1. TGW takes the sample standard deviation with -inf counted
    as 0; this follows llama.cpp.
    """

    def __init__(self, n: float):
        self.n = n

    def __call__(self, input_ids, scores):
        finite = torch.isfinite(scores)
        count = finite.sum(-1, keepdim=True).clamp(min=1)
        mean = torch.where(finite, scores, 0.0).sum(-1, keepdim=True) / count
        var = (torch.where(finite, scores - mean, 0.0) ** 2).sum(-1, keepdim=True) / count
        cut = scores.max(-1, keepdim=True).values - self.n * var.sqrt()
        return scores.masked_fill(scores < cut, float("-inf"))  # the maximum is never below the cut


class XTCLogitsWarper(LogitsProcessor):
    """XTC, exclude top choices: with probability `probability`, when at least two tokens have
    p_i >= `threshold`, remove all of them but the least likely. Off when threshold > 0.5 (then at
    most one token can reach it).

    Example: p = [0.5, 0.3, 0.15, 0.05], threshold 0.1, the coin says yes: 0.5, 0.3 and 0.15 reach it;
    0.15 is the least likely of them and stays, so the survivors are [0.15, 0.05] -> [0.75, 0.25].

    The coin is `random.Random("xtc <seed> <n>").random() < probability`, n the number of tokens so
    far: one draw per step, fixed by the request's seed and the position, so a seed fixes the reply,
    and re-running the chain on a step (the inspector, a branch, `generate()` with this class) draws
    the same coin. Without a seed (`seed=None`, the live plot) it shows XTC as when the coin says yes.
    Tokens tied at the least likely probability all stay (llama.cpp keeps one of them, by sort order).
    TGW also skips the removal when it would remove the newline or EOS token; llama.cpp does not.
    """

    def __init__(self, threshold: float, probability: float, seed: int | None = None):
        self.threshold, self.probability, self.seed = threshold, probability, seed

    @property
    def note(self) -> str:
        """For the plot: without a seed, what it shows is the coin's good side."""
        if self.seed is not None:
            return ""
        return f"XTC runs on a step with probability {self.probability:g}; without a seed the plot shows it as when it does."

    def fires(self, n: int) -> bool:
        if self.probability <= 0 or self.threshold > 0.5:
            return False
        return self.seed is None or random.Random(f"xtc {self.seed} {n}").random() < self.probability

    def __call__(self, input_ids, scores):
        if not self.fires(input_ids.shape[-1]):
            return scores
        p = torch.softmax(scores, dim=-1)
        above = p >= self.threshold
        least = torch.where(above, p, 2.0).min(-1, keepdim=True).values
        return scores.masked_fill(above & (p > least), float("-inf"))  # one above: none is more likely than it


class DRYLogitsProcessor(LogitsProcessor):
    """DRY ("don't repeat yourself"): penalise the token that would extend a repetition.

    For each token t, L(t) is the length of the longest suffix of the context that occurred earlier
    and was followed by t; the suffix never crosses a sequence breaker (a token in `breakers`), and
    only the last `last_n` tokens are scanned (-1: all, 0: none). Then
    `z_t -= multiplier * base^(L(t) - allowed_length)` when L(t) >= allowed_length (the exponent is
    capped so the penalty stays finite). A breaker itself is never penalised.

    Example: context [A B C X A B], multiplier 1, base 2, allowed_length 2: the suffix [A B] occurred
    at the start, followed by C, so L(C) = 2 and z_C -= 1 * 2^0 = 1. With X a breaker and the context
    [X A B C X A B] the suffix [X A B] would match 3 tokens, but it may not cross X: still L(C) = 2.
    llama.cpp matches breakers that span several tokens and finds L with a Z-algorithm, as here; TGW
    caps L at 50 and takes as breaker the last token of encoding 'a' + breaker. Which tokens are
    breakers is decided by `breaker_ids`.
    """

    def __init__(self, multiplier: float, base: float, allowed_length: int, last_n: int, breakers):
        self.multiplier, self.base, self.allowed_length, self.last_n = multiplier, base, allowed_length, last_n
        self.breakers = frozenset(breakers)
        self.max_exponent = math.log(1e30) / math.log(base) if base > 1 else math.inf

    @staticmethod
    def z_function(s: list) -> list[int]:
        """z[k] = the length of the longest common prefix of s and s[k:] (z[0] = 0)."""
        n, z, lo, hi = len(s), [0] * len(s), 0, 0
        for k in range(1, n):
            if k < hi:
                z[k] = min(hi - k, z[k - lo])
            while k + z[k] < n and s[z[k]] == s[k + z[k]]:
                z[k] += 1
            if k + z[k] > hi:
                lo, hi = k, k + z[k]
        return z

    def lengths(self, ids: list[int]) -> dict[int, int]:
        """Token -> L, the longest repeated suffix it would extend (not crossing a breaker)."""
        if self.last_n == 0:
            return {}
        ids = ids if self.last_n < 0 else ids[-self.last_n:]
        free = next((k for k, t in enumerate(reversed(ids)) if t in self.breakers), len(ids))  # breaker-free suffix
        if free == 0:
            return {}
        rev = ids[::-1]
        z = self.z_function(rev)
        out: dict[int, int] = {}
        for k in range(1, len(rev)):  # the match ends at ids[n - 1 - k]; ids[n - k] follows it
            length = min(z[k], free)
            nxt = rev[k - 1]
            if length and nxt not in self.breakers and length > out.get(nxt, 0):
                out[nxt] = length
        return out

    def __call__(self, input_ids, scores):
        out = scores.clone()
        for row, ids in enumerate(input_ids.tolist()):
            for tok, length in self.lengths(ids).items():
                if length >= self.allowed_length and tok < out.shape[-1]:
                    exponent = min(length - self.allowed_length, self.max_exponent)
                    out[row, tok] -= self.multiplier * self.base ** exponent
        return out


class DynamicTemperatureLogitsWarper(LogitsProcessor):
    """Dynamic temperature: `T = Tmin + (Tmax - Tmin) * (H / log N)^exponent`, then `z_i / T`, where
    Tmin = max(0, temperature - range), Tmax = temperature + range, H the entropy of softmax(z) and N
    the number of finite logits (none to do when N <= 1). T <= 0 keeps the top token only.

    Example: z = [0, 0] (H = log 2, so H / log N = 1), temperature 1, range 0.5: T = 1.5, z stays
    [0, 0]; z = [0, -inf, -inf] has N = 1 and is left alone. A confident step (H small) gets T near
    Tmin, an uncertain one T near Tmax. TGW sets Tmin and Tmax directly (dynatemp_low/high).
    """

    def __init__(self, temperature: float, spread: float, exponent: float):
        self.low, self.high, self.exponent = max(0.0, temperature - spread), temperature + spread, exponent

    def temperature(self, scores: torch.Tensor) -> torch.Tensor:
        """The temperature of each row ([B, 1]); NaN where there is nothing to do (N <= 1)."""
        n = torch.isfinite(scores).sum(-1, keepdim=True)
        p = torch.softmax(scores, dim=-1)
        h = -torch.where(p > 0, p * torch.log(p), 0.0).sum(-1, keepdim=True)
        norm = (h / torch.log(n.clamp(min=2).to(scores.dtype))).clamp(0.0, 1.0)
        t = self.low + (self.high - self.low) * norm ** self.exponent
        return torch.where(n > 1, t, float("nan"))

    def __call__(self, input_ids, scores):
        t = self.temperature(scores)
        top = scores == scores.max(-1, keepdim=True).values
        greedy = scores.masked_fill(~top, float("-inf"))
        scaled = torch.where(t > 0, scores / t, greedy)
        return torch.where(torch.isnan(t), scores, scaled)


class SmoothingLogitsWarper(LogitsProcessor):
    """Smoothing (quadratic sampling, TGW): with d_i = z_i - max_j z_j, k = (3 - curve) / 2 and
    s = (curve - 1) / 2, `z_i' = max - k * factor * d_i^2 + s * factor * d_i^3` (-inf stays -inf).

    Example: factor 1, curve 1 (k = 1, s = 0): z = [2, 1, 0] -> [2, 1, -2]: the runner-up keeps its
    gap, the tail falls away quadratically; factor < 1 flattens the top instead (z = [2, 1, 0] with
    factor 0.5 -> [2, 1.5, 0]). llama.cpp has no smoothing; KoboldCpp applies `max - factor * d^2`
    after temperature.
    """

    def __init__(self, factor: float, curve: float):
        self.factor, self.curve = factor, curve

    def __call__(self, input_ids, scores):
        top = scores.max(-1, keepdim=True).values
        d = torch.where(torch.isfinite(scores), scores - top, 0.0)
        k, s = (3 - self.curve) / 2, (self.curve - 1) / 2
        out = top - k * self.factor * d ** 2 + s * self.factor * d ** 3
        return torch.where(torch.isfinite(scores), out, scores)


class TopALogitsWarper(LogitsProcessor):
    """top-a (TGW, KoboldCpp): keep the tokens with `p_i >= a * p_max^2`.

    Example: p = [0.6, 0.3, 0.1], a = 0.5: the cut is 0.5 * 0.36 = 0.18, so 0.1 goes: [0.6, 0.3] ->
    [2/3, 1/3]. A confident step cuts hard, a flat one barely. llama.cpp has no top-a.
    """

    def __init__(self, a: float):
        self.a = a

    def __call__(self, input_ids, scores):
        p = torch.softmax(scores, dim=-1)
        cut = self.a * p.max(-1, keepdim=True).values ** 2  # <= p_max since a <= 1: the top token stays
        return scores.masked_fill(p < cut, float("-inf"))


class TailFreeLogitsWarper(LogitsProcessor):
    """Tail-free sampling (TGW; llama.cpp dropped it in 2024): sort p descending, take the absolute
    second differences d2_i = |p_i - 2 p_{i+1} + p_{i+2}|, normalise them to sum 1 and keep the sorted
    tokens while the running sum of d2 is <= z; the first token always stays, the last always goes.

    Example: p = [0.5, 0.3, 0.15, 0.05] (sorted): d2 = [0.05, 0.05], normalised [0.5, 0.5], running
    sums [0.5, 1]. z = 0.6: keep 0.5 and 0.3 (the first stays; the second because 0.5 <= 0.6); 0.15 goes
    (1 > 0.6), 0.05 goes (the last always does). z = 1 (neutral) never runs.
    """

    def __init__(self, z: float):
        self.z = z

    def __call__(self, input_ids, scores):
        sorted_scores, order = torch.sort(scores, descending=True, dim=-1)
        p = torch.softmax(sorted_scores, dim=-1)
        d2 = p.diff(dim=-1).diff(dim=-1).abs()
        cdf = (d2 / d2.sum(-1, keepdim=True)).cumsum(-1)
        edge = torch.zeros(*scores.shape[:-1], 1, dtype=torch.bool, device=scores.device)
        drop = torch.cat([edge, cdf > self.z, ~edge], dim=-1)[..., : scores.shape[-1]]
        drop[..., 0] = False  # the top token stays (one token: nothing to cut)
        return scores.masked_fill(drop.scatter(-1, order, drop), float("-inf"))


def breaker_ids(texts: list[str], breakers) -> frozenset[int]:
    """DRY's breaker tokens: those whose text contains one of the breaker strings ("\\n\\n" holds "\\n").
    `texts[i]` is token i's text (e.g. `tokenizer.batch_decode([[i] for i in range(len(tokenizer))])`)."""
    return frozenset(i for i, t in enumerate(texts) if any(b in t for b in breakers))
