"""The next-token plot: a Plotly figure from `plotdata.PlotData`, and the handlers that feed it.

`refresh` runs the model once for a new context (`Engine.next_logits`, in the model's concurrency
group) and stores the context's token ids in the `ctx` state; `preview` does the same for the
conversation plus the unsent message (the page's landing example, an example button), and keeps an
example's logits once per engine (`PINNED`, examples.py). `live` (and `moved`, `released`,
`resync` and `redraw`, which feed it from the session's settings mirror) never run the model: they
re-trace the cached logits (`step_analysis.live`) under the current controls, so they are safe as
`queue=False` handlers beside a generation. Figures leave as JSON strings (`figure_view.encode`).
Bad parameters keep the last figure (`gr.skip()`) and return the message for the plot's note.
"""

from __future__ import annotations

from functools import partial

import gradio as gr

from .. import plotdata, step_analysis
from ..engine import Engine, PromptTooLong
from ..inputs import checked
from ..params import ParamError
from ..stages import STAGES
from .controls import mirror, released_value, remember, to_params, values_of
from .examples import about as example_about
from .figure_view import TEMPLATE, encode
from .i18n import say, tr
from .messages import model_messages, plot_messages, problem, shown

COLORS = {plotdata.KEPT: "#2f9e44", **{n: s.color for n, s in STAGES.items()}}  # a fate's colour: kept, or who removed it
EMPTY = "Send a message (or write a system prompt): the plot then shows the first token of the assistant's reply."
WAITING = "The distribution for this conversation is being computed; the plot follows when the model is free."
PINNED = step_analysis.PINNED  # engine -> {an example's context: its logits}, kept once per engine (examples.py)
CUMULATIVE = "#a0522d"  # the cumulative curve and its axis: a colour no stage uses (sienna)


def figure(data: plotdata.PlotData, log: bool = False) -> dict:
    """Bars coloured by fate (one legend entry per stage), final probabilities, cumulative curve, cut-offs.

    A plain dict (handlers send `encode(figure(...))` to a `FigureView`): plotly's figure objects
    validate every property, which cost ~15 ms per figure, 90% of a slider move on the server
    (bench/ui_latency.py); the keys here are fixed.
    """
    bars = data.bars
    x = list(range(len(bars)))
    traces = []
    bar, scatter = partial(dict, type="bar"), partial(dict, type="scatter")
    hover = ("%{customdata[0]}<br>id %{customdata[1]}<br>" + say(data.bar_name) + " %{y:.4g}<br>" + tr("model")
             + " %{customdata[2]:.4g}<br>" + tr("final") + " %{customdata[3]:.4g}<br>%{customdata[4]}<extra></extra>")
    for fate in data.fates:
        idx = [i for i, b in enumerate(bars) if b.fate == fate]
        traces.append(bar(x=idx, y=[bars[i].prob for i in idx], name=say(plotdata.fate_label(fate)),
                          legendgroup=fate,  # the fate, in any language
                          marker=dict(color=COLORS.get(fate, "#343a40")), hovertemplate=hover,
                          customdata=[[shown(bars[i].label), bars[i].id, bars[i].raw, bars[i].final,
                                       say(plotdata.fate_label(fate))] for i in idx]))
    live = [i for i, b in enumerate(bars) if b.final > 0]
    traces.append(scatter(x=live, y=[bars[i].final for i in live], mode="markers", name=tr("final probability (renormalised)"),
                          marker=dict(symbol="diamond", size=8, color="#212529"),
                          hovertemplate=tr("final") + " %{y:.4g}<extra></extra>"))
    if data.show_raw:
        traces.append(scatter(x=x, y=[b.raw for b in bars], mode="markers", name=tr("model probability (before penalties)"),
                              marker=dict(symbol="line-ew-open", size=14, color="#495057"),
                              hovertemplate=tr("model") + " %{y:.4g}<extra></extra>"))
    chosen = [i for i, b in enumerate(bars) if b.chosen]
    if chosen:
        traces.append(scatter(x=chosen, y=[bars[i].prob for i in chosen], mode="markers+text", name=tr("chosen token"),
                              text=[tr("chosen")] * len(chosen), cliponaxis=False,  # at an edge bar, the label turns inward
                              textposition=["top right" if i == 0 else "top left" if i == len(bars) - 1 else "top center"
                                            for i in chosen],
                              marker=dict(symbol="star", size=16, color="#fab005", line=dict(color="#212529", width=1))))
    traces.append(scatter(x=x, y=data.cumulative, mode="lines", name=say(data.cumulative_name), yaxis="y2",
                          line=dict(color=CUMULATIVE, width=1.5),
                          hovertemplate=tr("cumulative") + " %{y:.4f}<extra></extra>"))
    ends = [-0.5, len(bars) - 0.5]
    if data.top_p is not None:
        traces.append(scatter(x=ends, y=[data.top_p] * 2, mode="lines", name=tr("top_p = {p} (cumulative axis)", p=f"{data.top_p:g}"),
                              yaxis="y2", line=dict(color="#1971c2", dash="dash"), hoverinfo="skip"))
    if data.min_p_cut is not None:
        traces.append(scatter(x=ends, y=[data.min_p_cut] * 2, mode="lines",
                              name=tr("min-p cut-off: {p} × top probability", p=f"{data.min_p:g}"),
                              line=dict(color="#9c36b5", dash="dot"),
                              hovertemplate=f"{tr('min-p cut-off')} {data.min_p_cut:.4g}<extra></extra>"))
    layout = dict(
        # Margins wide enough for the axis titles and tick labels: when they push a margin, Plotly draws
        # everything twice per update (half of a redraw in chromium; gradio forces margin.autoexpand).
        barmode="overlay", height=440, margin=dict(l=70, r=60, t=40, b=100),
        title=dict(text=shown(say(data.title)), x=0.99, xanchor="right", y=0.985, yanchor="top"),  # clear of the label
        # The legend is drawn by the page (FigureView), not by Plotly: a quarter of each redraw.
        showlegend=False, meta=dict(legend="html"),
        # ticklabeloverflow "allow": no bounding box per label per draw (~15% of a redraw in chromium).
        xaxis=dict(tickmode="array", tickvals=x, ticktext=[shown(b.label) for b in bars], tickangle=-60,
                   range=[-0.6, max(len(bars), 1) - 0.4], ticklabeloverflow="allow"),
        yaxis=dict(title=dict(text=say(data.bar_name) + (tr(" (log)") if log else "")), type="log" if log else "linear",
                   rangemode="tozero"),
        # Its own colour (not top-p's blue) and round ticks, linear also when the bars' axis is log.
        yaxis2=dict(title=dict(text=tr("cumulative"), font=dict(color=CUMULATIVE)), overlaying="y", side="right", range=[0, 1.02],
                    showgrid=False, tickmode="array", tickvals=[0, 0.25, 0.5, 0.75, 1], ticktext=["0", "0.25", "0.5", "0.75", "1"],
                    tickfont=dict(color=CUMULATIVE), type="linear"),
    )
    return dict(data=traces, layout=dict(layout, template=TEMPLATE))


