"""One step of the last reply taken apart, from logits the decode already computed (no forward pass).

`show(engine, reply, k, top_n, scale)` returns the values of the inspector's step outputs (`VIEW`):
a line about the step, the live-style plot (`plot.figure` of `view.from_trace`), the chain table
(`inspector.chain_table`: per stage, in order, tokens considered/kept/removed, mass removed, top
before and after), the model's distribution beside the one sampled from, the surviving set under
each sampler order (`inspector.compare_orders`), and the candidates (a table and a dropdown, both to
force one; the dropdown's values are "k:id", so a pick that arrives twice forces once). Step
k < len(steps) is re-traced from its kept logits with the parameters it was chosen with (Step takes the
current controls, so they can change between steps); step k == len(steps) of an open reply is the next
one, from its pending logits.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import gradio as gr
import pandas as pd
import torch

from .. import inspector, sampling, stages, view
from ..decoder import Decoder
from ..params import GenerationParams
from ..text import readable
from . import plot
from .chat import Reply, shown
from .figure_view import TEMPLATE, encode
from .i18n import say, tr
from .tokens_html import number

VIEW = ("info", "plot", "chain", "raw_final", "orders", "candidates", "force_token")
CHAIN_HEADERS = ["#", "stage", "considered", "kept", "removed", "mass removed", "top before", "top after"]
CAND_HEADERS = ["token", "id", "model p", "final p", "fate"]
ID_COL = CAND_HEADERS.index("id")
N_CANDIDATES = 20
N_BARS = 15
NOTHING = "Click a token of the reply above (or Step) to see how it was chosen."
RECORD_ONLY = ("Shown from the record made while generating (the candidates and the chain, exact). A reply keeps the "
               "full logits of its latest steps only (memory), so the order comparison is not drawn for this step.")


@dataclass
class At:
    """Everything about step k: its chain, the ids before it, its raw logits, the parameters used."""

    k: int
    trace: sampling.Trace | None  # None: the step's logits are no longer kept, only its record
    ids: list[int]
    prompt_len: int
    logits: torch.Tensor | None
    params: GenerationParams
    chosen: int | None  # None: the next step, not chosen yet
    step: object | None  # its records.Step


def at(reply: Reply, k: int) -> At:
    """Step k of the shown branch; LookupError when it has no logits (yet)."""
    dec: Decoder = reply.dec
    if 0 <= k < len(dec.steps):
        owner = reply.owner(k)
        kept = owner.has_logits(k)
        trace, logits = (owner.trace_at(k), owner.logit_history[k]) if kept else (None, None)
        ids = owner.prompt + owner.token_ids[:k]
        return At(k, trace, ids, len(owner.prompt), logits, owner.params_at(k), dec.steps[k].token_id, dec.steps[k])
    if k == len(dec.steps) and not dec.done and dec.logits is not None:
        with torch.inference_mode():
            trace = sampling.run(dec.stages, dec.ids, dec.logits)
        return At(k, trace, dec.prompt + dec.token_ids, len(dec.prompt), dec.logits, dec.params, None, None)
    raise LookupError(f"step {number(k)} is not part of this reply (it has {len(dec.steps)} tokens"
                      f"{'' if dec.done else ', and the next one is computed by Step'}).")


# --- the parts -------------------------------------------------------------------------------------
def settings(params: GenerationParams) -> str:
    """The parameters a step was chosen with, as the ones that differ from the defaults."""
    return ", ".join(f"{n} = {v!r}" for n, v in params.changed().items()) or "all defaults"


def info(engine, reply: Reply, a: At) -> str:
    about = tr("mode {mode}; parameters: {settings}; branch {branch}", mode=a.params.mode, settings=shown(settings(a.params)),
               branch=shown(reply.labels[reply.current]))
    if a.step is None:
        return tr("**Step {k}: the next token**, not chosen yet. Click a candidate row (or pick one in *Force token*) "
                  "to take it, or Step to sample one. <br>{about}", k=number(a.k), about=about)
    s = a.step
    how = tr("forced by you") if s.forced else tr("chosen with p = {p}", p=f"{s.prob:.4g}")
    record = "" if a.trace is not None else f"<br>{tr(RECORD_ONLY)}"
    return tr("**Step {k}**: “{token}” (id {id}), {how}; the model alone gave it p = {p} (rank {rank}). <br>{about}{record}",
              k=number(a.k), token=shown(readable(s.token)), id=s.token_id, how=how, p=f"{s.prob_raw:.4g}", rank=s.rank,
              about=about, record=record)


def step_figure(engine, a: At, top_n: int, log: bool) -> str:
    title = f"Step {number(a.k)}" + (" (next token)" if a.chosen is None else "")
    if a.trace is None:
        return encode(plot.figure(view.from_step(a.step, int(top_n or 30), title=title), log))
    return encode(plot.figure(view.from_trace(a.trace, a.params, engine.label, int(top_n or 30), title, a.chosen), log))


def _top_text(items) -> str:
    return ", ".join(f"{t} {p:.3f}" for t, p in items)


def chain_frame(stages: list[dict]) -> pd.DataFrame:
    """The chain table (`CHAIN_HEADERS`) of chain rows (`inspector.chain_table`'s rows as dicts)."""
    rows = [[i, r["label"], r["considered"], r["kept"], r["removed"], round(r["removed_mass"], 4), _top_text(r["top_before"]),
             _top_text(r["top_after"])] for i, r in enumerate(stages, 1)]
    return pd.DataFrame(rows, columns=CHAIN_HEADERS)


def chain_rows(engine, a: At) -> pd.DataFrame:
    # The rows recorded while generating (the pick's too, when it removed tokens: greedy), or the chain run again.
    stages = (a.step.stages or []) if a.trace is None else [vars(r) for r in inspector.chain_table(a.trace, engine.label)]
    rows = chain_frame(stages).values.tolist()
    if not rows and a.trace is not None:  # nothing changes the model's distribution: it is sampled as it is
        n = int(torch.isfinite(a.trace.raw[0]).sum())
        raw = _top_text(_top(a.trace.probs(-1)[0], engine, 5))
        rows.append([0, "(no stage: sampled from the model's own distribution)", n, n, 0, 0.0, raw, raw])
    return pd.DataFrame(rows, columns=CHAIN_HEADERS)


def _top(p: torch.Tensor, engine, n: int) -> list[tuple[str, float]]:
    return inspector.top_tokens(p, engine.label, n)


def pair(left: list[tuple[int, float]], right: list[tuple[int, float]], titles: tuple[str, str], engine,
         chosen: int | None) -> str:
    """Two small bar charts side by side (see `charts`)."""
    return charts([left, right], titles, engine, chosen)


def charts(columns: list[list[tuple[int, float]]], titles: tuple[str, ...], engine, chosen: int | None) -> str:
    """Small bar charts side by side (as make_subplots lays them out); the chosen token in orange.
    Plain dicts: plotly's validated figure objects cost ~70 ms a chart, most of a token click."""
    traces, annotations, layout = [], [], {}
    width = (1 - 0.1 * (len(columns) - 1)) / len(columns)
    for col, items in enumerate(columns, 1):
        x0 = (col - 1) * (width + 0.1)
        x1 = x0 + width
        n = "" if col == 1 else str(col)
        traces.append(dict(type="bar", x=[shown(readable(engine.label(i))) for i, _ in items], y=[p for _, p in items],
                           xaxis=f"x{n}", yaxis=f"y{n}", showlegend=False, customdata=[i for i, _ in items],
                           marker=dict(color=["#e8590c" if i == chosen else "#1971c2" for i, _ in items]),
                           hovertemplate="%{x}<br>id %{customdata}<br>p %{y:.4g}<extra></extra>"))
        annotations.append(dict(text=shown(titles[col - 1]), x=(x0 + x1) / 2, y=1.0, xref="paper", yref="paper",
                                xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=11)))
        layout[f"xaxis{n}"] = dict(domain=[x0, x1], anchor=f"y{n}", tickangle=-60)
        layout[f"yaxis{n}"] = dict(anchor=f"x{n}", rangemode="tozero")
    layout.update(height=300, margin=dict(l=40, r=20, t=50, b=80), bargap=0.15, annotations=annotations,
                  template=TEMPLATE)
    return encode(dict(data=traces, layout=layout))


