"""One step of the last reply taken apart, from logits the decode already computed (no forward pass).

`show(engine, reply, k, top_n, scale)` returns the values of the inspector's step outputs (`VIEW`):
a line about the step, the live-style plot (`plot.figure`), the chain table (per stage, in order, tokens
considered/kept/removed, mass removed, top before and after), the model's distribution beside the one
sampled from, the surviving set under each sampler order, and the candidates (a table and a dropdown,
both to force one; the dropdown's values are "k:id", so a pick that arrives twice forces once). The
step is taken apart in the core (`step_analysis.analyse`, on the Decoder that chose it: kept logits with
the parameters it was chosen with, its record, or an open reply's next step); this module only formats
that plain data. Tables leave as {"headers", "data"} dicts, which a `gr.Dataframe` takes as its value.
"""

from __future__ import annotations

import gradio as gr

from ..params import GenerationParams
from ..plotdata import fate_label
from ..stages import order_title
from ..step_analysis import CHAIN_HEADERS, N_BARS, StepAnalysis, analyse, chain_rows  # noqa: F401  (N_BARS: re-exported)
from ..text import readable
from . import plot
from .figure_view import TEMPLATE, encode
from .i18n import say, tr
from .messages import shown
from .reply import Reply
from .tokens_html import number

VIEW = ("info", "plot", "chain", "raw_final", "orders", "candidates", "force_token")
CAND_HEADERS = ["token", "id", "model p", "final p", "fate"]
ID_COL = CAND_HEADERS.index("id")
NOTHING = "Click a token of the reply above (or Step) to see how it was chosen."
RECORD_ONLY = ("Shown from the record made while generating (the candidates and the chain, exact). A reply keeps the "
               "full logits of its latest steps only (memory), so the order comparison is not drawn for this step.")


def at(reply: Reply, k: int, top_n=30) -> StepAnalysis:
    """Step k of the shown branch, taken apart by the Decoder that chose it; LookupError when it has no logits (yet)."""
    dec = reply.dec
    if 0 <= k <= len(dec.steps):
        try:
            return analyse(reply.owner(k), k, int(top_n or 30), f"Step {number(k)}" + (" (next token)" if k == len(dec.steps) else ""))
        except LookupError:
            pass
    raise LookupError(f"step {number(k)} is not part of this reply (it has {len(dec.steps)} tokens"
                      f"{'' if dec.done else ', and the next one is computed by Step'}).")


# --- the parts -------------------------------------------------------------------------------------
def table(rows: list[list], headers: list[str]) -> dict:
    """A `gr.Dataframe` value, its headers in the visitor's language."""
    return {"headers": [tr(h) for h in headers], "data": rows}


def said_stages(rows: list[list]) -> list[list]:
    """Chain table rows (`CHAIN_HEADERS`) with each stage's name in the visitor's language."""
    return [[r[0], say(r[1]), *r[2:]] for r in rows]


def chain_frame(stages: list) -> dict:
    """The chain table (`CHAIN_HEADERS`) of chain rows (`inspector.chain_table`'s rows, or their dicts)."""
    return table(said_stages(chain_rows(stages)), CHAIN_HEADERS)


def settings(params: GenerationParams) -> str:
    """The parameters a step was chosen with, as the ones that differ from the defaults."""
    return ", ".join(f"{n} = {v!r}" for n, v in params.changed().items()) or tr("all defaults")


def info(reply: Reply, a: StepAnalysis) -> str:
    about = tr("mode {mode}; parameters: {settings}; branch {branch}", mode=a.params.mode, settings=shown(settings(a.params)),
               branch=shown(reply.labels[reply.current]))
    if a.step is None:
        return tr("**Step {k}: the next token**, not chosen yet. Click a candidate row (or pick one in *Force token*) "
                  "to take it, or Step to sample one. <br>{about}", k=number(a.k), about=about)
    s = a.step
    how = tr("forced by you") if s.forced else tr("chosen with p = {p}", p=f"{s.prob:.4g}")
    record = "" if a.exact else f"<br>{tr(RECORD_ONLY)}"
    return tr("**Step {k}**: “{token}” (id {id}), {how}; the model alone gave it p = {p} (rank {rank}). <br>{about}{record}",
              k=number(a.k), token=shown(readable(s.token)), id=s.token_id, how=how, p=f"{s.prob_raw:.4g}", rank=s.rank,
              about=about, record=record)


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


def raw_final(engine, a: StepAnalysis) -> str:
    after = tr("After the chain ({n} tokens left)", n=a.final.total) if a.exact else tr("After the chain (recorded candidates)")
    return charts([a.raw, a.final.top], (tr("Before any sampler (the model)"), after), engine, a.chosen)


def orders(engine, a: StepAnalysis) -> str | None:
    if a.orders is None:
        return None
    titles = []  # the reply's own order first when it is a custom one, then the named ones
    for n, s in a.orders.items():
        this = "*" if n == a.params.sampler_order else ""
        titles.append(say(f"{order_title(n)}{this}: {s.total} survive{'s' if s.total == 1 else ''}"))
    return charts([s.top for s in a.orders.values()], tuple(titles), engine, a.chosen)  # one chart per order


def candidates(a: StepAnalysis) -> tuple[dict, dict]:
    rows, choices = [], []
    for b in a.candidates.bars:
        fate = say(fate_label(b.fate)) + (tr(" · chosen") if b.id == a.chosen else "")
        rows.append([b.label, b.id, round(b.raw, 4), round(b.final, 4), fate])
        choices.append((f"{b.label}  (id {b.id}, p {b.final:.3f})", f"{a.k}:{b.id}"))  # "step:id": a late repeat is seen
    return table(rows, CAND_HEADERS), gr.update(choices=choices, value=None)


# --- the whole view ----------------------------------------------------------------------------------
def show(engine, reply: Reply | None, k: int | None, top_n=30, scale="linear") -> tuple:
    """The values for `VIEW` at step k of the shown branch; an empty view (and a reason) otherwise."""
    if reply is None or k is None:
        return empty(tr(NOTHING) if reply is not None else tr("This reply has no token steps to inspect (none yet, or beam search)."))
    try:
        a = at(reply, int(k), top_n)
    except LookupError as e:
        return empty(shown(str(e)))
    cands, choose = candidates(a)
    chain = gr.update(value=table(said_stages(a.chain), CHAIN_HEADERS),
                      label=tr("Sampler chain at step {k}, stage by stage ({settings})", k=number(a.k), settings=settings(a.params)))
    return (info(reply, a), encode(plot.figure(a.plot, scale == "log")), chain, raw_final(engine, a), orders(engine, a),
            gr.update(value=cands, label=tr("Candidates at step {k}: click a row to force it", k=number(a.k))), choose)


def empty(message: str) -> tuple:
    return (message, None, gr.update(value=table([], CHAIN_HEADERS), label=tr("Sampler chain")), None, None,
            gr.update(value=table([], CAND_HEADERS), label=tr("Candidates")), gr.update(choices=[], value=None))
