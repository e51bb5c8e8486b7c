"""Taking one step of a reply apart: the chain stage by stage, and the effect of sampler order.

Everything here works on logits the decode already computed (a `Decoder` with `keep_logits=True`,
or the engine's cached next-token logits): no forward pass is added.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import sampling
from .params import GenerationParams
from .text import readable


@dataclass
class StageRow:
    """One row of the chain table: what a stage did to the distribution it was given."""

    stage: str
    label: str
    considered: int
    kept: int
    removed: int
    removed_mass: float
    top_before: list[tuple[str, float]]
    top_after: list[tuple[str, float]]


def top_tokens(p: torch.Tensor, label, n: int) -> list[tuple[str, float]]:
    """The n most likely tokens of a distribution as (readable text, probability), zeros left out."""
    return named(torch.topk(p, min(n, p.shape[-1])), label)


def named(top: tuple[torch.Tensor, torch.Tensor], label) -> list[tuple[str, float]]:
    """A topk's (values, indices) as (readable text, probability), zeros left out."""
    return [(readable(label(t)), x) for t, x in zip(top[1].tolist(), top[0].tolist()) if x > 0]


def chain_table(trace: sampling.Trace, label, top: int = 5) -> list[StageRow]:
    """Per link (the stages, then a pick that removes tokens: greedy), in order: tokens considered, kept
    and removed, the mass removed, and the top candidates before and after it. `label(token_id)` names a
    token. kept + removed == considered."""

    report = trace.stage_report()
    n = min(top, trace.raw.shape[-1])  # the candidates' sort gives the top ones when it was taken (`Trace.top`)
    best = [named(trace.top(i, n), label) for i in range(len(trace.chain_scores))] if report else []
    return [StageRow(r["stage"], r["label"], r["considered"], r["kept"], r["removed"], r["removed_mass"], best[s], best[s + 1])
            for s, r in enumerate(report)]


def survivors(trace: sampling.Trace) -> dict[int, float]:
    """Token id -> final probability, for every token the chain (its pick included: greedy keeps one) kept."""
    p = trace.picked_probs[0]
    kept = torch.nonzero(torch.isfinite(trace.picked[0])).flatten()
    return dict(zip(kept.tolist(), p[kept].tolist()))  # whole tensors: the vocabulary can all survive


def compare_orders(engine, ids: list[int], prompt_len: int, params: GenerationParams,
                   logits: torch.Tensor) -> dict[str, dict[int, float]]:
    """The surviving set (with final probabilities) under each named sampler order, and under the request's own
    order when it is a custom one (first), on the same logits."""
    t = torch.tensor([ids], device=logits.device)
    out = {}
    for order in dict.fromkeys([*([params.sampler_order] if params.sampler_order not in sampling.ORDERS else []),
                                *sampling.ORDERS]):
        p = params.replace(sampler_order=order)
        out[order] = survivors(sampling.run(engine.stages(p, prompt_len), t, logits))
    return out
