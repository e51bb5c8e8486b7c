"""An OpenAI request body read into our terms: the parameters (`GenerationParams`), the prompt and the options.

`chat(body, ...)` reads a `/v1/chat/completions` body, `completion(body, ...)` a `/v1/completions` one.
The OpenAI fields keep their names (temperature, top_p, n, stop, max_tokens / max_completion_tokens,
presence/frequency_penalty, logit_bias, seed, logprobs, top_logprobs); ours come as extra fields under
their `GenerationParams` names (top_k, min_p, typical_p, repetition_penalty...), plus the names vLLM and
llama.cpp use for two of them (`min_tokens`, `repeat_penalty`). `logprobs_mode` picks what logprobs
report: "processed" (default: the probabilities the token was drawn from, after the whole chain) or
"raw" (the model's own distribution). Every problem raises `ApiError` naming the request's field in
`param`, with the message of our validation (`params.build`) or of the instance's caps (`Limits`).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from .inputs import MAX_HISTORY, MAX_MESSAGES, MAX_TEXT  # the page's caps on texts
from .limits import Limits
from .params import SPECS, GenerationParams, ParamError, build
from .text import brief, surrogate_at

MAX_N = 8  # choices per request
MAX_TOP_LOGPROBS = 20  # OpenAI's cap
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
ALIASES = {"max_tokens": "max_new_tokens", "max_completion_tokens": "max_new_tokens", "min_tokens": "min_new_tokens",
           "repeat_penalty": "repetition_penalty"}  # request name -> ours
IGNORED = {"user", "metadata", "store", "stream_options", "service_tier"}  # accepted, no effect on the reply
MODES = ("processed", "raw")


class ApiError(Exception):
    """An OpenAI-shaped error: HTTP status, message, the request field at fault, a code."""

    def __init__(self, message: str, param: str | None = None, status: int = 400, code: str | None = None,
                 kind: str = "invalid_request_error"):
        super().__init__(message)
        self.message, self.param, self.status, self.code, self.kind = message, param, status, code, kind

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


@dataclass
class Request:
    params: GenerationParams
    n: int = 1
    stream: bool = False
    include_usage: bool = False
    logprobs: bool = False
    top_logprobs: int = 0
    mode: str = "processed"
    messages: list[dict] = field(default_factory=list)  # chat
    prompts: list[list[int] | str] = field(default_factory=list)  # completions: texts or token ids


def chat(body: Any, limits: Limits) -> Request:
    """A chat completions body; the messages are checked, not yet templated (the engine counts them)."""
    body = _object(body)
    messages = _messages(body.pop("messages", None))
    top = _int(body, "top_logprobs", 0, MAX_TOP_LOGPROBS, 0)
    logprobs = _bool(body, "logprobs")
    if top and not logprobs:
        raise ApiError("`top_logprobs` needs `logprobs` set to true, but logprobs is off. Set logprobs: true.", "top_logprobs")
    req = _common(body, limits)
    req.messages, req.logprobs, req.top_logprobs = messages, logprobs, top
    return req


def completion(body: Any, limits: Limits) -> Request:
    """A completions body: `prompt` is a text, a list of texts, or a list of token ids."""
    body = _object(body)
    prompt = body.pop("prompt", None)
    if isinstance(prompt, str) or (isinstance(prompt, list) and prompt and all(isinstance(t, int) and not isinstance(t, bool)
                                                                                 for t in prompt)):
        prompts = [prompt]
    elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        prompts = list(prompt)
    else:
        raise ApiError(f"`prompt` must be a text, a list of texts or a list of token ids, but is {brief(prompt)}.", "prompt")
    for p in prompts:
        if isinstance(p, str):
            _text("prompt", p)
    for name in ("echo", "suffix", "best_of"):
        if body.get(name) not in (None, False, 1):
            raise ApiError(f"`{name}` is not supported here, but is {brief(body[name])}. Leave it out.", name)
        body.pop(name, None)
    top = _int(body, "logprobs", 0, MAX_TOP_LOGPROBS, None)
    req = _common(body, limits)
    if len(prompts) * req.n > MAX_N:
        raise ApiError(f"`prompt` times `n` must be at most {MAX_N} replies, but is {len(prompts)} prompts x {req.n}. "
                       "Send fewer prompts per request.", "prompt")
    req.prompts, req.logprobs, req.top_logprobs = prompts, top is not None, top or 0
    return req


def _common(body: dict, limits: Limits) -> Request:
    body.pop("model", None)  # checked by the route
    n = _int(body, "n", 1, MAX_N, 1)
    stream = _bool(body, "stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise ApiError(f"`stream_options` must be an object, but is {brief(options)}.", "stream_options")
    mode = body.pop("logprobs_mode", None) or "processed"
    if mode not in MODES:
        raise ApiError(f"`logprobs_mode` must be one of {', '.join(MODES)}, but is {brief(mode)}. Use \"raw\" for the "
                       "model's own distribution.", "logprobs_mode")
    values, given = {}, {}  # ours -> value; ours -> the request's name for it
    for key, value in body.items():
        if key in IGNORED or value is None:
            continue
        ours = ALIASES.get(key, key)
        if ours not in SPECS:
            known = [*SPECS, *ALIASES, "n", "stream", "logprobs", "top_logprobs", "logprobs_mode", *IGNORED]
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean `{close[0]}`?" if close else " See the README for the fields this server takes."
            raise ApiError(f"{brief(key) if len(key) > 60 else f'`{key}`'} is not a parameter, but was given "
                           f"{brief(value)}.{hint}", key)
        if ours in given and values[ours] != value:
            raise ApiError(f"`{key}` and `{given[ours]}` set the same parameter, but differ: {brief(value)} and "
                           f"{brief(values[ours])}. Give one.", key)
        values[ours], given[ours] = value, key
    values.setdefault("max_new_tokens", limits.max_new_tokens)
    try:
        params = build(values)
    except ParamError as e:
        raise _named(e, given) from None
    if params.mode == "beam":
        raise ApiError(f"`num_beams` must be 1 over the API, but is {params.num_beams}: beam search does not stream and "
                       "does not run in the shared batch. Use the page or `python -m playground generate`.", given["num_beams"])
    if refused := limits.refusal(params.max_new_tokens):
        raise ApiError(_rename(refused, given), given.get("max_new_tokens", "max_tokens"))
    return Request(params, n, stream, bool(options.get("include_usage")), mode=mode)


def _named(e: ParamError, given: dict[str, str]) -> ApiError:
    """Our validation's message, in the request's names; `param` is the first field it names."""
    message = _rename(" ".join(e.messages), given)
    m = re.search(r"`([A-Za-z_]+)`", message)
    return ApiError(message, m.group(1) if m else None)


def _rename(message: str, given: dict[str, str]) -> str:
    for ours, theirs in given.items():
        if ours != theirs:  # `max_new_tokens` and "Set max_new_tokens to", not "max_new_tokens_cap"
            message = re.sub(rf"(?<![\w]){ours}(?!\w)", theirs, message)
    return message


def _object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise ApiError(f"The request body must be a JSON object, but is {brief(body)}.")
    return dict(body)


def _bool(body: dict, name: str) -> bool:
    v = body.pop(name, None)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise ApiError(f"`{name}` must be true or false, but is {brief(v)}.", name)
    return v


def _int(body: dict, name: str, lo: int, hi: int, default):
    v = body.pop(name, None)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ApiError(f"`{name}` must be a whole number in [{lo}, {hi}], but is {brief(v)}.", name)
    return v


def _text(name: str, value: str) -> None:
    if len(value) > MAX_TEXT:
        raise ApiError(f"`{name}` must be at most {MAX_TEXT} characters, but is {len(value)} characters long. Shorten it.", name)
    at = surrogate_at(value)
    if at >= 0:
        raise ApiError(f"`{name}` must be text, but holds a lone surrogate at character {at}. Remove it.", name)


def _messages(value: Any) -> list[dict]:
    """role/content dicts for the chat template: content flattened to text, "developer" read as "system"."""
    if not isinstance(value, list) or not value:
        raise ApiError(f"`messages` must be a non-empty list of {{role, content}} objects, but is {brief(value)}.", "messages")
    if len(value) > MAX_MESSAGES:
        raise ApiError(f"`messages` must hold at most {MAX_MESSAGES} messages, but has {len(value)}.", "messages")
    out, total = [], 0
    for i, m in enumerate(value):
        name = f"messages[{i}]"
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise ApiError(f"`{name}` must be an object with a role among {', '.join(ROLES)} and a text content, but is "
                           f"{brief(m)}.", name)
        content = m.get("content")
        if isinstance(content, list):  # content parts: text only
            if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content):
                raise ApiError(f"`{name}.content` parts must be {{type: \"text\", text: ...}} (this model reads text only), "
                               f"but are {brief(content)}.", f"{name}.content")
            content = "".join(p["text"] for p in content)
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise ApiError(f"`{name}.content` must be text, but is {brief(content)}.", f"{name}.content")
        _text(f"{name}.content", content)
        total += len(content)
        if total > MAX_HISTORY:
            raise ApiError(f"`messages` must be at most {MAX_HISTORY} characters in all, but passes that at message {i}.",
                           "messages")
        out.append({"role": ROLES[m["role"]], "content": content})
    return out