def note(data: plotdata.PlotData, about: str = "") -> str:
    if data.mode == "step":
        return " ".join(shown(say(n)) for n in data.notes)
    kept = tr("**{kept}** of {vocab} tokens survive the chain", kept=data.kept, vocab=data.vocab) if data.vocab else ""
    parts = [p for p in (kept, tr("top {n} shown", n=len(data.bars)), shown(about)) if p]
    return " · ".join(parts) + ("".join(f"<br>{shown(say(n))}" for n in data.notes))


# --- handlers --------------------------------------------------------------------------------------
def context(engine: Engine, history: list | None, system: str | None, message: str | None = None) -> dict | None:
    """The plot's context (see `chat.plot_messages`), its token ids and a line that describes it; with an
    unsent `message`, the whole conversation and that message (the first token of its reply).

    None for an empty chat without a system prompt: a chat template needs at least one message.
    With only a system prompt, the context is the assistant speaking first. `pin`: an example with an
    empty chat and no system prompt, whose logits are kept (`PINNED`).
    """
    pending, system = (message or "").strip(), (system or "").strip() or None
    msgs = model_messages(history) + [{"role": "user", "content": pending}] if pending else plot_messages(history)
    if not msgs and not system:
        return None
    ids = engine.prompt_ids(msgs, system)
    last = next((m["content"] for m in reversed(msgs) if m["role"] == "user"), None)
    about = (tr("first token of the reply to “{text}”", text=f"{last[:60]}{'…' if len(last) > 60 else ''}") if last
             else tr("first token of the assistant speaking first, after the system prompt"))
    example = example_about(pending) if len(msgs) == 1 and not system else ""
    about += tr(f" ({{n}} prompt tokens{', not sent yet' if pending else ''})", n=len(ids)) + (f" · {say(example)}" if example else "")
    return {"ids": ids, "about": about, **({"pin": True} if example else {})}


