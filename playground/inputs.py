"""Checks for every value that reaches a handler from the page or the API, before any work.

Events read raw values (`preprocess=False`: gradio's own checks would not name the field) and the
plot's events skip the queue, so one bad value must not cost the others anything: `checked(reject)`
wraps a handler and runs the checker named after each of its parameters (`CHECKS`: `top_n`, `scale`,
`message`, `history`...) first; a bad value makes the handler return (or yield) `reject(message)`, its
own "nothing changed" output, with a message naming the field, the rule and the value (quoted by
`brief`, so a huge value never floods the reply). The controls' values are checked by
`controls.to_params`; token ids by `token`, which needs the vocabulary.

Numbers are never bool, NaN or infinite here. Texts are bounded and never hold a lone surrogate: the
tokenizer refuses one and the page's JSON encoder cannot send one back, which broke the session's
next request. A bad text is refused rather than changed, and the output that carried it is skipped,
so the page keeps it for the visitor to fix.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable
from functools import partial, wraps
from typing import Any

from .params import ParamError
from .text import brief, surrogate_at

TOP_N = (5, 100)  # the plot's "Tokens shown" slider: larger values are clamped to it, before any work
SCALES = ("linear", "log")
MAX_TEXT = 100_000  # characters in a message, a system prompt, a forced text or a control's text
MAX_HISTORY = 1_000_000  # characters in a whole conversation
MAX_MESSAGES = 2_000  # messages in a conversation
ROLES = ("user", "assistant", "system")


def _fail(field: str, rule: str, value: Any, fix: str = "") -> ParamError:
    return ParamError([f"`{field}` must be {rule}, but is {brief(value)}." + (f" {fix}" if fix else "")])


def number(field: str, value: Any, rule: str = "a number", whole: bool = False) -> float | int:
    """A finite number (a numeric string is read); never bool, NaN, infinity, a list or a huge integer."""
    v = value
    if isinstance(v, str) and len(v) <= 100:
        try:
            v = float(v.strip())
        except ValueError:
            pass
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or (isinstance(v, int) and v.bit_length() > 1000) \
            or not math.isfinite(v):
        raise _fail(field, rule, value)
    if whole:
        if v != int(v):
            raise _fail(field, f"a whole number ({rule})", value)
        return int(v)
    return float(v)


def top_n(value: Any) -> int:
    """Bars on a plot: a number, put into the slider's range (as the slider itself does)."""
    lo, hi = TOP_N
    return int(min(max(round(number("top_n", value, f"a number in [{lo}, {hi}] (tokens shown)")), lo), hi))


def scale(value: Any) -> str:
    if value is None:
        return "linear"
    if not isinstance(value, str) or value not in SCALES:
        raise _fail("scale", f"one of {', '.join(map(repr, SCALES))}", value)
    return value


def step(value: Any, field: str = "step") -> int:
    """A step's 0-based index in the last reply (empty: 0)."""
    if value is None or value == "":
        return 0
    v = number(field, value, "a whole number >= 0", whole=True)
    if v < 0:
        raise _fail(field, "a whole number >= 0", value)
    return v


def clicked(value: Any) -> int:
    """The inspector's clicked token: its step k (the page sends a number; "k" and "k@clicks" are read too)."""
    k = value.split("@")[0].strip() if isinstance(value, str) and len(value) <= 40 else value
    if k == "":
        raise _fail("inspect step", "a token's step number, as 'k' or 'k@n'", value)
    return step(k, "inspect step")


def token(field: str, value: Any, vocab: int) -> int:
    """A token id of this model."""
    v = number(field, value, f"a token id in [0, {vocab - 1}]", whole=True)
    if not 0 <= v < vocab:
        raise _fail(field, f"a token id in [0, {vocab - 1}]", value)
    return v


def text(field: str, value: Any, limit: int = MAX_TEXT) -> str:
    """A text box's value: a string (None = ""), at most `limit` characters, no lone surrogate."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _fail(field, "text", value)
    if len(value) > limit:
        raise ParamError([f"`{field}` must be at most {limit} characters, but is {len(value)} characters long: "
                          f"{brief(value)}. Shorten it."])
    at = surrogate_at(value)
    if at >= 0:
        raise ParamError([f"`{field}` must be text, but holds a lone surrogate {brief(value[at])} at character {at} "
                          f"of {len(value)} (half of a character: a bad paste?). Remove it or retype the text around it."])
    return value


def history(value: Any) -> list:
    """The Chatbot's messages: role/content dicts (content a string, gradio's parts, or None), bounded,
    with no lone surrogate. Returned as given (`chat.normalize` reads them)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail("history", "a list of chat messages", value)
    if len(value) > MAX_MESSAGES:
        raise ParamError([f"`history` must hold at most {MAX_MESSAGES} messages, but has {len(value)}. Clear the chat."])
    total = 0
    for i, m in enumerate(value):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("metadata") or {}, dict):
            raise _fail(f"history[{i}]", f"a message {{'role': one of {ROLES}, 'content': text}}", m)
        for t in _texts(m.get("content"), f"history[{i}]"):
            total += len(text(f"history[{i}]", t))
        if total > MAX_HISTORY:
            raise ParamError([f"`history` must be at most {MAX_HISTORY} characters in all, but passes that at message {i}. "
                              "Clear the chat or undo some turns."])
    return value


def _texts(content: Any, field: str) -> list[str]:
    """The strings of a message's content (a string, a dict with "text", or a list of those)."""
    parts = content if isinstance(content, list) else [content]
    out = []
    for p in parts:
        t = p.get("text", "") if isinstance(p, dict) else p
        if t is None:
            continue
        if not isinstance(t, str):
            raise _fail(field, "a message whose content is text", content)
        out.append(t)
    return out


CHECKS: dict[str, Callable[[Any], Any]] = {
    "top_n": top_n, "scale": scale, "k": clicked, "history": history,
    "message": partial(text, "message"), "system": partial(text, "system"), "forced_text": partial(text, "force text"),
    "choice": partial(text, "branch"), "preset_name": partial(text, "preset name", limit=200),
}


def checked(reject: Callable[[str], Any]):
    """Decorator: check the handler's parameters named in `CHECKS` (the checked values replace them);
    on a bad one the handler does not run and returns, or yields once, `reject(message)`."""

    def wrap(fn):
        sig = inspect.signature(fn)
        names = [n for n in sig.parameters if n in CHECKS]

        def check(args, kw):
            bound = sig.bind(*args, **kw)
            problems = []
            for n in names:
                if n in bound.arguments:
                    try:
                        bound.arguments[n] = CHECKS[n](bound.arguments[n])
                    except ParamError as e:
                        problems += e.messages
            return bound, " ".join(problems)

        if inspect.isgeneratorfunction(fn):
            @wraps(fn)
            def generator(*args, **kw):
                bound, problem = check(args, kw)
                if problem:
                    yield reject(problem)
                    return
                yield from fn(*bound.args, **bound.kwargs)

            return generator

        @wraps(fn)
        def function(*args, **kw):
            bound, problem = check(args, kw)
            return reject(problem) if problem else fn(*bound.args, **bound.kwargs)

        return function

    return wrap
