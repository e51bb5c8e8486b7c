"""The public API's parameter names: handlers take the controls as `*values`, which gradio would call
`param_4`...`param_25`; `named(fn, names)` gives the same handler a signature that names every input.

The names are the inputs' (message, history, system, top_n...) and the parameters' own (`params.SPECS`),
with their defaults, so an API client can leave out what has one: `system` and `seed` (None: no system
prompt, a fresh random seed) and every generation parameter. Session states (`run`, `reply`) are
named too; gradio leaves them out of the API. The UI wiring is unchanged: only the signature differs.
`lenient(chatbot)` lets the chat history arrive OpenAI style too (a message's content a plain string).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import gradio as gr
from gradio.components.chatbot import ChatbotDataMessages
from pydantic import model_validator

from ..params import SPECS

OPTIONAL = {"system": None, "run": None, "reply": None, "top_n": 30, "scale": "linear"}


def named(fn: Callable, names: Sequence[str], request: bool = False) -> Callable:
    """`fn` with a signature naming its inputs `names` (after a `gr.Request`, when `request`: gradio passes it)."""
    P = inspect.Parameter
    params = [P("request", P.POSITIONAL_OR_KEYWORD, annotation=gr.Request)] if request else []
    optional = False
    for n in names:
        default = SPECS[n].default if n in SPECS else OPTIONAL.get(n, P.empty)
        optional = optional or default is not P.empty
        params.append(P(n, P.POSITIONAL_OR_KEYWORD, default=None if optional and default is P.empty else default))

    if inspect.isgeneratorfunction(fn):
        def wrapper(*args, **kwargs):
            yield from fn(*args, **kwargs)
    else:
        def wrapper(*args, **kwargs):
            return fn(*args, **kwargs)

    wrapper.__signature__ = inspect.Signature(params)
    wrapper.__annotations__ = {"request": gr.Request} if request else {}
    wrapper.__name__ = wrapper.__qualname__ = getattr(fn, "__name__", "handler")
    return wrapper


class Messages(ChatbotDataMessages):
    """gradio's chat messages; a message whose content is a plain string (OpenAI style) becomes one text part."""

    @model_validator(mode="before")
    @classmethod
    def _text_parts(cls, data):
        if isinstance(data, list):
            return [dict(m, content=[{"type": "text", "text": m["content"]}])
                    if isinstance(m, dict) and isinstance(m.get("content"), str) else m for m in data]
        return data


def lenient(chatbot: gr.Chatbot) -> gr.Chatbot:
    """The Chatbot, taking string message content as well (gradio checks every input with its data model)."""
    chatbot.data_model = Messages
    return chatbot
