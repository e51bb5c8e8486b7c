"""Sharing what a visitor saw: a page link, and a session file that replays without the model.

**Link** (`link_state` / `read_link`): the settings that differ from the defaults (or a preset's name
when one matches them exactly), the system prompt, the conversation, the seed and the step the plot
shows, as compact JSON, deflated and base64url-encoded into one query value (`?s=...`). Reading it
validates everything (the parameters through `params.build`, the texts and the conversation through
the page's own input rules) and raises `ParamError` with one clear message: a damaged or tampered link
loads nothing half-way.

**Session file** (`session_json` / `read_session`): a versioned JSON document with the conversation,
the settings, the seed, the model id and dtype, and the last reply's records (its tokens, each step's
top candidates with their fate, and the chain table rows when recorded): what the inspector needs to
show every step again without running the model. A file of another format version, or of another
model or dtype than the one the server runs, is refused with a message naming both.
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

from .inputs import history as check_history  # the page's rules for a conversation
from .inputs import text as check_text
from .params import DEFAULTS, GenerationParams, ParamError, build
from .records import Candidate, Step

FORMAT, VERSION = "sampling-playground-session", 1
LINK_VERSION = 1
MAX_LINK = 8000  # characters of the encoded value: longer conversations go in a session file
TOP = 50  # candidates kept per step in a session file


@dataclass
class Shared:
    """What a link or a session file restores on the page."""

    params: GenerationParams
    system: str = ""
    conversation: list[dict] = field(default_factory=list)  # {"role": "user"|"assistant", "content": str}
    step: int | None = None  # the step the plot shows (0-based), None for the next reply's first token
    preset: str | None = None  # the preset the link named, when it named one
    steps: list[Step] = field(default_factory=list)  # the last reply's records (session files only)
    finish_reason: str | None = None
    model: dict = field(default_factory=dict)  # {"id": ..., "dtype": ...} (session files only)


# --- the link -----------------------------------------------------------------------------------------
def link_state(params: GenerationParams, system: str, conversation: list[dict], step: int | None = None,
               presets: dict[str, GenerationParams] | None = None) -> str:
    """The `s` query value of a link to this page state; `ParamError` when it would be too long for a link."""
    state: dict[str, Any] = {"v": LINK_VERSION}
    named = next((n for n, p in (presets or {}).items() if p == params and params != DEFAULTS), None)
    if named:
        state["preset"] = named
    elif params.changed():
        state["p"] = params.changed()
    if system:
        state["sys"] = system
    if conversation:
        state["c"] = [[m["role"][0], m["content"]] for m in conversation]  # "u"/"a" and the text
    if step is not None:
        state["k"] = step
    raw = json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    value = base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode("ascii").rstrip("=")
    if len(value) > MAX_LINK:
        raise ParamError([f"`link` must be at most {MAX_LINK} characters, but this conversation makes {len(value)}. "
                          "Download the session file instead, or undo some turns."])
    return value


def read_link(value: Any, presets: dict[str, GenerationParams] | None = None) -> Shared:
    """The page state in a link's `s` value, validated as a whole; `ParamError` (nothing loaded) when it is not one."""
    if not isinstance(value, str) or not value or len(value) > MAX_LINK:
        raise _bad_link(f"it is {'empty' if not value else f'{len(value)} characters long'}")
    try:
        raw = zlib.decompressobj().decompress(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), 1_000_000)
        state = json.loads(raw.decode("utf-8"))
    except (ValueError, zlib.error, UnicodeDecodeError):
        raise _bad_link("it does not decode") from None
    if not isinstance(state, dict) or state.get("v") != LINK_VERSION:
        raise _bad_link(f"its version is {state.get('v') if isinstance(state, dict) else None!r}, not {LINK_VERSION}")
    unknown = set(state) - {"v", "preset", "p", "sys", "c", "k"}
    if unknown:
        raise _bad_link(f"it has unknown parts {sorted(unknown)}")
    if "preset" in state:
        if not isinstance(state["preset"], str) or state["preset"] not in (presets or {}):
            raise _bad_link(f"it names the preset {state['preset']!r}, which this server does not have")
        params = presets[state["preset"]]
    else:
        values = state.get("p", {})
        if not isinstance(values, dict):
            raise _bad_link("its settings are not a mapping")
        params = build(values, source="link")
    convo = state.get("c", [])
    if not isinstance(convo, list) or not all(isinstance(m, list) and len(m) == 2 and m[0] in ("u", "a") for m in convo):
        raise _bad_link("its conversation is not a list of [\"u\" or \"a\", text] pairs")
    conversation = [{"role": "user" if r == "u" else "assistant", "content": t} for r, t in convo]
    check_history(conversation)
    step = state.get("k")
    if step is not None and (not isinstance(step, int) or isinstance(step, bool) or step < 0):
        raise _bad_link(f"its step is {step!r}, not a whole number >= 0")
    return Shared(params, check_text("system", state.get("sys", "")), conversation, step, state.get("preset"))


