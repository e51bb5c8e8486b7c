"""Token inspector handlers: step mode, forcing tokens, branching, switching branches, opening a step.

All of them work on the last reply (`reply.Reply`, session state): its Decoders keep every step's
logits, so opening a step (`inspect`), switching branches and the tables and plots of `step_view`
never run the model. Model events (`step`, `force_*`, `branch`) step a Decoder, each token one forward
pass with the KV cache, exactly as the decode itself: a forced token replaces the sampled one, and a
branch from step k reuses the cache and step k's kept logits (`Decoder.branch`). While a reply is
open the next step's logits are computed at once (the pass its next `step()` reuses) so its
candidates can be shown and clicked.

Handlers return (or yield) {output name: value} dicts, which layout.py maps to its components
(`wiring.keyed`). Model events give every name of `OUT`: history, message box, status, steps, reply,
tokens HTML, branches, *step_view.VIEW; `inspect` gives reply, tokens HTML and `VIEW`; `show_reply`
tokens HTML, branches and `VIEW`. Bad input gives a status line naming the field, the rule and the value,
and changes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import gradio as gr

from ..engine import Engine, PromptTooLong
from ..inputs import checked, token
from ..limits import Limits
from ..params import SPECS, GenerationParams, ParamError
from ..text import brief, readable
from . import chat, sessions, step_view, tokens_html
from .chat import done_status
from .controls import to_params
from .guard import refusal
from .i18n import tr
from .messages import last_user_index, model_messages, normalize, problem, said, shown
from .reply import Reply
from .tokens_html import number

OUT = ("history", "box", "status", "steps", "reply", "tokens", "branches") + step_view.VIEW
STEP_HELP = ("The next token's candidates are below: click one (or pick it in Force token) to take it instead of "
             "sampling, or Step / Step ×10 / Run to end.")


# --- what every handler shows ----------------------------------------------------------------------
def tokens(engine: Engine, reply: Reply | None) -> str:
    if reply is None:
        return tokens_html.render([])
    dec = reply.dec
    note = "" if dec.done else tr("Open: the ▸ is the next step.")
    return tokens_html.render(dec.steps, reply.selected, not dec.done, engine.eos_ids, note)


def branch_choices(reply: Reply | None):
    if reply is None:
        return gr.update(choices=[], value=None)
    return gr.update(choices=list(reply.labels), value=reply.labels[reply.current])


def skipped(names=OUT, **values) -> dict:
    """Every output in `names` kept as the page has it, but those given."""
    return {n: values.get(n, gr.skip()) for n in names}


def view(engine: Engine, reply: Reply | None, k, top_n=30, scale="linear") -> dict:
    """The step view's outputs (`step_view.VIEW`) for step k."""
    return dict(zip(step_view.VIEW, step_view.show(engine, reply, k, top_n, scale)))


def outputs(engine: Engine, reply: Reply, status: str, box=None, top_n=30, scale="linear", show: bool = True) -> dict:
    return dict(history=reply.history(), box=gr.skip() if box is None else box, status=status, steps=reply.dec.steps,
                reply=reply, tokens=tokens(engine, reply), branches=branch_choices(reply),
                **(view(engine, reply, reply.selected, top_n, scale) if show else skipped(step_view.VIEW)))


def fail(message: str) -> dict:
    return skipped(status=problem(message))


def unseen(message: str) -> dict:
    """A bad input to `show_reply` or `inspect`: the reason in the step's line, nothing else changed."""
    return skipped(("tokens", *step_view.VIEW), info=problem(message))


@checked(unseen)
def show_reply(engine: Engine, reply: Reply | None, top_n=30, scale="linear") -> dict:
    """After a chat reply (or Stop, Undo, Clear): its tokens, its branches, no step open. (tokens, branches, *VIEW)."""
    if reply is not None:
        reply.selected = None
    return dict(tokens=tokens(engine, reply), branches=branch_choices(reply), **view(engine, reply, None, top_n, scale))


