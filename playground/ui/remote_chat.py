"""The chat on a remote backend (`remote.OpenAIBackend`): send, regenerate and a step's plot, as functions of values.

A reply streams from the server through `Backend.stream`. Each token's `Step` carries the server's top 20
(its `top_logprobs`): the chosen token's probability and rank colour the reply's tokens (`tokens_html`), and
`step_data` draws one step as bars of the server's probabilities, labelled as what they are
(`OpenAIBackend.plot_label`: before or after its samplers, or not said). Nothing here has the model's full
logits, so nothing is re-traced: the plot shows what the server sent, for the step the visitor picks (a
click on a token; the first token once a reply ends). Settings the server cannot take, the instance's caps
and the server's errors reach the status line as one line; the conversation, the message and the settings
are kept. The handlers yield or return (history, message box, status, steps, reply tokens, figure, note, the shown
step); `inspect` and `redraw` return the last four.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator
from urllib.parse import urlparse

import gradio as gr

from .. import plotdata
from ..backends import AFTER, BackendError
from ..inputs import checked
from ..limits import Limits
from ..params import GenerationParams, ParamError
from ..records import Done, Step
from ..remote import MAX_TOP
from ..text import readable
from . import chat, driver, plot, tokens_html
from .figure_view import encode
from .i18n import say, tr

EMPTY = ("Send a message: the plot then shows each token of the reply as the server reported it ({label}). "
         "Click a token of the reply to see its step.")
TOKENS_NOTE = "On a remote server: the probability and rank are the server's, among its top 20."
NOTE = ("Generated token {n}: {token} (p = {p}, {where}). The server sends its top tokens only, not the whole distribution: "
        "the chain view and the live redraw under the current controls need the full logits, so they are not drawn on a "
        "remote backend.")
SKIP = (gr.skip(),) * 8


def empty_note(backend) -> str:
    """The plot's note before a reply, in English (a translation key at build time; `say` in a handler)."""
    return chat.shown(EMPTY.format(label=backend.plot_label))


def unnamed(text, base_url: str):
    """`text` with the server's address said as "the server" (public mode: a visitor is not told where it is)."""
    if not isinstance(text, str):
        return text
    name = urlparse(base_url).hostname or base_url
    host = rf"\[?{re.escape(name)}\]?"  # an IPv6 literal is written in brackets; `hostname` drops them
    address = rf"(?:\w+://)?(?:[^\s/@]*@)?{host}(?::\d+)?(?:/[^\s,;)'\"]*?)?(?=[.:]?(?:[\s,;)'\"]|$))"
    text = re.sub(rf"\b([Tt])he server at {address}", r"\1he server", text, flags=re.I)
    return re.sub(address, "the server", text, flags=re.I)


# --- a step's plot -----------------------------------------------------------------------------------
def step_data(backend, step: Step, top_n: int = MAX_TOP) -> plotdata.PlotData:
    """One reply token from its `Step`: the server's top tokens as bars (their probabilities as the server sent
    them), the chosen one marked, and added after them when it is not among them (rank 0)."""
    cands = list(step.candidates)[: max(1, int(top_n))]
    bars, running, cumulative = [], 0.0, []
    for i, c in enumerate(cands, 1):
        p = c.prob_final if math.isnan(c.prob_raw) else c.prob_raw
        fate = plotdata.KEPT if c.kept else (c.removed_by or "removed")
        bars.append(plotdata.Bar(c.id, c.token, readable(c.token), p, c.prob_raw, c.prob_final, fate, i == step.rank))
    if not 1 <= step.rank <= len(cands):
        bars.append(plotdata.Bar(-1, step.token, readable(step.token), step.prob, step.prob_raw, math.nan, plotdata.KEPT, True))
    for b in bars:
        running += b.prob
        cumulative.append(min(running, 1.0))
    label = say(backend.plot_label.split(" (")[0])  # the title is short: the page says the rest above the plot
    where = tr("rank {rank} of {label}", rank=step.rank, label=label) if step.rank else tr("not among {label}", label=label)
    notes = [tr(NOTE, n=step.step + 1, token=repr(readable(step.token)), p=f"{step.prob:.3g}", where=where)]
    return plotdata.PlotData(bars, cumulative, "cumulative probability (of the top tokens shown)", "server probability",
                         kept=sum(b.fate == plotdata.KEPT for b in bars), mode="step",
                         title=tr("Step {k}: {label}", k=step.step + 1, label=label), notes=notes)


def step_view(backend, steps: list[Step] | None, k: int | None, top_n=MAX_TOP, scale="linear") -> tuple:
    """(reply tokens, figure, note, k) with step k selected; the empty plot when there is none."""
    steps = steps or []
    if k is None or not 0 <= k < len(steps):
        note = say(empty_note(backend)) if not steps else chat.problem(f"`inspect step` must be a token of the reply "
                                                                  f"(1 to {len(steps)}), but is {(k or 0) + 1}.")
        return tokens_html.render(steps, note=tr(TOKENS_NOTE) if steps else ""), None if not steps else gr.skip(), note, None
    data = step_data(backend, steps[k], top_n)
    fig = plot.figure(data, scale == "log")
    fig["data"] = [t for t in fig["data"] if len(t["x"])]  # no legend entry for what the server did not send
    if backend.probs != AFTER:  # before its samplers (or not said): nothing here was kept or removed
        for t in fig["data"]:
            if t["type"] == "bar" and t.get("legendgroup") == plotdata.KEPT:  # the fate (its name is in the visitor's language)
                t["name"] = tr("the server's probability")
                t["customdata"] = [[*row[:4], t["name"]] for row in t["customdata"]]
    return tokens_html.render(steps, selected=k, note=tr(TOKENS_NOTE)), encode(fig), plot.note(data), k


