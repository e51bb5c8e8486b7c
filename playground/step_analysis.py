"""One step of a reply taken apart, as plain data (floats, ints, strings): what the inspector shows.

`analyse(dec, k, top_n, title)` reads a `Decoder` through its public inspection API only (`trace_at`,
`logits_at`, `params_at`, `steps`), so it never runs the model: step k < len(steps) is the chain run again
on its kept logits with the parameters it was chosen with, or, once a reply no longer keeps them, its
record (`records.Step`); step k == len(steps) of an open reply is the next one, from its pending logits.
The result (`StepAnalysis`) holds the plot data (`plotdata.PlotData`), the rows of the chain table
(`CHAIN_HEADERS`), the model's distribution beside the one sampled from, and the surviving set under
each sampler order (`stage_rows.compare_orders`). The UI (ui/step_view.py) only formats it.

The live plot's next-token view works the same way (`live`): from logits already computed for a context
(the engine's cache, or an example's pinned logits: `PINNED`), never running the model.
"""

from __future__ import annotations

import heapq
import weakref
from dataclasses import dataclass

import torch

from . import plotdata, stage_rows
from .decoder import Decoder
from .params import GenerationParams
from .records import Step

CHAIN_HEADERS = ["#", "stage", "considered", "kept", "removed", "mass removed", "top before", "top after"]
N_BARS = 15  # bars in each small chart (before/after, one per sampler order)
N_CANDIDATES = 20  # rows of the candidates table
UNCHANGED = "(no stage: sampled from the model's own distribution)"
# engine -> {the token ids of an example's context: its logits}: computed once, never evicted (ui/examples.py)
PINNED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

Ranked = list[tuple[int, float]]  # (token id, probability), most likely first


@dataclass
class Survivors:
    """The tokens a chain kept: how many, and the most likely of them."""

    total: int
    top: Ranked


@dataclass
class StepAnalysis:
    """Everything the inspector shows about step k, as plain data."""

    k: int
    params: GenerationParams  # the parameters the step was (or will be) chosen with
    chosen: int | None  # the token taken; None: the next step, not chosen yet
    step: Step | None  # its record; None for the next step
    exact: bool  # the chain run again on kept logits; False: from the record only (no order comparison)
    plot: plotdata.PlotData  # the step as the live plot draws it (`top_n` bars)
    candidates: plotdata.PlotData  # the `N_CANDIDATES` candidates with their fates
    chain: list[list]  # the chain table's rows (`CHAIN_HEADERS`)
    raw: Ranked  # the model's own distribution (top `N_BARS`)
    final: Survivors  # after the chain: the distribution sampled from
    orders: dict[str, Survivors] | None  # per sampler order (the reply's own first when custom); None without logits


def top_text(items) -> str:
    return ", ".join(f"{t} {p:.3f}" for t, p in items)


def chain_rows(rows: list) -> list[list]:
    """The chain table (`CHAIN_HEADERS`) of chain rows (`stage_rows.StageRow`s, or their dicts as records keep them)."""
    rows = [r if isinstance(r, dict) else vars(r) for r in rows]
    return [[i, r["label"], r["considered"], r["kept"], r["removed"], round(r["removed_mass"], 4), top_text(r["top_before"]),
             top_text(r["top_after"])] for i, r in enumerate(rows, 1)]


def ranked(probs: dict[int, float] | torch.Tensor, n: int = N_BARS) -> Ranked:
    """The n most likely tokens with a probability above zero."""
    if isinstance(probs, torch.Tensor):
        v, i = torch.topk(probs, min(n, probs.shape[-1]))
        return [(int(t), float(x)) for t, x in zip(i, v) if x > 0]
    return heapq.nlargest(n, probs.items(), key=lambda kv: kv[1])  # the whole vocabulary may survive


def analyse(dec: Decoder, k: int, top_n: int = 30, title: str = "") -> StepAnalysis:
    """Step k of `dec` (the Decoder that chose it, or the open one for its next step); LookupError when it
    has neither logits nor a record."""
    if not 0 <= k <= len(dec.steps) or (k == len(dec.steps) and dec.logits_at(k) is None):
        raise LookupError(f"step {k} is not part of this reply")
    step = dec.steps[k] if k < len(dec.steps) else None
    chosen = step.token_id if step is not None else None
    params = dec.params_at(k)
    logits = dec.logits_at(k)
    if logits is None:  # the record made while generating: the candidates and the chain, exact
        cands = step.candidates
        survivors = {c.id: c.prob_final for c in cands if c.prob_final > 0}
        return StepAnalysis(k, params, chosen, step, False, plotdata.from_step(step, int(top_n or 30), title=title),
                            plotdata.from_step(step, N_CANDIDATES), chain_rows(step.stages or []),
                            ranked({c.id: c.prob_raw for c in cands}), Survivors(len(survivors), ranked(survivors)), None)
    label, trace = dec.lm.label, dec.trace_at(k)
    rows = chain_rows(stage_rows.chain_table(trace, label))
    if not rows:  # nothing changes the model's distribution: it is sampled as it is
        n = int(torch.isfinite(trace.raw[0]).sum())
        raw = top_text(stage_rows.top_tokens(trace.probs(-1)[0], label, 5))
        rows.append([0, UNCHANGED, n, n, 0, 0.0, raw, raw])
    ids = dec.prompt + dec.token_ids[:k]
    sets = stage_rows.compare_orders(dec.lm, ids, len(dec.prompt), params, logits)  # greedy: the argmax in each
    return StepAnalysis(k, params, chosen, step, True, plotdata.from_trace(trace, params, label, int(top_n or 30), title, chosen),
                        plotdata.from_trace(trace, params, label, N_CANDIDATES), rows, ranked(trace.probs(-1)[0]),
                        Survivors(int(torch.isfinite(trace.picked).sum()), ranked(trace.picked_probs[0])),
                        {n: Survivors(len(s), ranked(s)) for n, s in sets.items()})


# --- the live plot: the next token of a context, from logits already computed -------------------------
def cached(engine, ids: list[int]) -> torch.Tensor | None:
    """The context's logits if already computed (the engine's cache, or pinned); never runs the model."""
    logits = engine.cached_logits(ids)
    return PINNED.get(engine, {}).get(tuple(ids)) if logits is None else logits


def compute(engine, ids: list[int], pin: bool = False) -> None:
    """One forward pass for the context unless its logits are known; `pin` keeps them for the engine (an example's)."""
    if cached(engine, ids) is None:
        logits = engine.next_logits(ids)
        if pin:
            PINNED.setdefault(engine, {})[tuple(ids)] = logits


def live(engine, ids: list[int], params: GenerationParams, top_n: int, title: str = "Next token") -> plotdata.PlotData:
    """The next token after `ids` under `params`; LookupError while its logits are not computed."""
    trace = _trace(engine, ids, params)
    return plotdata.from_trace(trace, params, engine.label, top_n, title=title)


def effects(engine, ids: list[int], params: GenerationParams) -> list[plotdata.Effect]:
    """What each link of the chain does to the next token after `ids` (`plotdata.effects`); LookupError as `live`."""
    return plotdata.effects(_trace(engine, ids, params))


def _trace(engine, ids: list[int], params: GenerationParams):
    logits = cached(engine, ids)
    if logits is None:
        raise LookupError("the context's logits are not computed yet")
    return engine.trace(ids, params, logits=logits)
