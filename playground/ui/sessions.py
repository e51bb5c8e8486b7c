"""Who is asking, and whether they are still there: the visitor's session around the model events.

`watched(fn, run_at)` wraps a chat handler so that gradio passes the request: the session's `run`
dict (a `gr.State`) learns the session hash (the scheduler's user key: one reply in flight per
visitor, visitors in turn) and an `alive()` check that turns False when gradio saw the visitor's
connection drop (a closed tab, or an API client gone mid-stream), so the reply is cancelled within a
step. `left(engine, request)` runs on gradio's `unload` (the tab closed): it cancels the session's
replies and frees what its last reply kept, without waiting for gradio to drop the session's state.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator

import gradio as gr

from ..engine import Engine

_replies: dict[str, weakref.ref] = {}  # session hash -> its last reply.Reply (weak: the State owns it)
_lock = threading.Lock()


def remember(run: dict | None, reply) -> None:
    """Note the session's last reply, so that `left` can free it at once."""
    user = (run or {}).get("user")
    if user and reply is not None:
        with _lock:
            _replies[user] = weakref.ref(reply)


def connected(demo: gr.Blocks, session: str) -> bool:
    """False once gradio has marked an event of this session dead (its connection dropped)."""
    try:
        return not any(ev.session_hash == session and not ev.alive for jobs in demo._queue.active_jobs
                       for ev in (jobs or []))
    except Exception:  # gradio's queue internals changed: assume the visitor is there
        return True


def watched(demo: gr.Blocks, fn: Callable, run_at: int) -> Callable:
    """`fn` (a generator handler whose argument `run_at` is the session's `run` dict) with the session's
    identity and liveness put into `run` first."""

    def handler(request: gr.Request, *args) -> Iterator:
        run = args[run_at]
        if isinstance(run, dict) and request is not None and request.session_hash:
            run["user"] = request.session_hash
            run["alive"] = lambda: connected(demo, request.session_hash)
        yield from fn(*args)

    return handler


def forget(reply) -> None:
    """gradio dropped the session's expired Reply: free what it keeps now (others may still hold it)."""
    if reply is not None:
        reply.free()


def on_leave(engine: Engine) -> Callable:
    """The `unload` handler for `engine` (a plain function: gradio passes the request by its annotation)."""

    def leave(request: gr.Request) -> None:
        left(engine, request)

    return leave


def left(engine: Engine, request: gr.Request) -> None:
    """The visitor closed the tab: cancel their replies now and free their last reply's memory."""
    session = getattr(request, "session_hash", None)
    if not session:
        return
    engine.scheduler.cancel_user(session)
    with _lock:
        ref = _replies.pop(session, None)
    reply = ref() if ref else None
    if reply is not None:
        reply.free()