@checked(unseen)
def inspect(engine: Engine, k, reply: Reply | None, top_n=30, scale="linear") -> dict:
    """A token was clicked (`k`: its step, as a number or "k"; "k@clicks" is read too): open step k.
    (reply, tokens, *VIEW). Never runs the model."""
    if reply is None:
        return dict(reply=gr.skip(), tokens=gr.skip(), **view(engine, None, k, top_n, scale))
    reply.selected = k
    return dict(reply=reply, tokens=tokens(engine, reply), **view(engine, reply, k, top_n, scale))


@checked(fail)
def switch(engine: Engine, choice: str | None, reply: Reply | None, top_n=30, scale="linear") -> tuple:
    """Show another branch: it replaces the last assistant message. Yields `OUT`; never runs the model."""
    if reply is None or choice not in reply.labels:
        return fail(f"`branch` must be one of this reply's branches {reply.labels if reply else []}, but is {choice!r}.")
    reply.current, reply.selected = reply.labels.index(choice), None
    return outputs(engine, reply, tr("Showing branch {name}.", name=said(choice)), top_n=top_n, scale=scale)


# --- the model events --------------------------------------------------------------------------------
def _peek(reply: Reply) -> None:
    """The next step's logits, computed now: the forward pass its `step()` would run (it reuses them)."""
    dec = reply.dec
    if not dec.done and dec.logits_at(len(dec.steps)) is None:
        with reply.lock:
            dec.peek()


def _advance(engine: Engine, reply: Reply, tokens_to_force: list[int] | None, count: int | None, run: dict | None,
             top_n, scale, box=None, after: int | None = None) -> Iterator[tuple]:
    """Step the shown branch (forcing `tokens_to_force` in order, else `count` sampled steps, None = to the end),
    yielding after each token; then open the next step (or `after`) and show it."""
    if not reply.settle():
        yield fail("The reply is still being generated and did not stop in time; try again in a moment.")
        return
    cancel, run = threading.Event(), run if run is not None else {}
    run["cancel"], idle = cancel, chat.writing(run)
    dec = reply.dec
    todo = list(tokens_to_force) if tokens_to_force is not None else None
    n = 0
    try:
        while not dec.done and not cancel.is_set() and (todo if todo is not None else count is None or n < count):
            with reply.lock:
                dec.step(force=todo.pop(0) if todo is not None else None)
            n += 1
            if (todo or count != 1) and not chat.halted(run, cancel):
                yield outputs(engine, reply, tr("Generating… {n} tokens", n=len(dec.steps)), box, show=False)
        if chat.halted(run, cancel):  # Undo or Clear: the conversation is theirs now
            return
        _peek(reply)
        if dec.done:
            reply.selected = after if after is not None and after < len(dec.steps) else None
            status = done_status(dec.result(), dec.params) + (_untaken(dec, todo, len(tokens_to_force)) if todo else "")
        else:
            reply.selected = len(dec.steps)
            status = tr("Step mode: {n} tokens so far. ", n=len(dec.steps)) + tr(STEP_HELP)
        yield outputs(engine, reply, status, box, top_n, scale)
    except Exception as e:  # the model failed: say so; the reply keeps the tokens it has
        yield fail(f"The model failed: {type(e).__name__}: {e}.")
    finally:
        cancel.set()
        idle.set()


def _untaken(dec, todo: list[int], total: int) -> str:
    """Why a forced text was not taken whole: the reply ended first."""
    why = (f"the reply reached max_new_tokens = {dec.params.max_new_tokens}; raise it to force the whole text"
           if dec.finish == "length" else f"the reply ended ({dec.finish}) first")
    return f" · ⚠️ Forced {total - len(todo)} of the text's {total} tokens: {why}. The last {len(todo)} were not taken."


def _changes(params: GenerationParams, before: GenerationParams) -> str:
    """The parameters that differ from `before`, for a branch's label."""
    diff = ", ".join(f"{n} {getattr(params, n)!r}" for n in SPECS if getattr(params, n) != getattr(before, n))
    return diff or "same parameters, new sample"


