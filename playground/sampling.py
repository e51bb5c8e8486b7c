"""The sampler chain: its stages (generated from the registry in `stages.py`), run on one step's logits.

Each stage wraps transformers' own `LogitsProcessor` (or, for the OpenAI penalties, a small one of
ours; for min-new-tokens, theirs with its mask built once: `MinNewTokens`) as a pure function: it
never changes its input, masks with `-inf` and keeps at least one token. `build_stages` lists them in
exactly the order `generate()` applies them, so running the stages on the same logits gives the same
numbers `generate()` samples from; its `Chain` ends with the final pick (`GreedyPick` or
`SamplePick`). `run` returns a `Trace` (trace.py): the scores after every stage, what the pick leaves,
and, per token, the first link of the chain that removed it (`Trace.candidates`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from transformers.generation import logits_process
from transformers.generation.logits_process import LogitsProcessor

from . import samplers
from . import stages as registry
from .params import GenerationParams
from .stages import PROCESSOR, STAGES, ChainContext, StageSpec
from .trace import Fate, Trace  # noqa: F401  (sampling.Fate, sampling.Trace: the chain's record)

# name -> (label shown in the UI, formula), and the named orders: views of the registry.
STAGE_INFO = {n: (s.label, s.formula) for n, s in STAGES.items()}
ORDERS = {n: o.stages for n, o in registry.ORDERS.items()}


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


class MinNewTokens(logits_process.MinNewTokensLengthLogitsProcessor):
    """transformers' min-new-tokens processor, with its end-of-sequence mask built once per vocabulary (theirs
    rebuilds `isin(arange(V), eos)` every call, ~0.7 ms a step): the same expression, the same numbers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.eos = tuple(self.eos_token_id.reshape(-1).tolist())

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if input_ids.shape[-1] - self.prompt_length_to_skip >= self.min_new_tokens:
            return scores.clone()
        return torch.where(_eos_mask(scores.shape[-1], scores.device, self.eos), -math.inf, scores)


@functools.lru_cache(maxsize=8)
def _eos_mask(vocab: int, device: torch.device, eos: tuple[int, ...]) -> torch.Tensor:
    return torch.isin(torch.arange(vocab, device=device), torch.tensor(eos, device=device))


LIGHTER = {"MinNewTokensLengthLogitsProcessor": MinNewTokens}  # transformers' class -> ours, the same numbers faster


@dataclass(frozen=True)
class GreedyPick:
    """The final pick of greedy decoding: the argmax of what the chain left. `x = argmax_i z_i`.

    Example: z = [1, 3, 2] picks token 1; the pick leaves [-inf, 3, -inf] (p = [0, 1, 0]).
    """

    name: str = "greedy"
    random = False  # needs no generator
    narrows = True  # it removes tokens: a row of the chain table
    note = "Greedy decoding: the most likely token is always taken; the sampling filters do not run."

    @property
    def label(self) -> str:
        return STAGES[self.name].label

    def leave(self, final: torch.Tensor) -> torch.Tensor:
        """The scores it picks from: -inf for all but the argmax (ties: the first)."""
        best = torch.argmax(final, dim=-1, keepdim=True)
        return torch.full_like(final, float("-inf")).scatter(-1, best, final.gather(-1, best))

    def choose(self, trace: Trace, generator: torch.Generator | None) -> int:
        return int(torch.argmax(trace.final, dim=-1)[0])


@dataclass(frozen=True)
class SamplePick:
    """The final pick when sampling: one draw from softmax of what the chain left, with the request's
    own generator (its seed). `x ~ softmax(z)`. Example: z = [0, log 3] draws token 1 three times in four."""

    name: str = "sample"
    random = True
    narrows = False  # a draw removes nothing: the chain table ends with the survivors it draws from
    note = ""

    @property
    def label(self) -> str:
        return STAGES[self.name].label

    def leave(self, final: torch.Tensor) -> torch.Tensor:
        return final

    def choose(self, trace: Trace, generator: torch.Generator | None) -> int:
        return int(torch.multinomial(trace.probs(), 1, generator=generator)[0, 0])  # softmax(final)


@dataclass(frozen=True)
class Stage:
    """One step of the chain: a name from the registry and the processor that computes it."""

    name: str
    processor: LogitsProcessor
    warper: bool  # warpers only run when sampling, after every other processor (transformers' rule)

    @property
    def label(self) -> str:
        return STAGES[self.name].label

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        # Some library processors write into their input (no-repeat n-gram); a copy keeps us pure. The ones in
        # PURE build a new tensor and never write into `scores` (read in transformers 5): no copy (196 KB a stage a step).
        return self.processor(input_ids, scores if type(self.processor).__name__ in PURE else scores.clone())


