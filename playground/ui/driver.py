"""The reply driver shared by the local chat (chat.py) and the chat on a remote server (remote_chat.py).

Send and regenerate run one flow on either backend: the turn to answer (`sending`, `regenerating`), the message
and the controls' values checked, a reply over the instance's caps refused (`answer`), then the reply streamed
(`drive`) with Stop, Undo, Clear and a closed tab honoured through the session's `run` dict, and on a failure the
history as it was before, the message kept, one status line, and the failed reply's tokens dropped once any were
shown. A `Source` is the backend's part: how it refuses, how a reply starts, how an item of it and its end are
shown, what a failure says, and what "nothing changes" and "no tokens" look like in its outputs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..params import GenerationParams, ParamError
from .controls import to_params
from .messages import last_user_index, normalize, problem, shown

EMPTY = "`message` must not be empty, but is ''. Type a message first."
NOTHING = "Nothing to regenerate: the conversation has no user message yet."


@dataclass
class Turn:
    """What a reply answers: `convo` (ending with the user's turn), the history `before` it (shown again on a
    failure), the message box while it streams (`box`) and after a failure (`kept`), the system prompt, and
    `problem`: why there is nothing to answer (None when there is)."""

    convo: list[dict]
    before: list[dict]
    box: Any
    kept: Any
    system: str | None
    problem: str | None = None


def sending(message: str | None, history: list | None, system: str | None) -> Turn:
    """Send: the user's message added to the history; the box empties while the reply streams."""
    history = normalize(history)
    convo = history + [{"role": "user", "content": shown(message or "")}]
    return Turn(convo, history, "", message, system, None if (message or "").strip() else EMPTY)


def regenerating(history: list | None, system: str | None) -> Turn:
    """Regenerate: the replies after the last user turn dropped; the box is left as it is."""
    history = normalize(history)
    at = last_user_index(history)
    return Turn(history[: at + 1], history, gr.skip(), gr.skip(), system, NOTHING if at < 0 else None)


class Source:
    """A backend's part of a reply. `kept`: the outputs after the status left as they are; `shown`: set once an
    update carried this reply's tokens (a failure then yields `dropped()` in their place)."""

    kept: tuple = ()
    shown = False

    def refused(self, turn: Turn, message: str) -> tuple:
        """The one update for bad input or a refusal: the message kept, and why."""
        raise NotImplementedError

    def refusal(self, params: GenerationParams, turn: Turn) -> str | None:
        """Why this reply must not start (the instance's caps, what the backend cannot take), or None."""
        return None

    def start(self, turn: Turn, params: GenerationParams, cancel: threading.Event, run: dict) -> Iterator[tuple]:
        """A generator: the updates before the first item, returning the items of the reply (None: it is over)."""
        raise NotImplementedError

    def update(self, item, cancelled: bool) -> tuple | None:
        """The update for one item of the reply (None: nothing to show)."""
        raise NotImplementedError

    def end(self, params: GenerationParams) -> tuple | None:
        """The last update, once the items ended (None: nothing more to show)."""
        raise NotImplementedError

    def failure(self, error: Exception) -> str:
        """The status line's text for a reply that failed with `error`."""
        raise NotImplementedError

    def dropped(self) -> tuple:
        """The outputs after the status once the failed reply's tokens were shown: emptied, they leave with it."""
        raise NotImplementedError


def answer(turn: Turn, values: Iterable, run: dict | None, source: Source) -> Iterator[tuple]:
    """Send or regenerate: `turn` answered with the controls' `values` once they pass, else one update saying why."""
    if turn.problem:
        yield source.refused(turn, turn.problem)
        return
    try:
        params = to_params(values)
    except ParamError as e:
        yield source.refused(turn, " ".join(e.messages))
        return
    if refused := source.refusal(params, turn):
        yield source.refused(turn, refused)
        return
    yield from drive(turn, params, run, source)


def drive(turn: Turn, params: GenerationParams, run: dict | None, source: Source) -> Iterator[tuple]:
    """Stream the reply to `turn`; on a failure yield `turn.before` again, the message kept and one status line.

    `run["cancel"]` is the reply's Event (set by Stop, and when gradio closes this generator); Undo and Clear mark
    it `halted` and wait for `run["idle"]`: a halted reply yields nothing more."""
    cancel = threading.Event()
    run = run if run is not None else {}
    run["cancel"], idle = cancel, writing(run)
    alive = run.get("alive") or (lambda: True)  # False once the visitor's connection is gone (layout.py)
    try:
        items = yield from source.start(turn, params, cancel, run)
        if items is None:
            return
        for item in items:
            if halted(run, cancel):  # Undo or Clear: the conversation is theirs now
                return
            if not alive():
                cancel.set()  # a closed tab or a dropped connection: the backend drops the reply at its next step
            if (update := source.update(item, cancel.is_set())) is not None:
                yield update
        if not halted(run, cancel) and (update := source.end(params)) is not None:
            yield update
    except Exception as e:  # noqa: BLE001 - the model or the server failed: one line, nothing lost
        yield turn.before, turn.kept, problem(source.failure(e)), *(source.dropped() if source.shown else source.kept)
    finally:
        cancel.set()  # also runs when gradio closes this generator (Stop): the backend drops the reply
        idle.set()


def writing(run: dict) -> threading.Event:
    """A handler that yields updates of the reply in `run` starts: the Event it sets when it ends (`halt` waits)."""
    run["idle"] = idle = threading.Event()
    return idle


def halted(run: dict | None, cancel: threading.Event) -> bool:
    """True once Undo or Clear stopped the reply of `cancel`: its handler yields nothing more."""
    return (run or {}).get("halted") is cancel
