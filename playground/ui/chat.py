"""Chat handlers: send, regenerate, undo, clear, stop, as plain functions of values.

The chat history is the Chatbot's value: role/content dicts whose content is HTML-escaped, so the
page always shows model output as text (`<script>` arrives as `&lt;script&gt;`), and the Chatbot
does not render Markdown (messages.py: `shown`, `model_messages`, and the status line's `problem`).

Every handler returns the history unchanged, the message kept and a status line naming the field,
the rule and the value when its input is bad or the model fails. `send` and `regenerate` are
generators over a `Decoder` (one token per yield, in the caller's thread); `run["cancel"]` is the
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
from . import sessions
from .controls import to_params
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
    history = normalize(history)
    if not (message or "").strip():
        yield history, message, problem("`message` must not be empty, but is ''. Type a message first."), gr.skip(), gr.skip()
        return
    try:
        params = to_params(values)
    except ParamError as e:
        yield history, message, problem(" ".join(e.messages)), gr.skip(), gr.skip()
        return
    convo = history + [{"role": "user", "content": shown(message)}]
    if refused := refusal(engine, limits, params, model_messages(convo), system):
        yield history, message, problem(refused), gr.skip(), gr.skip()
        return
    yield from _reply(engine, convo, history, "", message, system, params, run)


@checked(refused)
def regenerate(engine: Engine, history: list | None, system: str | None, run: dict | None,
               *values, limits: Limits | None = None) -> Iterator[tuple]:
    """Drop the replies after the last user turn and answer it again. Yields like `send` (box untouched)."""
    history = normalize(history)
    at = last_user_index(history)
    if at < 0:
        yield history, gr.skip(), problem("Nothing to regenerate: the conversation has no user message yet."), gr.skip(), gr.skip()
        return
    try:
        params = to_params(values)
    except ParamError as e:
        yield history, gr.skip(), problem(" ".join(e.messages)), gr.skip(), gr.skip()
        return
    if refused := refusal(engine, limits, params, model_messages(history[: at + 1]), system):
        yield history, gr.skip(), problem(refused), gr.skip(), gr.skip()
        return
    yield from _reply(engine, history[: at + 1], history, gr.skip(), gr.skip(), system, params, run)


def _reply(engine: Engine, convo: list[dict], before: list[dict], box, box_on_error, system: str | None,
           params: GenerationParams, run: dict | None) -> Iterator[tuple]:
    """Stream (or beam-search) the assistant's answer to `convo`; on failure yield `before` again.

    A streamed reply is decoded by the engine's scheduler, in one batch with everyone else's; while it
    waits for a place the status says where it stands. Yields (history, box, status, steps, reply); the
    reply's Decoder keeps every step's logits."""
    cancel = threading.Event()
    run = run if run is not None else {}
    run["cancel"], idle = cancel, writing(run)
    alive = run.get("alive") or (lambda: True)  # False once the visitor's connection is gone (layout.py)
    messages, system = model_messages(convo), (system or "").strip() or None
    states = None  # (steps, reply) of this reply until they are sent, then skips
    try:
        if params.mode == "beam":
            yield convo + [{"role": "assistant", "content": "…"}], box, tr("Running beam search…"), [], None
            beams, done = engine.beams(messages, params, system=system, cancel=cancel)
            out = convo + [{"role": "assistant", "content": shown(beams[0].text)}]
            if len(beams) > 1:
                out.append(beams_message(beams))
            yield out, box, done_status(done, params, len(beams)), [], None
            return
        dec = engine.decoder(messages, params, system=system, top_n=TOP_N, report=True, keep_logits=KEPT_LOGITS)
        reply = Reply.start(convo, dec)
        reply.job = engine.scheduler.submit(dec, str(run.get("user") or id(run)), cancel)
        sessions.remember(run, reply)
        states = (dec.steps, reply)  # sent once: later updates change these same objects
        for item in reply.job.latest():  # after Stop the Decoder stays open: Step goes on with it
            if halted(run, cancel):  # Undo or Clear: the conversation is theirs now
                return
            if not alive():
                cancel.set()  # a closed tab or a dropped connection: the scheduler drops the reply at its next step
            if cancel.is_set():
                continue  # Stop: no "Generating…" after "Stopping…"; the last update says how it ended
            if isinstance(item, Waiting):  # no reply bubble yet: the status says where it stands
                yield convo, box, waiting(item), gr.skip(), gr.skip()
            else:
                yield convo + [{"role": "assistant", "content": shown(item.text)}], box, \
                    tr("Generating… {n} tokens", n=len(dec.steps)), *states
                states = (gr.skip(), gr.skip())
        if not halted(run, cancel):
            yield reply.history(), box, done_status(dec.result(), params), dec.steps, reply
    except (ParamError, PromptTooLong, QueueFull) as e:
        yield before, box_on_error, problem(str(e)), *_dropped(states)
    except Exception as e:  # the model failed: say so, keep the conversation and the message
        yield before, box_on_error, problem(f"The model failed: {type(e).__name__}: {e}. The conversation is unchanged."), \
            *_dropped(states)
    finally:
        cancel.set()  # also runs when gradio closes this generator (Stop): the scheduler drops the reply
        idle.set()


def _dropped(states) -> tuple:
    """(steps, reply) after a failure: emptied once this reply's were sent (its tokens leave with it), else kept."""
    sent = states is not None and not isinstance(states[1], Reply)  # once sent, `states` holds two skips
    return ([], None) if sent else (gr.skip(), gr.skip())


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


def writing(run: dict) -> threading.Event:
    """A handler that yields updates of the reply in `run` starts: the Event it sets when it ends (`halt` waits)."""
    run["idle"] = idle = threading.Event()
    return idle


def halted(run: dict | None, cancel: threading.Event) -> bool:
    """True once Undo or Clear stopped the reply of `cancel`: its handler yields nothing more."""
    return (run or {}).get("halted") is cancel


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
