"""How a generation parameter is declared and checked, without the parameters themselves (`params.py`).

`P(...)` declares one field of `GenerationParams`; `Spec` is what the UI, validation and export read back
from it. `check_value` and `not_bool` hold the per-field rules the model's validators apply, `message`
turns a pydantic error into one line naming the field, the rule and the value, and `ParamError` carries
those lines. The limits on list sizes and text lengths live here too.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from .stages import ORDERS
from .text import brief, surrogate_at

ALL_MODES = ("sample", "greedy", "beam")
GROUPS = ("Sampling", "Penalties", "More samplers", "Length and stopping", "Beam search", "Advanced")
SAMPLER_ORDERS = {n: o.describe() for n, o in ORDERS.items()}  # the named orders' help text, from the stage registry
MAX_STOP = 4  # stop strings
MAX_STOP_CHARS = 200  # characters in one stop string (the stream holds back up to this many)
MAX_BREAKERS = 16  # DRY's sequence breakers
DRY_BREAKERS = ("\n", ":", "\"", "*")  # llama.cpp's and text-generation-webui's default
MAX_BIAS = 300  # logit_bias entries (OpenAI's limit too)
MAX_BIAS_KEY_CHARS = 200  # characters in one logit_bias key (no token is that long)


@dataclass(frozen=True)
class Spec:
    """What the UI, validation and export need to know about one parameter."""

    name: str
    default: Any
    kind: str  # "float", "int", "bool", "choice", "bias", "stop", "seed"
    group: str
    help: str
    formula: str = ""
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    step: float | None = None
    modes: tuple[str, ...] = ALL_MODES
    choices: tuple[str, ...] = ()

    @property
    def range_text(self) -> str:
        return f"{'(' if self.lo_open else '['}{num(self.lo)}, {num(self.hi)}{')' if self.hi_open else ']'}"

    def contains(self, v: float) -> bool:
        above = v > self.lo if self.lo_open else v >= self.lo
        below = v < self.hi if self.hi_open else v <= self.hi
        return above and below

    @property
    def ui_min(self) -> float:
        """Smallest value a slider may take: the low end, or one step above it when open."""
        return self.lo + self.step if self.lo_open else self.lo

    @property
    def ui_max(self) -> float:
        return self.hi - self.step if self.hi_open else self.hi


def num(x: float | None) -> str:
    if x is None:
        return ""
    if isinstance(x, int):
        return brief(x)
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def P(default, kind, group, help, formula="", lo=None, hi=None, lo_open=False, hi_open=False,
      step=None, modes=ALL_MODES, choices=()):
    """Declare one field: the keyword names mirror `Spec`."""
    extra = dict(kind=kind, group=group, formula=formula, lo=lo, hi=hi, lo_open=lo_open,
                 hi_open=hi_open, step=step, modes=tuple(modes), choices=tuple(choices))
    return Field(default, description=help, json_schema_extra=extra)


SAMPLE = ("sample",)
NOT_BEAM = ("sample", "greedy")
BEAM = ("beam",)


def token_id(key: str) -> int | None:
    """The token id a `logit_bias` key names (ASCII digits, spaces around allowed), or None for a token's text."""
    k = key.strip()
    return int(k) if k.isascii() and k.isdigit() and len(k) <= MAX_BIAS_KEY_CHARS else None


def _text(what: str, x: str) -> None:
    at = surrogate_at(x)
    if at >= 0:
        raise ValueError(f"{what} must be text, but {brief(x)} holds a lone surrogate {brief(x[at])} at character {at} "
                         "(half of a character: a bad paste?). Remove it.")


def _fix_hint(s: Spec) -> str:
    hints = {"top_p": "Use 1 to turn top-p off.", "typical_p": "Use 1 to turn typical sampling off.",
             "temperature": "Use 0 for greedy decoding.", "top_k": "Use 0 to turn top-k off.",
             "repetition_penalty": "Use 1 to turn it off."}
    return hints.get(s.name, f"Pick a value in {s.range_text}.")


