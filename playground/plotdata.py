"""Plain plot data for the next-token distribution (no gradio, no plotly).

`from_trace` turns a `sampling.Trace` (the live view: the next token of the current context under
the current parameters) and `from_step` a recorded `engine.Step` (a token already generated) into a
`PlotData`: the top tokens as bars, each with its fate (kept, or the first stage that removed it),
its final renormalised probability, the cumulative-probability curve and the top-p / min-p lines.

Bars are the probabilities after the processors (logit bias, penalties) and before the sampling
filters, ordered by that probability, which is exactly what the filters rank by. The cumulative
curve is the distribution the top-p stage sees (after temperature and any filter before it, in the
chosen sampler order), so the top-p line cuts it where top-p cuts; without top-p it is the bars'
own running sum. The min-p line is drawn on the bars' scale: min-p keeps p_i >= min_p * p_max of
its input, which for bars q (before temperature T) is q_i >= q_max * min_p**T.

A recorded step keeps only the model's raw probability and the final one for each candidate, so its
bars are the raw probabilities and it has no threshold lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .params import GenerationParams
from .sampling import Trace
from .stages import STAGES
from .text import readable

KEPT = "kept"


def fate_label(fate: str) -> str:
    """Legend text for a fate: 'kept', 'removed by top-k', 'not the top token (greedy)', ..."""
    if fate == KEPT:
        return "kept"
    return STAGES[fate].removed_text if fate in STAGES else f"removed by {fate}"


@dataclass(frozen=True)
class Bar:
    id: int
    text: str  # the token's text as decoded
    label: str  # readable: spaces, newlines and bytes made visible
    prob: float  # bar height: after the processors (live) or the model's raw probability (step)
    raw: float  # what the model alone gave it
    final: float  # after the whole chain, renormalised over the survivors (0 when removed)
    fate: str  # "kept", or the name of the link that removed it (a stage, or the pick: "greedy")
    chosen: bool = False


@dataclass
class PlotData:
    bars: list[Bar]
    cumulative: list[float]
    cumulative_name: str
    bar_name: str
    top_p: float | None = None
    min_p_cut: float | None = None
    min_p: float | None = None
    kept: int = 0  # survivors in the whole vocabulary
    vocab: int = 0
    mode: str = "sample"
    title: str = ""
    notes: list[str] = field(default_factory=list)
    show_raw: bool = False  # draw the raw model probability too (when processors changed it)

    @property
    def fates(self) -> list[str]:
        """The fates present, kept first, then in the order the bars show them."""
        seen = [KEPT] if any(b.fate == KEPT for b in self.bars) else []
        for b in self.bars:
            if b.fate not in seen:
                seen.append(b.fate)
        return seen


def from_trace(trace: Trace, params: GenerationParams, label: Callable[[int], str], top_n: int = 30,
               title: str = "", chosen: int | None = None) -> PlotData:
    """The live view of one step: `label(id)` gives a token's text (e.g. `engine.label`); a `chosen` token is
    marked, and shown after the top ones when it is not among them."""
    n_pre = sum(1 for s in trace.stages if not s.warper)
    pre = trace.probs_at(n_pre)[0]
    # Tokens the processors removed outright (no-repeat n-gram, min new tokens) have no bar height
    # after them; the ones the model itself ranked in its top k come after the others.
    fates = trace.candidates(max(1, top_n), also=chosen)
    ids = [f.id for f in fates]
    bars = []
    for f in fates:
        text = label(f.id)
        bars.append(Bar(f.id, text, readable(text), f.pre, f.raw, f.final, f.removed_by or KEPT, f.id == chosen))

    # The cumulative curve: what top-p sees when it runs, else the bars' own running sum.
    stage_at = {s.name: n for n, s in enumerate(trace.stages)}
    if "top_p" in stage_at:
        seen = trace.probs_at(stage_at["top_p"])[0]
        cum_name = "cumulative probability (as top-p sees it)"
    else:
        seen, cum_name = pre, "cumulative probability"
    running, cumulative = 0.0, []
    for i in ids:
        running += float(seen[i])
        cumulative.append(min(running, 1.0))

    min_p_cut = None
    reshaped = any(stage_at.get(n, len(stage_at)) < stage_at.get("min_p", -1) for n in ("dynatemp", "smoothing", "xtc"))
    if "min_p" in stage_at and not reshaped:  # no line where a stage before min-p moved the top (or its ratios)
        t_before = "temperature" in stage_at and stage_at["temperature"] < stage_at["min_p"]
        min_p_cut = float(pre.max()) * params.min_p ** (params.temperature if t_before else 1.0)

    kept = int(torch.isfinite(trace.picked).sum())
    notes = [trace.pick.note] if trace.pick and trace.pick.note else []
    notes += [n for n in (getattr(s.processor, "note", "") for s in trace.stages) if n]  # e.g. XTC without a seed
    if "top_k" in stage_at and params.top_k:
        ties = tie_note(params.top_k, int(trace.kept(stage_at["top_k"]).sum()))
        notes += [ties] if ties else []
    if params.mode == "beam":
        notes.append(f"Beam search (num_beams = {params.num_beams}): the {params.num_beams} best continuations by "
                     "total log-probability are kept; no token is sampled and the sampling filters do not run.")
    bar_name = "probability after penalties" if n_pre else "probability"
    return PlotData(bars, cumulative, cum_name, bar_name, params.top_p if "top_p" in stage_at else None, min_p_cut,
                    params.min_p if "min_p" in stage_at else None, kept, int(pre.shape[0]), params.mode, title, notes,
                    show_raw=n_pre > 0)


def tie_note(k: int, kept: int) -> str | None:
    """top-k keeps every token tied with the k-th (transformers compares with the k-th score): say so when it kept more."""
    if kept <= k:
        return None
    return (f"top_k={k} kept {kept}: {kept - k + 1} tokens tie at the cut (the same score as the {k}th, as happens "
            "in bfloat16), and top-k keeps every tied token.")


def from_step(step, top_n: int = 30, title: str = "") -> PlotData:
    """A generated token from its recorded `Step`: its top candidates, the chosen one marked."""
    cands = list(step.candidates)
    shown = cands[:top_n]
    if all(c.id != step.token_id for c in shown):
        shown += [c for c in cands if c.id == step.token_id]
    bars, running, cumulative = [], 0.0, []
    for c in shown:
        fate = KEPT if c.kept else (c.removed_by or "removed")
        bars.append(Bar(c.id, c.token, readable(c.token), c.prob_raw, c.prob_raw, c.prob_final, fate,
                        c.id == step.token_id))
        running += c.prob_raw
        cumulative.append(min(running, 1.0))
    how = "forced" if step.forced else f"p = {step.prob:.3g}, the model's rank {step.rank}"
    notes = [f"Generated token {step.step + 1}: {readable(step.token)!r} ({how}). Bars are the model's own "
             "probabilities as recorded while generating; the parameters used then, not the current ones."]
    return PlotData(bars, cumulative, "cumulative probability", "model probability", kept=sum(b.fate == KEPT for b in bars),
                    vocab=0, mode="step", title=title, notes=notes)


@dataclass
class Effect:
    """What one link of the chain did to a step: the tokens it saw and kept, the probability mass it kept (of
    the distribution it saw), and the most likely token's probability before and after it."""

    name: str
    label: str
    considered: int
    kept: int
    kept_mass: float
    top_before: float
    top_after: float


def effects(trace: Trace) -> list[Effect]:
    """Every link of the chain in order (the pick too when it narrows, as greedy does), with its `Effect`."""
    out = []
    for s, row in enumerate(trace.stage_report()):
        before, after = trace.probs_at(s)[0], trace.probs_at(s + 1)[0]
        out.append(Effect(row["stage"], row["label"], row["considered"], row["kept"], 1.0 - row["removed_mass"],
                          float(before.max()), float(after.max())))
    return out
