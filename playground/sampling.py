"""The sampler pipeline: one ordered list of stages that feeds both generation and the plot.

Each stage wraps transformers' own `LogitsProcessor` (or, for the OpenAI penalties, a small one of
ours) as a pure function: it never changes its input, masks with `-inf` and keeps at least one
token. `build_stages` lists them in exactly the order `generate()` applies them, so running the
stages on the same logits gives the same numbers `generate()` samples from. `run` returns a
`Trace`: the scores after every stage and, per token, the first stage that removed it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch
from transformers.generation.logits_process import (
    EpsilonLogitsWarper,
    EtaLogitsWarper,
    LogitsProcessor,
    MinNewTokensLengthLogitsProcessor,
    MinPLogitsWarper,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    SequenceBiasLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)

from .params import GenerationParams

# name -> (label shown in the UI, formula); the order here is not the pipeline order.
STAGE_INFO = {
    "logit_bias": ("logit bias", "z_i += bias_i"),
    "repetition_penalty": ("repetition penalty", "z_i / r if z_i > 0 else z_i * r, for i in the text"),
    "no_repeat_ngram": ("no-repeat n-gram", "z_i = -inf if it would repeat an n-gram"),
    "min_new_tokens": ("min new tokens", "z_eos = -inf while t < min_new_tokens"),
    "openai_penalties": ("presence/frequency", "z_j -= c_j * frequency + (c_j > 0) * presence"),
    "temperature": ("temperature", "z_i / T"),
    "top_k": ("top-k", "keep the k largest"),
    "top_p": ("top-p", "keep the smallest top set with mass >= p"),
    "min_p": ("min-p", "keep p_i >= min_p * p_max"),
    "typical_p": ("typical", "keep tokens of typical surprise up to mass p"),
    "epsilon": ("epsilon", "keep p_i >= epsilon"),
    "eta": ("eta", "keep p_i >= min(eta, sqrt(eta) * exp(-H))"),
}


class OpenAIPenaltyLogitsProcessor(LogitsProcessor):
    """OpenAI's presence and frequency penalties over the generated tokens only.

    `z_j -= c_j * frequency + (c_j > 0) * presence`, where `c_j` counts token j after the prompt.
    Example: prompt [5], generated [7, 7, 9], frequency 0.5, presence 1:
    z_7 -= 2 * 0.5 + 1 = 2, z_9 -= 0.5 + 1 = 1.5, z_5 unchanged (it is in the prompt only).
    """

    def __init__(self, presence: float, frequency: float, prompt_len: int):
        self.presence, self.frequency, self.prompt_len = presence, frequency, prompt_len

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids[:, self.prompt_len:]
        counts = torch.zeros_like(scores).scatter_add_(1, generated, torch.ones_like(generated, dtype=scores.dtype))
        return scores - counts * self.frequency - (counts > 0).to(scores.dtype) * self.presence


@dataclass(frozen=True)
class Stage:
    """One step of the chain: a name from `STAGE_INFO` and the processor that computes it."""

    name: str
    processor: LogitsProcessor
    warper: bool  # warpers only run when sampling, after every other processor (transformers' rule)

    @property
    def label(self) -> str:
        return STAGE_INFO[self.name][0]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        # Some library processors write into their input (no-repeat n-gram); a copy keeps us pure.
        return self.processor(input_ids, scores.clone())


def processor_stages(params: GenerationParams, prompt_len: int, eos_token_id: int | list[int],
                     bias_ids: dict[int, float] | None = None) -> list[Stage]:
    """The stages that always run, in `generate()`'s order (its `_get_logits_processor`)."""
    out = []
    if bias_ids:
        out.append(Stage("logit_bias", SequenceBiasLogitsProcessor([[[i], b] for i, b in bias_ids.items()]), False))
    if params.repetition_penalty != 1.0:
        out.append(Stage("repetition_penalty", RepetitionPenaltyLogitsProcessor(params.repetition_penalty), False))
    if params.no_repeat_ngram_size > 0:
        out.append(Stage("no_repeat_ngram", NoRepeatNGramLogitsProcessor(params.no_repeat_ngram_size), False))
    if params.min_new_tokens > 0:
        out.append(Stage("min_new_tokens", MinNewTokensLengthLogitsProcessor(
            prompt_len, params.min_new_tokens, torch.tensor(eos_token_id).reshape(-1)), False))
    # The OpenAI penalties are a user processor: generate() runs those after its own, before the warpers.
    if params.presence_penalty or params.frequency_penalty:
        out.append(Stage("openai_penalties", OpenAIPenaltyLogitsProcessor(
            params.presence_penalty, params.frequency_penalty, prompt_len), False))
    return out