def _go_on(engine: Engine, reply: Reply, params: GenerationParams) -> str | None:
    """Step on an ended reply: a new branch (the ended one stays listed) from the selected token, or after
    the end of a reply cut by its length. None when done, else why not."""
    dec, k = reply.dec, reply.selected
    if k is not None and 0 <= k < len(dec.steps):
        label = f"from step {number(k)}, stepped ({_changes(params, dec.params)})"
    elif dec.finish in ("length", "cancelled"):
        k = len(dec.steps)
        if k >= min(params.max_new_tokens, engine.context - len(dec.prompt)):
            return (f"`max_new_tokens` must be more than the reply's {k} tokens to step on after its end, but is "
                    f"{params.max_new_tokens}. Raise max_new_tokens, or click a token to step from there (a new branch).")
        label = f"after the end, stepped ({_changes(params, dec.params)})"
    else:
        return tr("The reply has ended ({finish}). Click one of its tokens to step from there (a new branch; this "
                  "one stays listed), or type a message to start a new reply.", finish=dec.finish)
    try:
        reply.settle()
        with reply.lock:
            reply.add(dec.branch(k, params), label, k)
    except ValueError as e:
        return str(e)
    return None


def token_by_token(values, where: str) -> GenerationParams:
    """The controls as params for decoding one token at a time; beam search is refused (ParamError)."""
    params = to_params(values)
    if params.mode == "beam":
        raise ParamError([f"`num_beams` must be 1 {where}, but is {params.num_beams}: beam search does not go "
                          "token by token. Set num_beams to 1."])
    return params


@checked(fail)
def step(engine: Engine, count: int | None, message: str | None, history: list | None, system: str | None,
         run: dict | None, reply: Reply | None, top_n, scale, *values, limits: Limits | None = None) -> Iterator[tuple]:
    """Step, Step ×10 (`count`), Run to end (None), with the current parameters, within the instance's caps
    (`limits`). Goes on with the open reply (from now on with these parameters; each step records its own);
    an ended reply goes on in a new branch (`_go_on`), and the ended one stays listed; a typed message (or
    no reply) starts a new reply, one token at a time. Yields `OUT`."""
    history, box = normalize(history), None
    try:
        params = token_by_token(values, "in step mode")
    except ParamError as e:
        yield fail(" ".join(e.messages))
        return
    if reply is not None and not (message or "").strip():
        if refused := refusal(engine, limits, params):
            yield fail(refused)
            return
        if reply.dec.done:
            if (why := _go_on(engine, reply, params)) is not None:
                yield fail(why)
                return
        elif reply.settle():  # a streaming reply stops first (`_advance` says so if it does not)
            with reply.lock:
                reply.dec.retune(params)
    else:
        if (message or "").strip():
            convo, box = history + [{"role": "user", "content": shown(message)}], ""
        else:
            at = last_user_index(history)
            if at < 0:
                yield fail("`message` must not be empty to start a reply, but is ''. Type a message, then Step.")
                return
            convo = history[: at + 1]
        if refused := refusal(engine, limits, params, model_messages(convo), (system or "").strip() or None):
            yield fail(refused)
            return
        try:
            dec = engine.decoder(model_messages(convo), params, system=(system or "").strip() or None,
                                 top_n=chat.TOP_N, report=True, keep_logits=chat.KEPT_LOGITS)
        except (ParamError, PromptTooLong) as e:
            yield fail(str(e))
            return
        reply = Reply.start(convo, dec)
        sessions.remember(run, reply)
    yield from _advance(engine, reply, None, count, run, top_n, scale, box)


def _force(engine: Engine, reply: Reply | None, ids: list[int], what: str, run: dict | None, top_n, scale) -> Iterator[tuple]:
    """Take `ids` at the open step: the next one of an open reply, else a new branch from the selected step."""
    if reply is None:
        yield fail("Nothing to force a token into: start a reply (Send, or Step) first.")
        return
    dec, k = reply.dec, _at(reply)
    if k is None or not 0 <= k <= len(dec.steps) or (k == len(dec.steps) and dec.done):
        yield fail(f"The selected step must be a token of the reply (1-{len(dec.steps)}), but is {_named(k)}: the reply "
                   "has ended. Click the token to replace, then force.")
        return
    if k < len(dec.steps):
        try:
            reply.settle()
            with reply.lock:
                branch = dec.branch(k)
                reply.add(branch, f"from step {number(k)}, forced {what}", k)
        except ValueError as e:
            yield fail(str(e))
            return
    yield from _advance(engine, reply, ids, None, run, top_n, scale)