def ranked(probs: dict[int, float] | torch.Tensor, n: int = N_BARS) -> list[tuple[int, float]]:
    if isinstance(probs, torch.Tensor):
        v, i = torch.topk(probs, min(n, probs.shape[-1]))
        return [(int(t), float(x)) for t, x in zip(i, v) if x > 0]
    return heapq.nlargest(n, probs.items(), key=lambda kv: kv[1])  # the whole vocabulary may survive


def raw_final(engine, a: At) -> str:
    if a.trace is None:  # the recorded candidates: the model's top ones and what the chain gave them
        cands = a.step.candidates
        return pair(ranked({c.id: c.prob_raw for c in cands}), ranked({c.id: c.prob_final for c in cands if c.prob_final > 0}),
                    (tr("Before any sampler (the model)"), tr("After the chain (recorded candidates)")), engine, a.chosen)
    raw, final = a.trace.probs(-1)[0], a.trace.picked_probs[0]
    kept = int(torch.isfinite(a.trace.picked).sum())
    return pair(ranked(raw), ranked(final), (tr("Before any sampler (the model)"), tr("After the chain ({n} tokens left)", n=kept)),
                engine, a.chosen)


def orders(engine, a: At) -> str | None:
    if a.trace is None:
        return None
    sets = inspector.compare_orders(engine, a.ids, a.prompt_len, a.params, a.logits)  # greedy: the argmax in each
    names = list(sets)  # the reply's own order first when it is a custom one, then the named ones
    titles = []
    for n in names:
        this = "*" if n == a.params.sampler_order else ""
        titles.append(say(f"{stages.order_title(n)}{this}: {len(sets[n])} survive{'s' if len(sets[n]) == 1 else ''}"))
    return charts([ranked(sets[n]) for n in names], tuple(titles), engine, a.chosen)  # one chart per order


