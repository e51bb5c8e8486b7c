"""The peers' preset formats, in and out: text-generation-webui's preset YAML and llama.cpp's server request JSON.

`to_webui(params)` is a text-generation-webui preset (`user_data/presets/<name>.yaml`: a flat mapping of
its parameter names, only those off its defaults), headed by a comment naming what it cannot carry;
`from_webui(text)` reads one. `to_llamacpp(params)` is the sampling part of a llama.cpp server request
(`/completion`: every field it takes, neutral ones too, since its defaults are not ours: top_k 40,
min_p 0.05...); `from_llamacpp(body)` reads one, with llama.cpp's defaults for the fields it leaves out.
The sampler order travels as their lists (`sampler_priority`, `samplers`), by the stage registry's names.

Reading: a key the format does not have is an error naming the file and the key (the closest known key
suggested); a key the format has and we do not (`guidance_scale`, `grammar`...) is ignored, and named in
`notes` with the reason when it is set to something that would change the reply. `not_carried(params,
fmt)` names what an export leaves out. Pure: no torch, no gradio.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

import yaml

from .params import DEFAULTS, SPECS, GenerationParams, ParamError, build, token_id
from .presets import KEY_RULE, MAX_BYTES, parse_preset
from .stages import LLAMA_CPP_CHAIN, STAGES, WEBUI_CHAIN, movable, named_orders, resolve_order
from .text import brief

# --- text-generation-webui ---------------------------------------------------------------------------
# Our fields it has under the same name, with the same meaning (modules/presets.py `default_preset`).
WEBUI_SAME = ("temperature", "top_p", "top_k", "min_p", "typical_p", "tfs", "top_a", "top_n_sigma", "smoothing_factor",
              "smoothing_curve", "xtc_threshold", "xtc_probability", "dry_multiplier", "dry_base", "dry_allowed_length",
              "repetition_penalty", "presence_penalty", "frequency_penalty", "no_repeat_ngram_size", "mirostat_tau",
              "mirostat_eta", "do_sample")
WEBUI_SCALED = {"epsilon_cutoff": 1e-4, "eta_cutoff": 1e-4}  # it takes them in units of 1e-4 (text_generation.py)
WEBUI_OWN = ("mirostat_mode", "dynamic_temperature", "dynatemp_low", "dynatemp_high", "dynatemp_exponent",
             "repetition_penalty_range", "dry_sequence_breakers", "sampler_priority", "temperature_last")
# Its keys we have no stage for: key -> (its neutral value, why it is ignored).
WEBUI_IGNORED = {
    "guidance_scale": (1, "classifier-free guidance needs a negative prompt, and there is none here"),
    "penalty_alpha": (0, "contrastive search is not offered here"),
    "encoder_repetition_penalty": (1, "the penalty on tokens absent from the prompt is not offered here"),
    "negative_prompt": ("", "there is no negative prompt here"),
}
WEBUI_DEFAULTS = {"repetition_penalty_range": 1024, "dry_sequence_breakers": '"\\n", ":", "\\"", "*"'}
WEBUI_NOT_CARRIED = ("max_new_tokens", "min_new_tokens", "seed", "stop", "logit_bias", "num_beams", "length_penalty",
                     "early_stopping", "num_return_sequences")  # settings of its page, not of a preset (or absent)
WEBUI_PROCESSORS = tuple(n for n in WEBUI_CHAIN if not any(s.webui == n and s.movable for s in STAGES.values()))

# --- llama.cpp server --------------------------------------------------------------------------------
# Our field -> its /completion field (tools/server/server.cpp `params_from_json_cmpl`).
LLAMA_FIELDS = {"temperature": "temperature", "top_k": "top_k", "top_p": "top_p", "min_p": "min_p", "typical_p": "typical_p",
                "repetition_penalty": "repeat_penalty", "max_new_tokens": "n_predict",
                **{n: n for n in ("presence_penalty", "frequency_penalty", "top_n_sigma", "xtc_probability", "xtc_threshold",
                                  "dry_multiplier", "dry_base", "dry_allowed_length", "dry_penalty_last_n",
                                  "dry_sequence_breakers", "dynatemp_range", "dynatemp_exponent", "mirostat", "mirostat_tau",
                                  "mirostat_eta", "seed", "stop", "logit_bias")}}
# What the server uses when a request leaves a field out (common/common.h `common_params_sampling`).
LLAMA_DEFAULTS = {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "typical_p": 1.0, "repeat_penalty": 1.0,
                  "repeat_last_n": 64, "n_predict": -1, "seed": -1, "top_n_sigma": -1.0, "samplers": None}
LLAMA_IGNORED = {  # its fields that change the reply and that we do not have: key -> (neutral, why)
    "grammar": ("", "grammars are not offered here"), "json_schema": (None, "JSON schemas are not offered here"),
    "ignore_eos": (False, "EOS always ends the reply here"), "min_keep": (0, "every filter here keeps at least 1 token"),
}
LLAMA_OTHER = ("prompt", "messages", "stream", "n_probs", "post_sampling_probs", "cache_prompt", "n_keep", "id_slot",
               "return_tokens", "t_max_predict_ms", "n_indent", "timings_per_token", "response_fields", "model",
               "n_cmpl", "lora", "samplers", "repeat_last_n", "temp")  # no effect on sampling, or read below
LLAMA_NOT_CARRIED = ("epsilon_cutoff", "eta_cutoff", "smoothing_factor", "smoothing_curve", "tfs", "top_a",
                     "no_repeat_ngram_size", "min_new_tokens", "num_beams", "length_penalty", "early_stopping",
                     "num_return_sequences")
LLAMA_PENALTIES = ("penalties", "dry")  # its `samplers` names of the penalties, which run first here


def _num(v: Any) -> Any:
    return round(v, 9) if isinstance(v, float) else v  # 0.7 + 1.7 = 2.4000000000000004 reads 2.4


def not_carried(params: GenerationParams, fmt: str) -> list[str]:
    """Our changed settings the format has no key for (dropped by the export), as `name value`."""
    names = WEBUI_NOT_CARRIED if fmt == "webui" else LLAMA_NOT_CARRIED
    out = [f"{n} {v!r}" for n, v in params.changed().items() if n in names]
    if fmt == "webui" and params.dry_penalty_last_n != -1 and params.repetition_penalty != 1:
        out.append(f"dry_penalty_last_n {params.dry_penalty_last_n} (its repetition_penalty_range is both DRY's range and "
                   "the repetition penalty's, which covers the whole text here)")
    if fmt == "webui" and params.dry_penalty_last_n == 0 and params.dry_multiplier:
        out.append("dry_penalty_last_n 0 (DRY off here; its repetition_penalty_range 0 is the whole text)")
    if fmt == "llamacpp" and (params.presence_penalty or params.frequency_penalty):
        out.append("presence_penalty/frequency_penalty count the reply's tokens only here; llama.cpp counts the prompt's too")
    return out


def _order_names(params: GenerationParams, tool: str) -> list[str]:
    """Our order by a tool's names, once each: where two stages share a name (temperature and dynamic temperature
    are llama.cpp's one temperature sampler), at the place of the one that runs."""
    out: dict[str, str] = {}  # the tool's name -> our stage placed there
    for n in resolve_order(params.sampler_order):
        name = getattr(STAGES[n], tool)
        if name and (name not in out or (STAGES[n].active(params, None) and not STAGES[out[name]].active(params, None))):
            out.pop(name, None)
            out[name] = n
    return list(out)


