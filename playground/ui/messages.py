"""The chat history's messages and the status line's text, as the page shows them.

The history is the Chatbot's value: role/content dicts whose content is HTML-escaped (`shown`), so the
page always shows model output as text; `model_messages` unescapes it again for the model, and leaves
out the info messages (those with `metadata`, such as the other beams of a beam search). A status line
is Markdown: `said` escapes what it quotes, and `problem` starts with ⚠️ and hides server paths
(`guard.redact`). Every ui module that shows a message or a problem reads them from here.
"""

from __future__ import annotations

import html
import re

from .guard import redact
from .i18n import say


def text_of(message: dict) -> str:
    """A message's text, whether the content is a string or gradio's list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    if isinstance(content, dict):
        return content.get("text", "")
    return "" if content is None else str(content)


def normalize(history: list | None) -> list[dict]:
    """The history as plain {"role", "content"[, "metadata"]} dicts with string content."""
    out = []
    for m in history or []:
        item = {"role": m["role"], "content": text_of(m)}
        if m.get("metadata"):
            item["metadata"] = dict(m["metadata"])
        out.append(item)
    return out


def shown(text: str) -> str:
    return html.escape(text, quote=False)


def model_messages(history: list | None) -> list[dict]:
    """What the model sees: user and assistant turns, unescaped, without the info messages."""
    return [{"role": m["role"], "content": html.unescape(text_of(m))} for m in history or []
            if not m.get("metadata") and m["role"] in ("user", "assistant")]


def plot_messages(history: list | None) -> list[dict]:
    """The context of the plot: the conversation, minus its last assistant reply if it ends with one.

    So after a reply the plot shows the distribution of that reply's first token (what Regenerate
    samples from); after a user turn or with an empty chat it shows the next reply's first token.
    """
    msgs = model_messages(history)
    if msgs and msgs[-1]["role"] == "assistant":
        msgs.pop()
    return msgs


def last_user_index(history: list[dict]) -> int:
    return max((i for i, m in enumerate(history) if m["role"] == "user" and not m.get("metadata")), default=-1)


def said(text: str) -> str:
    """Text for a status line (Markdown): `<`, `>` and `&` backslash-escaped, so markup shows as text on the
    page and an API client reads no HTML entities."""
    return re.sub(r"([<>&])", r"\\\1", text)


def problem(text: str) -> str:
    return f"⚠️ {said(redact(say(text)))}"
