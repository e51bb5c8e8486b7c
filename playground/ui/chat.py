"""Chat handlers: send, regenerate, undo, clear, stop, as plain functions of values.

The chat history is the Chatbot's value: role/content dicts whose content is HTML-escaped, so the
page always shows model output as text (`<script>` arrives as `&lt;script&gt;`), and the Chatbot
does not render Markdown (messages.py: `shown`, `model_messages`, and the status line's `problem`).

Every handler returns the history unchanged, the message kept and a status line naming the field,
the rule and the value when its input is bad or the model fails. `send` and `regenerate` are
generators over a `Decoder` (one token per yield, in the caller's thread), run by driver.py's flow
(shared with remote_chat.py) with this engine's part in `Local`; `run["cancel"]` is the
`threading.Event` of the reply in flight: set by Stop, and set when gradio closes the generator.

The last reply is kept as a `Reply` (reply.py, session state): its Decoder(s), made with `report=True` (every
step records its candidates and its chain table) and the full logits of the latest `KEPT_LOGITS`
steps, so the token inspector (`inspector.py`) can take any step apart, force tokens and branch. Only
the current reply is kept, and an ended reply keeps no KV cache: memory stays bounded per session.
Streamed replies are decoded by the engine's `Scheduler`, batched with every other visitor's.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator

import gradio as gr

from ..engine import Done, Engine, PromptTooLong
from ..inputs import checked
from ..limits import Limits
from ..params import GenerationParams, ParamError
from ..scheduler import QueueFull, Waiting
from . import driver, sessions
from .driver import halted, writing  # noqa: F401  (chat.writing, chat.halted: inspector.py)
from .guard import refusal
from .i18n import say, tr
from .messages import last_user_index, model_messages, normalize, plot_messages, problem, said, shown, text_of  # noqa: F401
from .reply import MAX_BRANCHES, Reply  # noqa: F401  (re-exported: chat.Reply, chat.shown, ... as before)

TOP_N = 100  # candidates recorded per generated step (the plot shows up to this many)
KEPT_LOGITS = 32  # a reply keeps the full logits (196 KB each) of its latest 32 steps; every step keeps its record


# --- status lines ----------------------------------------------------------------------------------
FINISH = {"length": "hit max_new_tokens", "eos": "the model ended its turn", "stop": "matched a stop string",
          "cancelled": "stopped before the end"}  # why a reply ended, as the status line says it


def done_status(done: Done, params: GenerationParams, beams: int = 0) -> str:
    parts = [f"**{done.finish_reason}**: {tr(FINISH.get(done.finish_reason, ''))}".rstrip(": "),
             tr("{n} tokens", n=len(done.token_ids)),
             tr("{rate} tokens/s", rate=f"{done.tokens_per_second:.1f}"),
             tr("{seconds} s", seconds=f"{done.seconds:.1f}"), tr("mode {mode}", mode=params.mode)]
    if done.seed is not None:
        parts.append(tr("seed {seed}", seed=done.seed))
    if beams > 1:
        parts.append(tr("{n} beams", n=beams))
    if done.notice:
        parts.append(said(say(done.notice)))
    return " · ".join(parts)


def beams_message(beams) -> dict:
    lines = [f"{n}. (score {b.score:.3f}) {shown(b.text)}" for n, b in enumerate(beams[1:], 2)]
    return {"role": "assistant", "content": "\n\n".join(lines),
            "metadata": {"title": f"Other beams ({len(beams) - 1}), score = sum log p / length^length_penalty",
                         "status": "done"}}


# --- the handlers ----------------------------------------------------------------------------------
def refused(message: str) -> tuple:
    """A bad input: every output kept as the page has it (the message box too), and why."""
    return gr.skip(), gr.skip(), problem(message), gr.skip(), gr.skip()


@checked(refused)
def send(engine: Engine, message: str | None, history: list | None, system: str | None, run: dict | None,
         *values, limits: Limits | None = None) -> Iterator[tuple]:
    """Add the user's message and stream the reply. Yields (history, message box, status, steps, reply).
    A reply over the instance's caps (`limits`) is refused, and the message kept."""
    yield from driver.answer(driver.sending(message, history, system), values, run, Local(engine, limits))


@checked(refused)
def regenerate(engine: Engine, history: list | None, system: str | None, run: dict | None,
               *values, limits: Limits | None = None) -> Iterator[tuple]:
    """Drop the replies after the last user turn and answer it again. Yields like `send` (box untouched)."""
    yield from driver.answer(driver.regenerating(history, system), values, run, Local(engine, limits))