def llamacpp_samplers(params: GenerationParams) -> list[str]:
    """llama.cpp's `samplers` list for our chain: the penalties and DRY first, then our order by its names."""
    return list(LLAMA_PENALTIES) + _order_names(params, "llama_cpp")


def _order_from(names: list[str], tool: str) -> str:
    """A tool's list of sampler names as our `sampler_order`: a named order when it agrees with one on the stages
    the tool has, else the list itself (our stages the tool lacks run after it, in the default order)."""
    listed = []
    for name in names:
        listed += [n for n in movable() if getattr(STAGES[n], tool) == name and n not in listed]
    has = {n for n in movable() if getattr(STAGES[n], tool)}
    for oname, order in named_orders().items():
        if [n for n in order.stages if n in has] == [n for n in listed if n in has]:
            return oname
    return ",".join(listed)


def _unknown(key: str, known: list[str], source: str, what: str) -> ParamError:
    if not KEY_RULE.match(key):  # not a name: not quoted (it may be a line of some other file)
        return ParamError([f"holds a key that is not a {what} key (not shown: this may not be such a file)."], source)
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    return ParamError([f"`{key}` is not a {what} key, so it cannot be read.{hint} Remove it."], source)


def _ignored(data: dict, table: dict, notes: list[str], what: str) -> None:
    for key, (neutral, why) in table.items():
        if key in data and data[key] not in (neutral, None):
            notes.append(f"`{key}` {brief(data[key])} is ignored: {why} ({what}).")


