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
from . import chat, plot, tokens_html
from .controls import to_params
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


def _answer(backend, convo: list[dict], before: list[dict], box, box_on_error, system, run, top_n, scale, values,
            limits: Limits | None, problem: str | None = None) -> Iterator[tuple]:
    """`_reply` once the input passes: the controls' values as parameters this server takes under the instance's
    caps; otherwise one update that says why and keeps everything."""
    try:
        if problem:
            raise ParamError([problem])
        params = to_params(values)
        problems = backend.refusals(params)
        if too_long := (limits or Limits()).refusal(params.max_new_tokens):
            problems.append(too_long)
        if problems:
            raise ParamError(problems)
    except ParamError as e:
        yield refused(" ".join(e.messages))
        return
    yield from _reply(backend, convo, before, box, box_on_error, system, params, run, top_n, scale, (limits or Limits()).public)


@checked(refused)
def send(backend, message: str | None, history: list | None, system: str | None, run: dict | None, top_n, scale,
         *values, limits: Limits | None = None) -> Iterator[tuple]:
    """Add the user's message and stream the server's reply (see the module's docstring for what is yielded)."""
    history = chat.normalize(history)
    empty = None if (message or "").strip() else "`message` must not be empty, but is ''. Type a message first."
    convo = history + [{"role": "user", "content": chat.shown(message or "")}]
    yield from _answer(backend, convo, history, "", message, system, run, top_n, scale, values, limits, empty)


@checked(refused)
def regenerate(backend, history: list | None, system: str | None, run: dict | None, top_n, scale, *values,
               limits: Limits | None = None) -> Iterator[tuple]:
    """Answer the last user turn again (the replies after it are dropped)."""
    history = chat.normalize(history)
    at = chat.last_user_index(history)
    none = "Nothing to regenerate: the conversation has no user message yet." if at < 0 else None
    yield from _answer(backend, history[: at + 1], history, gr.skip(), gr.skip(), system, run, top_n, scale, values, limits,
                       none)


def _reply(backend, convo: list[dict], before: list[dict], box, box_on_error, system: str | None, params: GenerationParams,
           run: dict | None, top_n, scale, public: bool = False) -> Iterator[tuple]:
    """Stream the answer to `convo`; on an error yield `before` again with the message kept and one status line (in
    `public` mode without the server's address)."""
    def failed(message: str) -> tuple:
        line = chat.problem(unnamed(message, backend.base_url) if public else message)
        if not steps:  # nothing of this reply shown yet: the last reply's tokens and plot stay
            return before, box_on_error, line, *SKIP[3:]
        return before, box_on_error, line, [], *step_view(backend, [], None)  # the failed reply's tokens go with it

    cancel = threading.Event()
    run = run if run is not None else {}
    run["cancel"], idle = cancel, chat.writing(run)  # Stop sets it; Undo and Clear wait for `idle`
    steps: list[Step] = []
    try:
        yield convo, box, tr("Asking the server…"), steps, tokens_html.render([], pending=True), *SKIP[5:7], None  # no step shown
        done = None
        for item in backend.stream(chat.model_messages(convo), params, system=(system or "").strip() or None,
                                   top_n=MAX_TOP, cancel=cancel):
            if chat.halted(run, cancel):  # Undo or Clear: the conversation is theirs now
                return
            if not run.get("alive", lambda: True)():
                cancel.set()  # a closed tab or a dropped connection: the stream ends at the server's next token
            if isinstance(item, Done):
                done = item
            elif not cancel.is_set():
                steps.append(item)
                yield (convo + [{"role": "assistant", "content": chat.shown(item.text)}], box,
                       tr("Generating… {n} tokens", n=len(steps)), steps, tokens_html.render(steps, pending=True), *SKIP[5:])
        if done is None or chat.halted(run, cancel):
            return
        steps = list(done.steps)  # every token of `done.text`, also those that arrived after Stop
        shown = step_view(backend, steps, 0 if steps else None, min(top_n or MAX_TOP, MAX_TOP), scale)
        yield (convo + [{"role": "assistant", "content": chat.shown(done.text)}], box, chat.done_status(done, params), steps,
               *shown)
    except ParamError as e:
        yield failed(" ".join(e.messages))
    except BackendError as e:  # one line from the server's error (remote.py masks the key in it)
        yield failed(f"{e} The conversation and the settings are unchanged.")
    except Exception as e:  # noqa: BLE001 - anything else: one line, nothing lost
        yield failed(backend.masked(f"The reply failed: {type(e).__name__}: {e}. The conversation is unchanged."))
    finally:
        cancel.set()
        idle.set()