class Local(driver.Source):
    """A reply of this process's engine (driver.py runs it). Streamed, it is decoded by the engine's scheduler, in
    one batch with everyone else's; while it waits for a place the status says where it stands. Yields (history,
    box, status, steps, reply); the reply's Decoder keeps every step's logits."""

    kept = (gr.skip(), gr.skip())

    def __init__(self, engine: Engine, limits: Limits | None):
        self.engine, self.limits = engine, limits

    def refused(self, turn: driver.Turn, message: str) -> tuple:
        return turn.before, turn.kept, problem(message), gr.skip(), gr.skip()

    def refusal(self, params: GenerationParams, turn: driver.Turn) -> str | None:
        return refusal(self.engine, self.limits, params, model_messages(turn.convo), turn.system)

    def start(self, turn: driver.Turn, params: GenerationParams, cancel: threading.Event, run: dict) -> Iterator[tuple]:
        self.convo, self.box, self.params = turn.convo, turn.box, params
        messages, system = model_messages(turn.convo), (turn.system or "").strip() or None
        if params.mode == "beam":
            yield turn.convo + [{"role": "assistant", "content": "…"}], turn.box, tr("Running beam search…"), [], None
            beams, done = self.engine.beams(messages, params, system=system, cancel=cancel)
            out = turn.convo + [{"role": "assistant", "content": shown(beams[0].text)}]
            if len(beams) > 1:
                out.append(beams_message(beams))
            yield out, turn.box, done_status(done, params, len(beams)), [], None
            return None
        self.dec = self.engine.decoder(messages, params, system=system, top_n=TOP_N, report=True, keep_logits=KEPT_LOGITS)
        self.reply = Reply.start(turn.convo, self.dec)
        self.reply.job = self.engine.scheduler.submit(self.dec, str(run.get("user") or id(run)), cancel)
        sessions.remember(run, self.reply)
        return self.reply.job.latest()  # after Stop the Decoder stays open: Step goes on with it

    def update(self, item, cancelled: bool) -> tuple | None:
        if cancelled:
            return None  # Stop: no "Generating…" after "Stopping…"; the last update says how it ended
        if isinstance(item, Waiting):  # no reply bubble yet: the status says where it stands
            return self.convo, self.box, waiting(item), gr.skip(), gr.skip()
        states = self.kept if self.shown else (self.dec.steps, self.reply)  # sent once: later updates change these objects
        self.shown = True
        return self.convo + [{"role": "assistant", "content": shown(item.text)}], self.box, \
            tr("Generating… {n} tokens", n=len(self.dec.steps)), *states

    def end(self, params: GenerationParams) -> tuple:
        return self.reply.history(), self.box, done_status(self.dec.result(), params), self.dec.steps, self.reply

    def failure(self, error: Exception) -> str:
        if isinstance(error, (ParamError, PromptTooLong, QueueFull)):
            return str(error)
        return f"The model failed: {type(error).__name__}: {error}. The conversation is unchanged."

    def dropped(self) -> tuple:
        return [], None  # this reply's steps and state were sent: its tokens leave with it


def waiting(place: Waiting) -> str:
    """The status of a queued reply: its place and an estimate from the measured step time."""
    ahead = tr("next in line") if place.ahead == 0 else tr(f"{{n}} {'reply' if place.ahead == 1 else 'replies'} ahead", n=place.ahead)
    eta = tr(", about {seconds} s", seconds=f"{place.seconds:.0f}") if place.seconds else ""
    return tr("Waiting for a place in the batch: {ahead}{eta}.", ahead=ahead, eta=eta)


STOPPING = "Stopping…"


def stop(run: dict | None) -> str:
    """Set the Event of the reply in flight; the decode loop ends before its next step."""
    ev = (run or {}).get("cancel")
    if ev is None or ev.is_set():
        return tr("Nothing is being generated.")
    ev.set()
    return tr(STOPPING)


def stopped(status: str | None, steps: list | None):
    """After Stop, once the reply has ended: its finish reason and length (unchanged when nothing ran)."""
    generating = ("Generating…", tr("Generating…"))  # as either language says it
    if status not in (STOPPING, tr(STOPPING)) and not (status or "").startswith(generating):  # the reply's own end came last
        return gr.skip()
    return f"**cancelled**: {tr(FINISH['cancelled'])} · {tr('{n} tokens', n=len(steps or []))}"


def halt(run: dict | None, reply: Reply | None, timeout: float = 30.0) -> None:
    """Stop what is being generated (a streamed reply, the inspector's stepping) and wait until its handler
    ended without another update (`halted`), so that Undo and Clear act on a conversation, and set session
    states, that nothing writes to any more."""
    run = run if run is not None else {}
    ev = run.get("cancel")
    if ev is not None:
        run["halted"] = ev
        ev.set()
    if reply is not None:
        reply.settle(timeout)
    if (idle := run.get("idle")) is not None:
        idle.wait(timeout)


@checked(refused)
def undo(history: list | None, message: str | None, run: dict | None = None, reply: Reply | None = None) -> tuple:
    """Remove the last turn (the last user message and what follows); its text goes back into the box.
    A reply still being generated is stopped first (`halt`)."""
    halt(run, reply)
    history = normalize(history)
    at = last_user_index(history)
    if at < 0:
        return history, message, problem("Nothing to undo: the conversation is empty."), gr.skip(), gr.skip()
    back = html.unescape(history[at]["content"])
    return history[:at], back if not (message or "").strip() else message, tr("Removed the last turn."), [], None


def clear(run: dict | None = None, reply: Reply | None = None) -> tuple:
    """Empty the chat, the box and the last reply; a reply still being generated is stopped first (`halt`)."""
    halt(run, reply)
    return [], "", tr("Cleared the conversation."), [], None