def _bad_link(why: str) -> ParamError:
    return ParamError([f"`link` is damaged or was changed: {why}. Nothing was loaded; ask for the link again."])


# --- the session file ---------------------------------------------------------------------------------
def session_json(shared: Shared) -> str:
    """The session as a versioned JSON document (`Shared.model` must name the model id and dtype)."""
    doc = {"format": FORMAT, "version": VERSION, "model": shared.model, "params": shared.params.changed(),
           "system": shared.system, "conversation": shared.conversation, "finish_reason": shared.finish_reason,
           "steps": [_step_dict(s) for s in shared.steps]}
    return json.dumps(doc, ensure_ascii=False, indent=1, allow_nan=False)


def read_session(text: Any, model: dict | None = None, name: str = "the file") -> Shared:
    """A session file read back and validated; `model` ({"id", "dtype"}) is the server's, to compare."""
    try:
        doc = json.loads(text if isinstance(text, str) else bytes(text).decode("utf-8"))
    except (ValueError, TypeError, UnicodeDecodeError) as e:
        raise ParamError([f"{name} is not a session file: it is not JSON ({e})."]) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ParamError([f"{name} is not a session file of Sampling Playground (its `format` is "
                          f"{doc.get('format') if isinstance(doc, dict) else None!r})."])
    if doc.get("version") != VERSION:
        raise ParamError([f"{name} has session format version {doc.get('version')!r}; this server reads version {VERSION}. "
                          "Open it with the playground version that wrote it."])
    theirs = doc.get("model") or {}
    if model is not None and (theirs.get("id"), theirs.get("dtype")) != (model.get("id"), model.get("dtype")):
        raise ParamError([f"{name} was made with {theirs.get('id')!r} ({theirs.get('dtype')}), but this server runs "
                          f"{model.get('id')!r} ({model.get('dtype')}): its tokens and probabilities are another model's. "
                          "Open it where that model runs."])
    params = build(doc.get("params") or {}, source=name)
    conversation = doc.get("conversation") or []
    check_history(conversation)
    try:
        steps = [_step(s) for s in doc.get("steps") or []]
    except (TypeError, KeyError, ValueError) as e:
        raise ParamError([f"{name} has a damaged step record ({type(e).__name__}: {e})."]) from None
    return Shared(params, check_text("system", doc.get("system") or ""), conversation, None, None, steps,
                  doc.get("finish_reason"), theirs)


def _step_dict(s: Step) -> dict:
    d = {k: v for k, v in asdict(s).items() if k not in ("params", "candidates")}
    d["candidates"] = [asdict(c) for c in s.candidates[:TOP]]
    d["params"] = s.params.changed() if isinstance(s.params, GenerationParams) else None
    return _finite(d)


def _step(d: dict) -> Step:
    cands = [Candidate(int(c["id"]), str(c["token"]), _num(c["prob_raw"]), _num(c["prob_final"]), bool(c["kept"]),
                       c["removed_by"] if c["removed_by"] is None else str(c["removed_by"])) for c in d["candidates"]]
    params = build(d["params"]) if d.get("params") is not None else None
    stages = [{k: [tuple(x) for x in v] if isinstance(v, list) else v for k, v in row.items()}  # (token, p) pairs
              for row in d["stages"]] if d.get("stages") is not None else None
    return Step(int(d["step"]), int(d["token_id"]), str(d["token"]), _num(d["prob"]), _num(d["prob_raw"]), int(d["rank"]),
                cands, str(d["text"]), bool(d.get("forced", False)), stages, params)


def _finite(obj):
    """NaN (a remote server's unknown side) as null: JSON has no NaN."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _num(v) -> float:
    if v is None:
        return math.nan
    x = float(v)
    if not (0.0 <= x <= 1.0):
        raise ValueError(f"a probability must be in [0, 1], but is {v!r}")
    return x