def candidates(engine, a: At) -> tuple[pd.DataFrame, dict]:
    if a.trace is None:
        data = view.from_step(a.step, N_CANDIDATES)
    else:
        data = view.from_trace(a.trace, a.params, engine.label, N_CANDIDATES)
    rows, choices = [], []
    for b in data.bars:
        fate = say(view.fate_label(b.fate)) + (tr(" · chosen") if b.id == a.chosen else "")
        rows.append([b.label, b.id, round(b.raw, 4), round(b.final, 4), fate])
        choices.append((f"{b.label}  (id {b.id}, p {b.final:.3f})", f"{a.k}:{b.id}"))  # "step:id": a late repeat is seen
    return pd.DataFrame(rows, columns=CAND_HEADERS), gr.update(choices=choices, value=None)


# --- the whole view ----------------------------------------------------------------------------------
def show(engine, reply: Reply | None, k: int | None, top_n=30, scale="linear") -> tuple:
    """The values for `VIEW` at step k of the shown branch; an empty view (and a reason) otherwise."""
    if reply is None or k is None:
        return empty(tr(NOTHING) if reply is not None else tr("This reply has no token steps to inspect (none yet, or beam search)."))
    try:
        a = at(reply, int(k))
    except LookupError as e:
        return empty(shown(str(e)))
    table, choose = candidates(engine, a)
    chain = gr.update(value=chain_rows(engine, a), label=tr("Sampler chain at step {k}, stage by stage ({settings})", k=number(a.k),
                                                            settings=settings(a.params)))
    return (info(engine, reply, a), step_figure(engine, a, top_n, scale == "log"), chain, raw_final(engine, a),
            orders(engine, a), gr.update(value=table, label=tr("Candidates at step {k}: click a row to force it", k=number(a.k))),
            choose)


def empty(message: str) -> tuple:
    return (message, None, gr.update(value=pd.DataFrame([], columns=CHAIN_HEADERS), label=tr("Sampler chain")), None, None,
            gr.update(value=pd.DataFrame([], columns=CAND_HEADERS), label=tr("Candidates")), gr.update(choices=[], value=None))