def warper_stages(params: GenerationParams, min_tokens_to_keep: int = 1) -> list[Stage]:
    """The filters that run only when sampling, in the order `params.sampler_order` names."""
    if params.mode != "sample":
        return []
    keep = min_tokens_to_keep
    by_name = {}
    if params.temperature != 1.0:
        by_name["temperature"] = TemperatureLogitsWarper(params.temperature)
    if params.top_k != 0:
        by_name["top_k"] = TopKLogitsWarper(params.top_k, min_tokens_to_keep=keep)
    if params.top_p < 1.0:
        by_name["top_p"] = TopPLogitsWarper(params.top_p, min_tokens_to_keep=keep)
    if params.min_p > 0:
        by_name["min_p"] = MinPLogitsWarper(params.min_p, min_tokens_to_keep=keep)
    if params.typical_p < 1.0:
        by_name["typical_p"] = TypicalLogitsWarper(params.typical_p, min_tokens_to_keep=keep)
    if 0 < params.epsilon_cutoff < 1:
        by_name["epsilon"] = EpsilonLogitsWarper(params.epsilon_cutoff, min_tokens_to_keep=keep)
    if 0 < params.eta_cutoff < 1:
        by_name["eta"] = EtaLogitsWarper(params.eta_cutoff, min_tokens_to_keep=keep)
    return [Stage(n, by_name[n], True) for n in ORDERS[params.sampler_order] if n in by_name]


ORDERS = {
    # transformers 5, generation/utils.py `_get_logits_processor`
    "transformers": ("temperature", "top_k", "top_p", "min_p", "typical_p", "epsilon", "eta"),
    # llama.cpp common/sampling.cpp: top-k, typical, top-p, min-p, ..., temperature last
    "temperature_last": ("top_k", "typical_p", "top_p", "min_p", "epsilon", "eta", "temperature"),
}


def build_stages(params: GenerationParams, prompt_len: int, eos_token_id: int | list[int],
                 bias_ids: dict[int, float] | None = None) -> list[Stage]:
    """The whole chain for one request: processors, then (when sampling) the ordered warpers."""
    return processor_stages(params, prompt_len, eos_token_id, bias_ids) + warper_stages(params)


@dataclass
class Trace:
    """What the chain did to one step's logits.

    `scores[0]` is the raw logits, `scores[s + 1]` the scores after stage s; `removed_by[i]` is the
    index of the stage that first set token i to `-inf`, or -1 when it survived.
    """

    stages: list[Stage]
    scores: list[torch.Tensor]
    _probs: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)  # softmax of scores[i], once each

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

    def probs(self, after: int | None = None) -> torch.Tensor:
        """Probabilities after stage `after` (None: after the whole chain; -1: raw), each computed once: the
        pick, the record and the chain table share them."""
        return self.probs_at(len(self.scores) - 1 if after is None else after + 1)

    def probs_at(self, i: int) -> torch.Tensor:
        """softmax(scores[i])."""
        if i not in self._probs:
            self._probs[i] = torch.softmax(self.scores[i], dim=-1)
        return self._probs[i]

    def kept(self, after: int | None = None) -> torch.Tensor:
        s = self.final if after is None else self.scores[after + 1]
        return torch.isfinite(s)

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

    def stage_report(self) -> list[dict]:
        """Per stage: tokens before and after, how many it removed, and the probability mass they held."""
        out = []
        for s, stage in enumerate(self.stages):
            before, after = torch.isfinite(self.scores[s]), torch.isfinite(self.scores[s + 1])
            gone = before & ~after
            mass = float(self.probs_at(s)[gone].sum())
            out.append(dict(stage=stage.name, label=stage.label, considered=int(before.sum()),
                            kept=int(after.sum()), removed=int(gone.sum()), removed_mass=mass))
        return out


def run(stages: list[Stage], input_ids: torch.LongTensor, logits: torch.Tensor) -> Trace:
    """Apply every stage in order to one row of logits (shape [1, V]) and record each result."""
    scores = [logits]
    for stage in stages:
        scores.append(stage(input_ids, scores[-1]))
    return Trace(stages, scores)


def apply(stages: list[Stage], input_ids: torch.LongTensor, logits: torch.Tensor) -> torch.Tensor:
    """The final scores only, without the per-stage record."""
    for stage in stages:
        logits = stage(input_ids, logits)
    return logits