# --- text-generation-webui ---------------------------------------------------------------------------
def to_webui(params: GenerationParams) -> str:
    """A text-generation-webui preset for these settings: only what differs from its defaults."""
    d = DEFAULTS
    out: dict[str, Any] = {k: getattr(params, k) for k in WEBUI_SAME if getattr(params, k) != getattr(d, k)}
    out.update({k: _num(getattr(params, k) / f) for k, f in WEBUI_SCALED.items() if getattr(params, k) != getattr(d, k)})
    if params.mirostat:
        out["mirostat_mode"] = params.mirostat
    if params.dynatemp_range:
        t, r = params.temperature, params.dynatemp_range
        out.update(dynamic_temperature=True, dynatemp_low=_num(max(0.0, t - r)), dynatemp_high=_num(t + r),
                   dynatemp_exponent=params.dynatemp_exponent)
    if params.repetition_penalty != 1 or params.dry_multiplier or params.dry_penalty_last_n != -1:  # its 0: the whole text
        out["repetition_penalty_range"] = 0 if params.dry_penalty_last_n == -1 else params.dry_penalty_last_n
    if params.dry_sequence_breakers != d.dry_sequence_breakers:
        out["dry_sequence_breakers"] = ", ".join(json.dumps(b) for b in params.dry_sequence_breakers)
    if params.sampler_order != "text-generation-webui":
        head = [n for n in WEBUI_CHAIN if n in WEBUI_PROCESSORS and WEBUI_CHAIN.index(n) < WEBUI_CHAIN.index("top_n_sigma")]
        tail = [n for n in WEBUI_PROCESSORS if n not in head]
        priority = head + _order_names(params, "webui") + tail
    lost = not_carried(params, "webui")
    note = [f"# Not in a text-generation-webui preset: {', '.join(lost)}."] if lost else []
    text = yaml.safe_dump(out, sort_keys=False, allow_unicode=True, width=100) if out else ""
    if params.sampler_order != "text-generation-webui":  # its own style: a block of names, one per line
        text += "sampler_priority: |-\n" + "".join(f"  {n}\n" for n in priority)
    return "\n".join(["# text-generation-webui preset exported from Sampling Playground", *note, text or "{}\n"])


def _priority(raw: Any, source: str) -> list[str]:
    if isinstance(raw, str):
        return [n.strip() for n in raw.replace(",", "\n").splitlines() if n.strip()]
    if isinstance(raw, list) and all(isinstance(n, str) for n in raw):
        return raw
    raise ParamError(["`sampler_priority` must be its sampler names, one per line, but is not."], source)