def _fail(message: str) -> tuple:
    return gr.skip(), gr.skip(), chat.problem(message), gr.skip()


@checked(_fail)
def inspect(backend, k, steps: list[Step] | None, top_n=MAX_TOP, scale="linear") -> tuple:
    """A token was clicked (`k`: its step, from `on_token`; "k" and "k@clicks" are read too): its step in the plot."""
    return step_view(backend, steps, k, min(top_n, MAX_TOP), scale)


def on_token(backend):
    """The reply panel's `inspect_token` handler: its `js_on_load` fires it with the clicked span's {step: k}."""

    def clicked(steps: list[Step] | None, top_n, scale, evt: gr.EventData) -> tuple:
        return inspect(backend, (evt._data or {}).get("step", ""), steps, top_n, scale)

    return clicked


@checked(_fail)
def redraw(backend, shown: int | None, steps: list[Step] | None, top_n=MAX_TOP, scale="linear") -> tuple:
    """Top N or the scale changed: the shown step again."""
    return step_view(backend, steps, shown if steps else None, min(top_n, MAX_TOP), scale)


# --- replies -----------------------------------------------------------------------------------------
def refused(message: str) -> tuple:
    """A bad input: everything kept as the page has it, and why."""
    return gr.skip(), gr.skip(), chat.problem(message), *SKIP[3:]


@checked(refused)
def send(backend, message: str | None, history: list | None, system: str | None, run: dict | None, top_n, scale,
         *values, limits: Limits | None = None) -> Iterator[tuple]:
    """Add the user's message and stream the server's reply (see the module's docstring for what is yielded)."""
    yield from driver.answer(driver.sending(message, history, system), values, run, Remote(backend, top_n, scale, limits))


@checked(refused)
def regenerate(backend, history: list | None, system: str | None, run: dict | None, top_n, scale, *values,
               limits: Limits | None = None) -> Iterator[tuple]:
    """Answer the last user turn again (the replies after it are dropped)."""
    yield from driver.answer(driver.regenerating(history, system), values, run, Remote(backend, top_n, scale, limits))


class Remote(driver.Source):
    """A reply streamed from the server (driver.py runs it): settings it cannot take and the instance's caps are
    refused; an error keeps the message and says one line (in public mode without the server's address)."""

    kept = SKIP[3:]

    def __init__(self, backend, top_n, scale, limits: Limits | None):
        self.backend, self.top_n, self.scale, self.limits = backend, top_n, scale, limits or Limits()
        self.steps: list[Step] = []
        self.done: Done | None = None

    def refused(self, turn: driver.Turn, message: str) -> tuple:
        return refused(message)

    def refusal(self, params: GenerationParams, turn: driver.Turn) -> str | None:
        problems = self.backend.refusals(params)
        if too_long := self.limits.refusal(params.max_new_tokens):
            problems.append(too_long)
        return " ".join(problems) or None

    def start(self, turn: driver.Turn, params: GenerationParams, cancel: threading.Event, run: dict) -> Iterator[tuple]:
        self.convo, self.box = turn.convo, turn.box
        yield turn.convo, turn.box, tr("Asking the server…"), self.steps, tokens_html.render([], pending=True), \
            *SKIP[5:7], None  # no step shown
        return self.backend.stream(chat.model_messages(turn.convo), params, system=(turn.system or "").strip() or None,
                                   top_n=MAX_TOP, cancel=cancel)

    def update(self, item, cancelled: bool) -> tuple | None:
        if isinstance(item, Done):
            self.done = item
            return None
        if cancelled:
            return None
        self.steps.append(item)
        self.shown = True
        return (self.convo + [{"role": "assistant", "content": chat.shown(item.text)}], self.box,
                tr("Generating… {n} tokens", n=len(self.steps)), self.steps, tokens_html.render(self.steps, pending=True),
                *SKIP[5:])

    def end(self, params: GenerationParams) -> tuple | None:
        if self.done is None:
            return None
        steps = list(self.done.steps)  # every token of `done.text`, also those that arrived after Stop
        shown = step_view(self.backend, steps, 0 if steps else None, min(self.top_n or MAX_TOP, MAX_TOP), self.scale)
        return (self.convo + [{"role": "assistant", "content": chat.shown(self.done.text)}], self.box,
                chat.done_status(self.done, params), steps, *shown)

    def failure(self, error: Exception) -> str:
        if isinstance(error, ParamError):
            line = " ".join(error.messages)
        elif isinstance(error, BackendError):  # one line from the server's error (remote.py masks the key in it)
            line = f"{error} The conversation and the settings are unchanged."
        else:  # anything else: one line, nothing lost
            line = self.backend.masked(f"The reply failed: {type(error).__name__}: {error}. The conversation is unchanged.")
        return unnamed(line, self.backend.base_url) if self.limits.public else line

    def dropped(self) -> tuple:
        return [], *step_view(self.backend, [], None)  # the failed reply's tokens go with it
