"""Per-deployment caps: what one instance lets each visitor do, set by flags or environment variables.

A workshop room or a public Space shares one model between everyone, so the length of a reply, the
size of a prompt, the number of waiting replies and the decode batch are capped here, shown on the
page and enforced with a message naming the cap. `Limits.from_env()` reads the environment; `app.py`
adds a flag for each (the flag wins). Public mode (`--public`, `PLAYGROUND_PUBLIC=1`, or on by default
when `SPACE_ID` is set, as on a Hugging Face Space) keeps visitors off the server's disk and away from
its paths and settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace

from .params import GenerationParams


@dataclass(frozen=True)
class Limits:
    max_new_tokens: int = 128  # the UI's default reply length
    max_new_tokens_cap: int = 1024  # the most any reply may ask for
    max_prompt_tokens: int = 1536  # the most prompt tokens (system + conversation) a reply may start from
    queue_size: int = 64  # replies waiting for a place in the batch, all users together
    batch_size: int = 16  # replies decoded together in one forward pass (bench/RESULTS.md: 16 rows ~2.7x the step of 1)
    session_ttl: int = 1800  # seconds a session's last reply is kept after its last use (API clients never say bye)
    public: bool = False  # no disk writes, no server paths, no model change from the page

    # name -> (environment variable, flag help)
    ENV = {
        "max_new_tokens": ("PLAYGROUND_MAX_NEW_TOKENS", "default reply length in the UI"),
        "max_new_tokens_cap": ("PLAYGROUND_MAX_NEW_TOKENS_CAP", "most tokens one reply may ask for"),
        "max_prompt_tokens": ("PLAYGROUND_MAX_PROMPT_TOKENS", "most prompt tokens (system + conversation)"),
        "queue_size": ("PLAYGROUND_QUEUE_SIZE", "replies that may wait for a place in the batch"),
        "batch_size": ("PLAYGROUND_BATCH_SIZE", "replies decoded together in one forward pass"),
        "session_ttl": ("PLAYGROUND_SESSION_TTL", "seconds an idle session's last reply is kept"),
        "public": ("PLAYGROUND_PUBLIC", "public mode: no disk writes, no paths or model change (default on a Space)"),
    }

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if f.type == "int" and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"`{f.name}` must be a whole number >= 1, but is {v!r}. "
                                 f"Set {self.ENV[f.name][0]} or --{f.name.replace('_', '-')} to a positive number.")
        if self.max_new_tokens > self.max_new_tokens_cap:
            raise ValueError(f"`max_new_tokens` must be at most `max_new_tokens_cap` ({self.max_new_tokens_cap}), "
                             f"but is {self.max_new_tokens}. Raise the cap or lower the default.")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> Limits:
        """The caps from the environment (PLAYGROUND_*), then `overrides` (flags; None = not given)."""
        env = os.environ if env is None else env
        values = {}
        for name, (var, _) in cls.ENV.items():
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            if name == "public":
                values[name] = raw.strip().lower() in ("1", "true", "yes", "on")
                continue
            try:
                values[name] = int(raw)
            except ValueError:
                raise ValueError(f"`{name}` must be a whole number, but {var} is {raw!r}.") from None
        if "public" not in values and env.get("SPACE_ID"):
            values["public"] = True
        values.update({k: v for k, v in overrides.items() if v is not None})
        cap = values.get("max_new_tokens_cap")
        if "max_new_tokens" not in values and isinstance(cap, int) and cap >= 1:  # a low cap lowers the default with it
            values["max_new_tokens"] = min(cls.max_new_tokens, cap)
        return replace(cls(), **values)

    def start_params(self) -> GenerationParams:
        """The page's starting settings (Reset, and the base of every preset): the defaults, with this
        instance's reply length."""
        return GenerationParams(max_new_tokens=self.max_new_tokens)

    def refusal(self, max_new_tokens: int, prompt_tokens: int | None = None) -> str | None:
        """Why a reply must not start under these caps (one message naming the cap and the value), or None."""
        if max_new_tokens > self.max_new_tokens_cap:
            return (f"`max_new_tokens` must be at most {self.max_new_tokens_cap} on this instance (the max_new_tokens_cap), "
                    f"but is {max_new_tokens}. Set max_new_tokens to {self.max_new_tokens_cap} or less.")
        if prompt_tokens is not None and prompt_tokens > self.max_prompt_tokens:
            return (f"The prompt must be at most {self.max_prompt_tokens} tokens on this instance (the max_prompt_tokens "
                    f"cap), but is {prompt_tokens} (system prompt and conversation). Undo or Clear earlier turns, or "
                    "shorten the message or the system prompt.")
        return None

    def describe(self) -> str:
        """One line for the page: the caps every visitor shares."""
        return (f"Caps on this instance: replies up to {self.max_new_tokens_cap} tokens (default {self.max_new_tokens}), "
                f"prompts up to {self.max_prompt_tokens} tokens, {self.batch_size} replies decoded together, "
                f"{self.queue_size} may wait" + (" · public mode" if self.public else "") + ".")