# transformers' processors whose __call__ returns a new tensor and leaves `scores` alone (2-d scores, as here).
PURE = frozenset({"MinNewTokens", "TemperatureLogitsWarper", "TopKLogitsWarper", "TopPLogitsWarper",
                  "MinPLogitsWarper", "TypicalLogitsWarper", "EpsilonLogitsWarper", "EtaLogitsWarper",
                  "SequenceBiasLogitsProcessor"})


class Chain(list):
    """The stages of one request in order (a plain list of `Stage`s), and `pick`, its last link
    (None for beam search, which `generate()` runs)."""

    def __init__(self, stages=(), pick=None):
        super().__init__(stages)
        self.pick = pick

    def describe(self) -> list[str]:
        """One line per link, in order: 'label: formula'."""
        links = [s.name for s in self] + ([self.pick.name] if self.pick else [])
        return [f"{STAGES[n].label}: {STAGES[n].formula}" for n in links]


def impl_class(spec: StageSpec) -> type:
    """The class that computes a stage: transformers', or ours (here, or the peers' in `samplers.py`)."""
    if not spec.ours:
        return LIGHTER.get(spec.impl) or getattr(logits_process, spec.impl)
    return getattr(samplers, spec.impl, None) or globals()[spec.impl]


def _make(spec: StageSpec, params: GenerationParams, ctx: ChainContext):
    return spec.make(impl_class(spec), params, ctx)


def _context(prompt_len: int = 0, eos_token_id=None, bias_ids=None, min_tokens_to_keep: int = 1, seed: int | None = None,
             breakers=()) -> ChainContext:
    eos = None if eos_token_id is None else torch.tensor(eos_token_id).reshape(-1)
    return ChainContext(prompt_len, eos, bias_ids, min_tokens_to_keep, seed, frozenset(breakers))


def processor_stages(params: GenerationParams, prompt_len: int, eos_token_id: int | list[int],
                     bias_ids: dict[int, float] | None = None, reg: dict[str, StageSpec] = STAGES,
                     breakers=()) -> list[Stage]:
    """The stages that always run, in `generate()`'s order (its `_get_logits_processor`), then ours."""
    ctx = _context(prompt_len, eos_token_id, bias_ids, breakers=breakers)
    return [Stage(s.name, _make(s, params, ctx), False) for s in reg.values() if s.kind == PROCESSOR and s.active(params, ctx)]


def warper_stages(params: GenerationParams, min_tokens_to_keep: int = 1, reg: dict[str, StageSpec] = STAGES,
                  seed: int | None = None) -> list[Stage]:
    """The filters that run only when sampling, in the order `params.sampler_order` names. `seed`: the
    request's (XTC's coin); by default `params.seed`."""
    ctx = _context(min_tokens_to_keep=min_tokens_to_keep, seed=params.seed if seed is None else seed)
    return [Stage(n, _make(reg[n], params, ctx), True) for n in registry.warper_names(params, ctx, reg)]


def pick_of(params: GenerationParams, reg: dict[str, StageSpec] = STAGES):
    """The chain's last link for these parameters: greedy, sample, mirostat, or None (beam search)."""
    ctx = _context()
    spec = registry.active_pick(params, ctx, reg)
    return None if spec is None else _make(spec, params, ctx)


def build_stages(params: GenerationParams, prompt_len: int, eos_token_id: int | list[int],
                 bias_ids: dict[int, float] | None = None, breakers=(), seed: int | None = None) -> Chain:
    """The whole chain for one request: processors, then (when sampling) the ordered warpers, then the pick.
    `breakers`: DRY's breaker token ids; `seed`: the request's seed (XTC's coin), by default `params.seed`."""
    return Chain(processor_stages(params, prompt_len, eos_token_id, bias_ids, breakers=breakers)
                 + warper_stages(params, seed=seed), pick_of(params))


def run(stages: list[Stage], input_ids: torch.LongTensor, logits: torch.Tensor) -> Trace:
    """Apply every stage in order to one row of logits (shape [1, V]) and record each result."""
    scores = [logits]
    for stage in stages:
        scores.append(stage(input_ids, scores[-1]))
    return Trace(stages, scores, getattr(stages, "pick", None))


def apply(stages: list[Stage], input_ids: torch.LongTensor, logits: torch.Tensor) -> torch.Tensor:
    """The final scores only, without the per-stage record."""
    for stage in stages:
        logits = stage(input_ids, logits)
    return logits
