"""Where a reply comes from: the `Backend` protocol and the local engine behind it.

A backend answers three questions: which settings can you honour (`refusals` names the ones it
cannot, in the words of our validation), stream a reply (`Step`s, then a `Done`), and how much of
each step can you show (`exact`, `probs`).

- `LocalBackend` (here): this process's engine. Exact: the full logits, every stage of the chain traced;
  `Candidate.prob_raw` is the model's distribution and `prob_final` what the token was drawn from.
- `OpenAIBackend` (`remote.py`): any OpenAI-compatible server (vLLM, llama.cpp's server, TGI, Ollama,
  OpenAI, another playground). Not exact: each step carries the server's top-20 logprobs, which are
  either before or after its samplers (`probs`), and no chain.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol

from .params import GenerationParams
from .records import Done, Step

# What a backend's per-step probabilities are (`Backend.probs`).
BEFORE = "before"  # the model's own distribution, before any sampler
AFTER = "after"  # the distribution the token was drawn from, after every sampler
UNKNOWN = "unknown"  # the server does not say


class Backend(Protocol):
    name: str  # "local" or "openai"
    exact: bool  # full logits and every stage traced (the chain view and the plot are exact)
    probs: str  # BEFORE, AFTER or UNKNOWN: what a step's candidate probabilities are

    def describe(self) -> str:
        """One line for the page and the command line: the model, where it runs, what its probabilities are."""
        ...

    def refusals(self, params: GenerationParams) -> list[str]:
        """A message per setting this backend cannot honour ("`top_k` ... but is 40. ..."); empty when all can."""
        ...

    def stream(self, messages: list[dict], params: GenerationParams, system: str | None = None, top_n: int = 20,
               cancel: threading.Event | None = None) -> Iterator[Step | Done]:
        """A `Step` per generated token, then a `Done`; raises `ParamError` for refused settings."""
        ...


class BackendError(Exception):
    """A backend could not answer: one line for the user, naming the server and what to do (never the key)."""


class LocalBackend:
    """This process's engine: exact, every parameter honoured."""

    name, exact, probs = "local", True, AFTER

    def __init__(self, engine):
        self.engine = engine

    def describe(self) -> str:
        loaded = self.engine.loaded
        return f"{loaded.model_id} on this machine ({str(loaded.dtype).removeprefix('torch.')}, {loaded.device}): exact"

    def refusals(self, params: GenerationParams) -> list[str]:
        return []

    def stream(self, messages: list[dict], params: GenerationParams, system: str | None = None, top_n: int = 20,
               cancel: threading.Event | None = None) -> Iterator[Step | Done]:
        return self.engine.stream(messages, params, system=system, top_n=top_n, cancel=cancel)