def logits_of(engine: Engine, ctx: dict):
    """The context's logits if already computed (the engine's cache, or an example's pinned ones); never runs the model."""
    return step_analysis.cached(engine, ctx["ids"])


def compute(engine: Engine, ctx: dict) -> None:
    """One forward pass for the context unless its logits are known; an example's are pinned for the engine."""
    step_analysis.compute(engine, ctx["ids"], pin=bool(ctx.get("pin")))


def live_data(engine: Engine, ctx: dict | None, top_n: int, values) -> plotdata.PlotData:
    """The live view under `values`; raises ParamError, or LookupError when the logits are not cached."""
    params = to_params(values)
    if not ctx or logits_of(engine, ctx) is None:
        raise LookupError(WAITING)
    return step_analysis.live(engine, ctx["ids"], params, top_n)


def _not_drawn(message: str) -> tuple:
    return gr.skip(), problem("Plot not updated: " + message)


@checked(_not_drawn)
def live(engine: Engine, ctx: dict | None, top_n, scale, *values) -> tuple:
    """A control moved: (figure or skip, note). Never runs the model."""
    try:
        data = live_data(engine, ctx, top_n, values)
    except ParamError as e:
        return _not_drawn(" ".join(e.messages))
    except LookupError as e:
        return gr.skip(), shown(say(str(e)) if ctx else tr(EMPTY))
    return encode(figure(data, scale == "log")), note(data, ctx.get("about", ""))


def moved(engine: Engine, name: str, ctx: dict | None, top_n, scale, settings: dict, value) -> tuple:
    """Control `name` moved to `value`: remember it in the session's settings mirror, then `live`."""
    return live(engine, ctx, top_n, scale, *remember(settings, name, value))


def released(engine: Engine, name: str, ctx: dict | None, top_n, scale, settings: dict, value) -> tuple:
    """A slider let go: a drag ended, its ↺ button reset it, or its number box lost focus, where gradio
    puts a typed value back into the slider's range without an `input` event. The mirror takes the
    slider's value; the plot follows when that differs from what it last drew (no redraw otherwise), and
    a value the slider had to correct is named in the note."""
    before, value = settings.get(name), released_value(name, value)
    if before == value:
        return gr.skip(), gr.skip()
    try:
        to_params(values_of(settings))
        bad = []
    except ParamError as e:
        bad = [m for m in e.messages if f"`{name}`" in m]
    fig, msg = moved(engine, name, ctx, top_n, scale, settings, value)
    if bad and not isinstance(fig, dict):  # drawn: say what the slider did to the value typed
        now = f"{value:g}" if isinstance(value, (int, float)) else repr(value)
        put = tr(" The slider put `{name}` back to {now}; the plot shows that.", name=name, now=now)
        msg = problem(say(" ".join(bad)) + put) + "<br>" + msg
    return fig, msg


def resync(engine: Engine, ctx: dict | None, top_n, scale, settings: dict, *values) -> tuple:
    """Every control was set (a preset, Reset, an API call): the mirror takes all values, then `live`."""
    settings.update(mirror(values))
    return live(engine, ctx, top_n, scale, *values)


def redraw(engine: Engine, ctx: dict | None, top_n, scale, settings: dict) -> tuple:
    """Top N or the scale changed: the live view under the session's settings mirror. (figure, note).
    (A past step of a reply is looked at in one place: a click on its token opens it in the inspector.)"""
    return live(engine, ctx, top_n, scale, *values_of(settings))


@checked(lambda message: (gr.skip(), *_not_drawn(message)))
def refresh(engine: Engine, history: list | None, system: str | None, top_n, scale, *values) -> tuple:
    """The context changed: one forward pass (cached), then the live view. (ctx, figure, note)."""
    return _redrawn(engine, history, system, None, top_n, scale, values)


@checked(lambda message: (gr.skip(), *_not_drawn(message)))
def preview(engine: Engine, message: str | None, history: list | None, system: str | None, top_n, scale,
            *values) -> tuple:
    """`refresh` for the conversation plus the unsent `message` (the landing example, an example button)."""
    return _redrawn(engine, history, system, message, top_n, scale, values)


def _redrawn(engine: Engine, history, system, message, top_n, scale, values) -> tuple:
    try:
        ctx = context(engine, history, system, message)
        if ctx is None:
            return None, None, tr(EMPTY)
        compute(engine, ctx)
    except PromptTooLong as e:
        return gr.skip(), gr.skip(), problem(str(e))
    except Exception as e:
        return gr.skip(), gr.skip(), problem(f"The model failed on this context: {type(e).__name__}: {e}")
    return (ctx, *live(engine, ctx, top_n, scale, *values))