def from_webui(text: str, source: str = "preset.yaml", notes: list[str] | None = None) -> GenerationParams:
    """Our parameters from a text-generation-webui preset's YAML text; `notes` (when given) gets a line per key
    it sets that we ignore. Errors start with `source` and name the key."""
    notes = [] if notes is None else notes
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        raise ParamError(["is not valid YAML, so it is not a text-generation-webui preset."], source) from None
    if not isinstance(data, dict):
        raise ParamError(["must be a mapping of its parameter names to values, but is not."], source)
    data = {str(k): v for k, v in data.items()}
    known = [*WEBUI_SAME, *WEBUI_SCALED, *WEBUI_OWN, *WEBUI_IGNORED]
    for key in data:
        if key not in known:
            raise _unknown(key, known, source, "text-generation-webui preset")
    _ignored(data, WEBUI_IGNORED, notes, "text-generation-webui")
    values: dict[str, Any] = {k: data[k] for k in WEBUI_SAME if k in data}
    values.update({k: _num(data[k] * f) for k, f in WEBUI_SCALED.items() if isinstance(data.get(k), (int, float))})
    values.update({k: data[k] for k in WEBUI_SCALED if k in data and k not in values})  # not a number: build names it
    if "mirostat_mode" in data:
        values["mirostat"] = data["mirostat_mode"]
    if data.get("dynamic_temperature"):
        low, high = data.get("dynatemp_low", 1), data.get("dynatemp_high", 1)
        values.update(temperature=_num((low + high) / 2), dynatemp_range=_num((high - low) / 2),
                      dynatemp_exponent=data.get("dynatemp_exponent", 1))
    rng = data.get("repetition_penalty_range", WEBUI_DEFAULTS["repetition_penalty_range"])
    if data.get("dry_multiplier") or "repetition_penalty_range" in data:
        values["dry_penalty_last_n"] = -1 if rng == 0 else rng
    if rng != 0 and data.get("repetition_penalty", 1) != 1:
        notes.append(f"`repetition_penalty_range` {rng!r} is ignored for the repetition penalty, which covers the whole "
                     "text here (it is DRY's range).")
    if "dry_sequence_breakers" in data:
        raw = str(data["dry_sequence_breakers"])
        try:
            values["dry_sequence_breakers"] = json.loads(raw if raw.strip().startswith("[") else f"[{raw}]")
        except json.JSONDecodeError:
            raise ParamError(['`dry_sequence_breakers` must be quoted strings separated by commas ("\\n", ":"), '
                              "but is not."], source) from None
    priority = _priority(data.get("sampler_priority", list(WEBUI_CHAIN)), source)
    if data.get("temperature_last"):  # it moves these to the end (modules/sampler_hijack.py)
        moved = ["temperature", "dynamic_temperature", "quadratic_sampling"]
        priority = [n for n in priority if n not in moved] + moved
    values["sampler_order"] = _order_from(priority, "webui")
    return build(values, source=source)


# --- llama.cpp server --------------------------------------------------------------------------------
def to_llamacpp(params: GenerationParams) -> dict[str, Any]:
    """The sampling fields of a llama.cpp server request (`/completion`) for these settings."""
    body: dict[str, Any] = {}
    for ours, theirs in LLAMA_FIELDS.items():
        v = getattr(params, ours)
        body[theirs] = list(v) if isinstance(v, tuple) else v
    if params.mode == "greedy":
        body["temperature"] = 0.0  # llama.cpp: temperature <= 0 takes the most likely token
    body["repeat_last_n"] = -1  # the whole context: our repetition penalty covers the whole text
    body["seed"] = -1 if params.seed is None else params.seed
    body["logit_bias"] = [[token_id(k) if token_id(k) is not None else k, b] for k, b in params.logit_bias.items()]
    body["samplers"] = llamacpp_samplers(params)
    return body