def force_candidate(engine: Engine, row: list | None, reply: Reply | None, run: dict | None, top_n,
                    scale) -> Iterator[tuple]:
    """A row of the candidates table was clicked (its values): force that token at the step shown."""
    if not isinstance(row, list) or len(row) <= step_view.ID_COL:
        yield fail(f"The clicked candidate row must hold a token id in its `id` column, but is {brief(row)}.")
        return
    yield from force_token(engine, row[step_view.ID_COL], reply, run, top_n, scale)


def on_candidate(engine: Engine):
    """The `.select` handler of the candidates table (gradio passes the clicked row as `gr.SelectData`)."""

    def chosen(reply: Reply | None, run: dict | None, top_n, scale, evt: gr.SelectData) -> Iterator[tuple]:
        yield from force_candidate(engine, evt.row_value, reply, run, top_n, scale)

    return chosen


def on_token(engine: Engine):
    """The reply panel's `inspect_token` handler: its `js_on_load` fires it with the clicked span's {step: k}."""

    def clicked(reply: Reply | None, top_n, scale, evt: gr.EventData) -> dict:
        return inspect(engine, (evt._data or {}).get("step", ""), reply, top_n, scale)

    return clicked


def _named(k: int | None) -> str:
    """A selected step (0-based) as the page numbers it, or 'none'."""
    return "none" if k is None else str(number(k))


def _at(reply: Reply | None) -> int | None:
    """The step a forced token goes to: the selected one, else the next one of an open reply."""
    if reply is None:
        return None
    return reply.selected if reply.selected is not None else (None if reply.dec.done else len(reply.dec.steps))


@checked(fail)
def force_token(engine: Engine, token_id, reply: Reply | None, run: dict | None, top_n, scale) -> Iterator[tuple]:
    """Force one token id (a candidate) at the step shown. The dropdown's value is "k:id" (step_view): a pick
    for a step that is no longer the one shown (the same pick arriving twice) changes nothing."""
    if isinstance(token_id, str) and ":" in token_id:
        k, _, token_id = token_id.partition(":")
        if k.strip() != str(_at(reply)):
            yield skipped()
            return
    try:
        tid = token("force token", token_id, engine.vocab)
    except ParamError as e:
        yield fail(" ".join(e.messages))
        return
    yield from _force(engine, reply, [tid], f"“{readable(engine.label(tid))}”", run, top_n, scale)


@checked(fail)
def force_text(engine: Engine, forced_text: str, reply: Reply | None, run: dict | None, top_n, scale) -> Iterator[tuple]:
    """Tokenize the text and force its tokens in order from the step shown (your own continuation)."""
    text = forced_text
    if not text:
        yield fail("`force text` must not be empty, but is ''. Type the continuation to force, token by token.")
        return
    ids = engine.tokenizer.encode(text, add_special_tokens=False)
    short = text if len(text) <= 24 else text[:24] + "…"
    yield from _force(engine, reply, ids, f"the text “{short}” ({len(ids)} tokens)", run, top_n, scale)


@checked(fail)
def branch(engine: Engine, reply: Reply | None, run: dict | None, top_n, scale, *values,
           limits: Limits | None = None) -> Iterator[tuple]:
    """Regenerate from the selected token k with the current parameters (within the caps), keeping the text
    before it; the earlier branch stays and can be switched back to. Runs to the end."""
    try:
        params = token_by_token(values, "to branch")
    except ParamError as e:
        yield fail(" ".join(e.messages))
        return
    if refused := refusal(engine, limits, params):
        yield fail(refused)
        return
    dec = reply.dec if reply is not None else None
    k = reply.selected if reply is not None else None
    if dec is None or k is None or not 0 <= k < len(dec.steps):
        last = f"1-{len(dec.steps)}" if dec is not None and dec.steps else "none yet"
        yield fail(f"The step to branch from must be a token of the reply ({last}), but is {_named(k)}. Click the token "
                   "to regenerate from, change parameters, then Branch.")
        return
    try:
        reply.settle()
        with reply.lock:
            new = dec.branch(k, params)
            reply.add(new, f"from step {number(k)} ({_changes(params, dec.params)})", k)
    except ValueError as e:
        yield fail(str(e))
        return
    yield from _advance(engine, reply, None, None, run, top_n, scale, after=k)