def not_bool(s: Spec, v):
    """true/false is not a number here (pydantic would read it as 1/0)."""
    if isinstance(v, bool) and s.kind in ("float", "int", "seed"):
        raise ValueError(f"`{s.name}` must be a number in {s.range_text}, but is {v} (true/false). {_fix_hint(s)}")
    return v


def check_value(s: Spec, v):
    """`v` for field `s` when it keeps `s`'s rules (range, list sizes, text); ValueError naming the field otherwise."""
    if s.kind in ("float", "int") or (s.kind == "seed" and v is not None):
        if not s.contains(v):
            raise ValueError(f"`{s.name}` must be in {s.range_text}, but is {num(v)}. {_fix_hint(s)}")
    elif s.kind == "stop":  # a list of strings: the stop strings, DRY's breakers
        most = MAX_STOP if s.name == "stop" else MAX_BREAKERS
        if len(v) > most:
            raise ValueError(f"`{s.name}` must hold at most {most} strings, but has {len(v)}. Remove some.")
        if any(x == "" for x in v):
            raise ValueError(f"`{s.name}` strings must be non-empty, but one is ''. Remove the empty entry.")
        for x in v:
            if len(x) > MAX_STOP_CHARS:
                raise ValueError(f"`{s.name}` strings must be at most {MAX_STOP_CHARS} characters, but one is {len(x)} "
                                 f"characters long: {brief(x)}. Shorten it.")
            _text(f"`{s.name}` strings", x)
    elif s.kind == "bias":
        for k, b in v.items():
            if k == "":
                raise ValueError("`logit_bias` keys must be a token text or id, but one is ''.")
            if len(k) > MAX_BIAS_KEY_CHARS:
                raise ValueError(f"`logit_bias` keys must be at most {MAX_BIAS_KEY_CHARS} characters (one token's text "
                                 f"or id), but one is {len(k)} characters long: {brief(k)}.")
            _text("`logit_bias` keys", k)
            if not s.contains(b):
                raise ValueError(f"`logit_bias` values must be in {s.range_text}, but {brief(k)} has {num(b)}. "
                                 "Use -100 to ban a token, +100 to force it.")
    return v


class ParamError(ValueError):
    """Bad parameters: `messages` holds one readable line per problem, each naming the field."""

    def __init__(self, messages: list[str], source: str | None = None):
        self.messages = [f"{source}: {m}" if source else m for m in messages]
        super().__init__("\n".join(self.messages))


_TYPE_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "seed": "an integer or empty",
               "choice": "one of", "bias": "a mapping of token to number", "stop": "a list of strings"}


def message(err: dict, specs: dict) -> str:
    """One readable line for a pydantic error on `GenerationParams` (`specs`: its `SPECS`)."""
    loc = err.get("loc") or ("",)
    name = str(loc[0])
    if err["type"] == "extra_forbidden":
        close = difflib.get_close_matches(name, specs, n=1)
        hint = f" Did you mean `{close[0]}`?" if close else f" Known parameters: {', '.join(specs)}."
        label = f"`{name}`" if len(name) <= 60 else brief(name)
        return f"{label} is not a parameter, but was given {brief(err.get('input'))}.{hint}"
    if err["type"] == "value_error":
        return err["msg"].removeprefix("Value error, ")
    s = specs.get(name)
    if s is None:
        return err["msg"]
    want = _TYPE_WORDS[s.kind]
    if s.kind == "choice":
        want += " " + ", ".join(repr(c) for c in s.choices) + " or a comma-separated list of stages"
    return f"`{name}` must be {want}, but is {brief(err.get('input'))}."


def parse_assignment(text: str) -> tuple[str, Any]:
    """`key=value` from the command line, the value parsed as YAML (numbers, lists, mappings)."""
    import yaml

    if "=" not in text:
        raise ParamError([f"`--set` takes key=value, but got {text!r}."])
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except (yaml.YAMLError, ValueError):  # ValueError: an integer of over 4300 digits
        value = raw
    return key.strip(), value
