"""What the page lets each visitor do: the caps a reply must fit, and no server path in a message.

`refusal` is called at the entry of every handler that starts a reply (chat send and regenerate, the
inspector's step and branch), before any decoding: a reply longer than `max_new_tokens_cap`, or a
prompt longer than `max_prompt_tokens`, is refused with a message naming the cap (`Limits.refusal`).
`redact` rewrites any path under the server's own folders (the app, the Python installation, the home
and temp folders, the model cache) to its last part, for the status lines (`messages.problem`).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from functools import cache
from pathlib import Path

from ..engine import Engine
from ..limits import Limits
from ..params import GenerationParams

DEFAULT = Limits()


def refusal(engine: Engine, limits: Limits | None, params: GenerationParams, messages: list[dict] | None = None,
            system: str | None = None) -> str | None:
    """Why this reply must not start (a message naming the cap), or None. `messages` (the model's view of the
    conversation, ending with the user turn) is counted with the chat template; None: the prompt is not new."""
    limits = limits or DEFAULT
    refused = limits.refusal(params.max_new_tokens)
    if refused or messages is None:
        return refused
    return limits.refusal(params.max_new_tokens, len(engine.prompt_ids(messages, system=system)))


@cache
def _roots() -> tuple[str, ...]:
    """The server's folders, longest first (a path under two is cut at the deeper one)."""
    from .. import loader

    found = {Path(__file__).resolve().parents[2], Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix),
             Path.home(), Path(tempfile.gettempdir()), loader.cache_dir(), Path.cwd()}
    found |= {Path(os.environ[v]) for v in ("HF_HOME", "GRADIO_TEMP_DIR", "VIRTUAL_ENV") if os.environ.get(v)}
    out = set()
    for p in found:
        for q in (p, p.resolve()):
            if str(q) not in ("/", ""):
                out.add(str(q).rstrip("/"))
    return tuple(sorted(out, key=len, reverse=True))


@cache
def _pattern() -> re.Pattern:
    return re.compile("(?:" + "|".join(re.escape(r) for r in _roots()) + r")(?=/|\b|$)[^\s'\"`<>),;]*")


def redact(text: str) -> str:
    """`text` with every path under a server folder cut to its last part: "…/name"."""
    return _pattern().sub(lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)
