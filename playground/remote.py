"""The `openai` backend: any OpenAI-compatible server, through the official `openai` client.

Which server it is (`kind`) decides which of our fields it takes and what its logprobs mean; it is given,
or detected from `/v1/models` (`owned_by`: "vllm", "llamacpp", "sampling-playground"; anything else is
treated as plain OpenAI):

- `openai` (OpenAI, TGI, Ollama...): the OpenAI fields only (temperature, top_p, max tokens, the two
  penalties, stop, seed, logit_bias by token id). Its logprobs: not documented as before or after its samplers.
- `vllm`: also top_k, min_p, repetition_penalty, min_tokens. Logprobs before its samplers (vLLM's default
  `--logprobs-mode raw_logprobs`; a server started with a `processed_*` mode reports them after).
- `llamacpp`: also top_k, min_p, typical_p, repeat_penalty, DRY, XTC, top-n-sigma, dynamic temperature,
  mirostat and the sampler order (`samplers`, from the stage
  registry's llama.cpp names). We ask for `post_sampling_probs`, so its logprobs are after its samplers.
- `playground`: every one of our fields; logprobs after the whole chain (its default `logprobs_mode`).

Every field a server takes is sent, neutral values included: servers have defaults of their own
(llama.cpp samples with top_k 40 and min_p 0.05 unless told; vLLM follows the model's generation_config).
A changed setting a server cannot take is refused before anything is sent (`refusals`). The API key
is read from the environment only (`api_key_env`) and never logged or shown; errors from the server
become one `BackendError` line. Remote tokens have no ids here (the server's tokenizer is not ours):
`token_id` and `Candidate.id` are -1, and `rank` is 0 when the chosen token is not among the top ones.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from . import formats
from .backends import AFTER, BEFORE, UNKNOWN, BackendError
from .params import SPECS, GenerationParams, ParamError, token_id
from .records import Candidate, Done, Step

MAX_TOP = 20  # OpenAI's cap on top_logprobs
OPENAI_FIELDS = frozenset({"do_sample", "temperature", "top_p", "max_new_tokens", "presence_penalty", "frequency_penalty",
                           "stop", "seed", "logit_bias"})  # what `GenerationParams.to_openai_request` carries
FINISH = {"length": "length", "content_filter": "stop", "tool_calls": "stop", "function_call": "stop"}


@dataclass(frozen=True)
class Server:
    """What one kind of server takes beyond the OpenAI fields, and what its logprobs are."""

    label: str
    fields: dict[str, str]  # our field -> its name in the request body
    probs: str  # BEFORE, AFTER or UNKNOWN
    probs_text: str  # the same, said for the page
    extra: dict = field(default_factory=dict)  # fixed extra body fields
    llama_cpp_order: bool = False  # send our sampler order as llama.cpp's `samplers`

    @property
    def takes(self) -> frozenset[str]:
        """Our fields this kind of server takes: the OpenAI ones, its own, and the order where it is sent."""
        return OPENAI_FIELDS | set(self.fields) | ({"sampler_order"} if self.llama_cpp_order else set())


# The peers' samplers the llama.cpp server takes under our own names (its /completion fields).
LLAMA_SAME = ("dry_multiplier", "dry_base", "dry_allowed_length", "dry_penalty_last_n", "dry_sequence_breakers",
              "xtc_probability", "xtc_threshold", "top_n_sigma", "dynatemp_range", "dynatemp_exponent", "mirostat",
              "mirostat_tau", "mirostat_eta")


SERVERS = {
    "openai": Server("OpenAI-compatible server", {}, UNKNOWN,
                     "the server's top tokens; it does not say whether before or after its samplers"),
    "vllm": Server("vLLM", {"top_k": "top_k", "min_p": "min_p", "repetition_penalty": "repetition_penalty",
                            "min_new_tokens": "min_tokens"}, BEFORE,
                   "vLLM's top tokens before its samplers (its default --logprobs-mode raw_logprobs)"),
    "llamacpp": Server("llama.cpp server", {"top_k": "top_k", "min_p": "min_p", "typical_p": "typical_p",
                                            "repetition_penalty": "repeat_penalty", **{n: n for n in LLAMA_SAME}}, AFTER,
                       "llama.cpp's top tokens after its samplers (post_sampling_probs)",
                       extra={"post_sampling_probs": True}, llama_cpp_order=True),
    "playground": Server("Sampling Playground", {n: n for n in SPECS if n not in OPENAI_FIELDS}, AFTER,
                         "the playground's top tokens after its whole chain"),
}
# What a step's candidates are, said under the plot (per `Backend.probs`).
PLOT_LABEL = {BEFORE: f"the server's top {MAX_TOP}, before its samplers", AFTER: f"the server's top {MAX_TOP}, after its samplers",
              UNKNOWN: f"the server's top {MAX_TOP} (it does not say whether before or after its samplers)"}
BEAMS = "a remote server streams one sampled reply; beam search needs the local engine"
OWNERS = {"vllm": "vllm", "llamacpp": "llamacpp", "sampling-playground": "playground"}  # /v1/models owned_by -> kind


class OpenAIBackend:
    """One model on one OpenAI-compatible server (see the module's docstring)."""

    name, exact = "openai", False

    def __init__(self, base_url: str, model: str, kind: str = "openai", api_key_env: str | None = None,
                 timeout: float = 120.0, http_client=None):
        import openai

        if kind not in SERVERS:
            raise ParamError([f"`--server-kind` must be one of auto, {', '.join(SERVERS)}, but is {kind!r}."])
        key = os.environ.get(api_key_env, "") if api_key_env else ""
        if api_key_env and not key:
            raise BackendError(f"The environment variable {api_key_env} is empty or unset: set it to the server's API key.")
        self.base_url, self.model, self.kind, self.server, self.timeout = base_url, model, kind, SERVERS[kind], timeout
        self.key_env = api_key_env
        self.context: int | None = None  # llama.cpp's context length, asked by `connect`
        self.client = openai.OpenAI(base_url=base_url, api_key=key or "none", timeout=timeout, max_retries=0,
                                    http_client=http_client)

    @classmethod
    def connect(cls, base_url: str, model: str | None = None, kind: str = "auto", api_key_env: str | None = None,
                timeout: float = 120.0, http_client=None) -> OpenAIBackend:
        """Ask the server for its models: pick `model` (or its only one) and, with kind "auto", detect the kind."""
        backend = cls(base_url, model or "", "openai" if kind == "auto" else kind, api_key_env, timeout, http_client)
        models = backend._call(lambda: list(backend.client.models.list()))
        ids = [m.id for m in models]
        if not model:
            if len(ids) != 1:
                raise BackendError(f"The server at {base_url} serves {len(ids)} models ({', '.join(ids[:8]) or 'none'}): "
                                   "name one with --model.")
            model = ids[0]
        elif ids and model not in ids:
            raise BackendError(f"The server at {base_url} has no model `{model}`; it serves: {', '.join(ids[:8])}.")
        backend.model = model
        if kind == "auto":
            owner = next((getattr(m, "owned_by", "") for m in models if m.id == model), "")
            backend.kind = OWNERS.get(owner, "openai")
            backend.server = SERVERS[backend.kind]
        if backend.kind == "llamacpp":
            backend.context = backend._llama_context()
        return backend

    def _llama_context(self) -> int | None:
        """llama.cpp's context length (`/props`, beside `/v1`): its windows take no -1 for "all", so "all" is this."""
        import httpx

        root = str(self.client.base_url).rstrip("/").removesuffix("/v1")
        try:
            props = self.client.get(root + "/props", cast_to=httpx.Response).json()
            return int(props["default_generation_settings"]["n_ctx"])
        except Exception:  # noqa: BLE001 - an older or other server: the windows then stay the server's own
            return None

    @property
    def probs(self) -> str:
        return self.server.probs

    @property
    def plot_label(self) -> str:
        return PLOT_LABEL[self.server.probs]

    def describe(self) -> str:
        return f"{self.model} on a {self.server.label} at {self.base_url}: {self.server.probs_text}; no chain view"

    # --- what it takes ---------------------------------------------------------------------------------
    def untaken(self) -> dict[str, str]:
        """Each of our fields this server cannot take, with the reason (for the page's greyed controls)."""
        return {name: BEAMS if name == "num_beams" else f"the server ({self.server.label}) does not take it" for name in SPECS
                if name == "num_beams" or name not in self.server.takes}

    def refusals(self, params: GenerationParams) -> list[str]:
        out = []
        if params.mode == "beam":
            out.append(f"`num_beams` must be 1 with a remote server, but is {params.num_beams}: it streams one sampled "
                       "reply. Use the local engine for beam search.")
        for name, value in params.changed().items():
            if name not in self.server.takes and name != "num_beams":
                default = SPECS[name].default
                out.append(f"`{name}` is not taken by a {self.server.label}, but is {value!r}. Set it back to {default!r}, "
                           "or use a server that takes it (vLLM, llama.cpp's server or a playground).")
        text = [k for k in params.logit_bias if token_id(k) is None]
        if text:
            out.append(f"`logit_bias` keys must be token ids with a remote server (its tokenizer is not this one), but "
                       f"{text[0]!r} is text. Use the token's id on that server.")
        return out

    def body(self, messages: list[dict], params: GenerationParams, system: str | None = None, top_n: int = MAX_TOP) -> dict:
        """The request: the OpenAI fields, then every field this kind of server takes (neutral ones too)."""
        convo = ([{"role": "system", "content": system}] if system else []) + list(messages)
        body = params.to_openai_request(convo, model=self.model)
        if self.kind != "openai":  # OpenAI's newer name; the other servers all know max_tokens
            body["max_tokens"] = body.pop("max_completion_tokens")
        extra = {wire: _plain(getattr(params, ours)) for ours, wire in self.server.fields.items()}
        extra.update(self.server.extra)
        if self.kind == "llamacpp":
            # Ours look back over the whole context (transformers' repetition penalty; DRY's -1); llama.cpp's windows
            # take no -1 and default to 64 tokens, so "all" is sent as its context length (unknown: left to the server).
            if extra.get("dry_penalty_last_n") == -1:
                extra.pop("dry_penalty_last_n")
                if self.context:
                    extra["dry_penalty_last_n"] = self.context
            if self.context:
                extra["repeat_last_n"] = self.context
        if self.server.llama_cpp_order:
            extra["samplers"] = formats.llamacpp_samplers(params)  # what runs, in our order, by llama.cpp's names
        body.update(logprobs=True, top_logprobs=max(0, min(top_n, MAX_TOP)))
        return {**body, "extra_body": extra} if extra else body

    # --- a reply ---------------------------------------------------------------------------------------
    def stream(self, messages: list[dict], params: GenerationParams, system: str | None = None, top_n: int = MAX_TOP,
               cancel: threading.Event | None = None) -> Iterator[Step | Done]:
        if problems := self.refusals(params):
            raise ParamError(problems)
        body = self.body(messages, params, system, top_n)
        start, first, text, steps, finish, prompt_tokens, no_logprobs = time.perf_counter(), None, "", [], None, 0, False
        chunks = self._call(lambda: self.client.chat.completions.create(
            **body, stream=True, stream_options={"include_usage": True}))
        with chunks:
            for chunk in self._iterate(chunks):
                if cancel is not None and cancel.is_set():
                    finish = "cancelled"
                    break
                if chunk.usage is not None:
                    prompt_tokens = chunk.usage.prompt_tokens or 0
                for choice in chunk.choices[:1]:
                    first = first or time.perf_counter()
                    content = choice.delta.content or "" if choice.delta else ""
                    entries = (choice.logprobs.content or []) if choice.logprobs else []
                    text += content
                    new = [self._step(len(steps) + i, e, text) for i, e in enumerate(entries)]
                    if content and not entries:  # a server that returns no logprobs: the text, without candidates
                        no_logprobs = True
                        new = [Step(len(steps), -1, content, math.nan, math.nan, 0, [], text)]
                    steps += new
                    yield from new
                    if choice.finish_reason:
                        finish = FINISH.get(choice.finish_reason) or ("stop" if params.stop else "eos")
        seconds = time.perf_counter() - (first or start)
        notice = "the server returned no logprobs, so there are no candidates to plot" if no_logprobs else None
        yield Done(text, finish or "length", [-1] * len(steps), params.seed, seconds, prompt_tokens, notice, steps)

    def _step(self, n: int, entry, text: str) -> Step:
        """One token's `Step` from its logprobs entry: the server's top tokens as candidates. llama.cpp's server,
        asked for `post_sampling_probs`, sends `prob` and `top_probs` (probabilities) instead of `logprob` and
        `top_logprobs`; either is read."""
        before = self.server.probs != AFTER
        p = _entry_prob(entry)
        tops = [(_get(t, "token"), _entry_prob(t)) for t in _get(entry, "top_logprobs") or _get(entry, "top_probs") or []]
        top = [Candidate(-1, token, q if before else math.nan, math.nan if before else q, before or q > 0,
                         None if before or q > 0 else "the server") for token, q in tops]
        token = _get(entry, "token")
        rank = next((i for i, (t, _) in enumerate(tops, 1) if t == token), 0)
        return Step(n, -1, token, p, p if before else math.nan, rank, top, text)

    # --- errors ----------------------------------------------------------------------------------------
    def _call(self, fn):
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - every client error becomes one line
            raise self._error(e) from None

    def _iterate(self, chunks):
        iterator = iter(chunks)
        while True:
            try:
                chunk = next(iterator)
            except StopIteration:
                return
            except Exception as e:  # noqa: BLE001
                raise self._error(e) from None
            yield chunk

    def _error(self, e: Exception) -> BackendError:
        """One line for a client error, the API key masked wherever the server echoed it."""
        return BackendError(self.masked(str(self._one_line(e))))

    def masked(self, text: str) -> str:
        """`text` with the API key, wherever it appears (some servers and proxies echo it), as ***."""
        key = self.client.api_key
        return text.replace(key, "***") if key and key != "none" else text

    def _one_line(self, e: Exception) -> BackendError:
        import openai

        where = f"The server at {self.base_url}"
        if isinstance(e, openai.AuthenticationError):
            fix = f"set {self.key_env} to a key it accepts" if self.key_env else "pass --api-key-env NAME_OF_A_VARIABLE holding it"
            return BackendError(f"{where} refused the API key (401): {fix}.")
        if isinstance(e, openai.NotFoundError):
            return BackendError(f"{where} has no model `{self.model}` or no such endpoint (404). Check --model and --base-url "
                                "(it usually ends in /v1).")
        if isinstance(e, openai.RateLimitError):
            return BackendError(f"{where} is busy or over its rate limit (429): try again in a moment.")
        if isinstance(e, openai.APITimeoutError):
            return BackendError(f"{where} did not answer within {self.timeout:g} s.")
        if isinstance(e, openai.APIConnectionError):
            return BackendError(f"Cannot reach the server at {self.base_url}: {e.__cause__ or e}. Is it running?")
        if isinstance(e, openai.APIStatusError):
            message = _server_message(e)
            return BackendError(f"{where} answered {e.status_code}: {message}")
        if isinstance(e, BackendError):
            return e
        return BackendError(f"{where} sent something this client cannot read: {type(e).__name__}: {e}")


def _prob(logprob: float | None) -> float:
    return math.exp(logprob) if logprob is not None and logprob > -9999 else 0.0


def _get(obj, name: str):
    """A field of a logprobs entry: an attribute of the client's object, or a key of a dict (the client keeps
    fields it does not know, such as llama.cpp's `top_probs`, as plain dicts)."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _entry_prob(entry) -> float:
    """The probability of a logprobs entry: its `prob` (llama.cpp's post-sampling probabilities) or exp(`logprob`)."""
    prob = _get(entry, "prob")
    return float(prob) if prob is not None else _prob(_get(entry, "logprob"))


def _plain(v):
    return list(v) if isinstance(v, tuple) else v


def _server_message(e) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(getattr(e, "message", e))
