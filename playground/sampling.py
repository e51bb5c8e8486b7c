"""The sampler chain: its stages (generated from the registry in `stages.py`), run on one step's logits.

Each stage wraps transformers' own `LogitsProcessor` (or, for the OpenAI penalties, a small one of
ours) as a pure function: it never changes its input, masks with `-inf` and keeps at least one
token. `build_stages` lists them in exactly the order `generate()` applies them, so running the
stages on the same logits gives the same numbers `generate()` samples from; its `Chain` ends with the
final pick (`GreedyPick` or `SamplePick`). `run` returns a `Trace`: the scores after every stage, what
the pick leaves, and, per token, the first link of the chain that removed it (`Trace.candidates`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch
from transformers.generation import logits_process
from transformers.generation.logits_process import LogitsProcessor

from . import samplers
from . import stages as registry
from .params import GenerationParams
from .stages import PROCESSOR, STAGES, ChainContext, StageSpec

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
PURE = frozenset({"MinNewTokensLengthLogitsProcessor", "TemperatureLogitsWarper", "TopKLogitsWarper", "TopPLogitsWarper",
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
        return getattr(logits_process, spec.impl)
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

    stages: list[Stage]
    scores: list[torch.Tensor]
    pick: GreedyPick | SamplePick | samplers.MirostatPick | None = None
    _probs: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)  # softmax of links()[i], once each

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

    def links(self) -> list[tuple[str, str]]:
        """(name, label) per link in order: the stages, then the pick when it removes tokens (greedy).
        Link s turns `chain_scores[s]` into `chain_scores[s + 1]`."""
        out = [(s.name, s.label) for s in self.stages]
        return out + ([(self.pick.name, self.pick.label)] if len(self.chain_scores) > len(self.scores) else [])

    def stage_report(self) -> list[dict]:
        """Per link: tokens before and after, how many it removed, and the probability mass they held."""
        out = []
        for s, (name, label) in enumerate(self.links()):
            before, after = torch.isfinite(self.chain_scores[s]), torch.isfinite(self.chain_scores[s + 1])
            gone = before & ~after
            mass = float(self.probs_at(s)[gone].sum())
            out.append(dict(stage=name, label=label, considered=int(before.sum()),
                            kept=int(after.sum()), removed=int(gone.sum()), removed_mass=mass))
        return out

    def candidates(self, n: int, also: int | None = None) -> list[Fate]:
        """The n most likely tokens after the processors, then the model's own top n that a processor
        removed outright (EOS before min_new_tokens...), then `also` (e.g. the chosen token), each with
        its fate: the first link that removed it (a stage, or the pick), or None when it was kept."""
        n_pre = sum(1 for s in self.stages if not s.warper)
        raw, pre, final = self.probs_at(0)[0], self.probs_at(n_pre)[0], self.picked_probs[0]
        n = min(n, pre.shape[0])
        top = torch.topk(pre, n).indices.tolist() if n else []
        if n and any(not s.warper for s in self.stages):  # the raw favourites a processor removed
            seen = set(top)
            top += [i for i in torch.topk(raw, n).indices.tolist() if i not in seen and pre[i] == 0]
        if n and also is not None and also not in top:
            top.append(also)
        idx = torch.tensor(top, dtype=torch.long, device=pre.device)
        names = [s.name for s in self.stages]
        removed = self.removed_by_at(idx).tolist()
        picked = torch.isfinite(self.picked[0, idx]).tolist()
        return [Fate(i, r, p, f, names[by] if by >= 0 else (None if ok else self.pick.name))
                for i, by, ok, r, p, f in zip(top, removed, picked, raw[top].tolist(), pre[top].tolist(), final[top].tolist())]


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