def from_llamacpp(body: dict[str, Any], source: str = "request.json", notes: list[str] | None = None) -> GenerationParams:
    """Our parameters from a llama.cpp server request body, with the server's defaults for what it leaves out
    (the fields a `samplers` list leaves out do not run there: here they are turned off)."""
    notes = [] if notes is None else notes
    if not isinstance(body, dict):
        raise ParamError(["must be a JSON object (a llama.cpp request body), but is not."], source)
    known = [*LLAMA_FIELDS.values(), *LLAMA_IGNORED, *LLAMA_OTHER]
    for key in body:
        if key not in known:
            raise _unknown(str(key), known, source, "llama.cpp request")
    _ignored(body, LLAMA_IGNORED, notes, "llama.cpp")
    data = {**LLAMA_DEFAULTS, **({"temperature": body["temp"]} if "temp" in body else {}), **body}
    values = {ours: data[theirs] for ours, theirs in LLAMA_FIELDS.items() if theirs in data}
    if isinstance(values.get("temperature"), (int, float)) and values["temperature"] <= 0:
        values.update(do_sample=False, temperature=DEFAULTS.temperature)
    if isinstance(values.get("top_n_sigma"), (int, float)) and values["top_n_sigma"] < 0:
        values["top_n_sigma"] = 0.0  # its off (-1) is our 0
    values["seed"] = None if values.get("seed") == -1 else values.get("seed")
    if values.get("max_new_tokens") == -1:
        values["max_new_tokens"] = DEFAULTS.max_new_tokens
        notes.append(f"`n_predict` -1 (no limit) is read as max_new_tokens {DEFAULTS.max_new_tokens}.")
    if isinstance(values.get("logit_bias"), list):
        values["logit_bias"] = {str(k): (-100.0 if b is False else b) for k, b in values["logit_bias"]}
    rep = data["repeat_last_n"]
    if rep != -1 and (data["repeat_penalty"] != 1 or data.get("presence_penalty") or data.get("frequency_penalty")):
        notes.append(f"`repeat_last_n` {rep!r} is ignored: the penalties here cover the whole text (the reply, for "
                     "presence and frequency).")
    names = data["samplers"] if data["samplers"] is not None else list(LLAMA_CPP_CHAIN)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ParamError(["`samplers` must be a list of llama.cpp's sampler names, but is not."], source)
    for n in names:
        if n not in LLAMA_CPP_CHAIN:
            raise _unknown(n, list(LLAMA_CPP_CHAIN), source, "llama.cpp `samplers`")
    for s in STAGES.values():  # a sampler left out of `samplers` does not run there: turned off here
        if s.llama_cpp in LLAMA_CPP_CHAIN and s.llama_cpp not in names and \
                any(values.get(f, SPECS[f].default) != v for f, v in s.neutral.items()):
            notes.append(f"`samplers` leaves out {s.llama_cpp!r}, so {s.label} is off.")
            values.update(s.neutral)
    values["sampler_order"] = _order_from([n for n in names if n not in LLAMA_PENALTIES], "llama_cpp")
    return build(values, source=source)


def read_any(text: str, source: str) -> tuple[GenerationParams, str, list[str]]:
    """A preset in any format read here, told apart by its keys: a JSON object is a llama.cpp request; YAML with
    a key only text-generation-webui has (`sampler_priority`, `mirostat_mode`...) is its preset; other YAML is
    ours (a key of neither is then named as not our parameter; keys both share mean the same).
    Returns the parameters, the format's name and the notes on what was ignored."""
    notes: list[str] = []
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise ParamError([f"is larger than {MAX_BYTES // 1024} KB, so it is not a preset."], source)
    if text.lstrip().startswith("{"):
        try:
            body = json.loads(text)
        except json.JSONDecodeError as e:
            raise ParamError([f"is not valid JSON ({e.msg} at line {e.lineno}), so it is not a llama.cpp request."],
                             source) from None
        return from_llamacpp(body, source, notes), "llama.cpp request", notes
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if isinstance(data, dict) and any(str(k) in (*WEBUI_OWN, *WEBUI_IGNORED) for k in data):
        return from_webui(text, source, notes), "text-generation-webui preset", notes
    values, _ = parse_preset(text, source)
    return build(values, source=source), "Sampling Playground preset", notes
