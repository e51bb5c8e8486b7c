"""One control per generation parameter, generated from `params.SPECS`, and the value conversions.

`build_controls()` makes the components (inside the caller's Blocks) grouped in accordions, except the
`MAIN` ones, which `build_main()` lays out on the page's first screen beside the plot;
`to_params(values)` turns the controls' values (in `NAMES` order) into `GenerationParams` or raises
`ParamError` naming the field, the rule and the value (events that read the controls use
`preprocess=False`: gradio's own range check would say only "Value 1.5 is greater than maximum
value 1." without the field); `to_values(params)` is the reverse, for
presets and Reset; `activity(values)` says which controls are inactive in the current mode.

The settings mirror: each session keeps its controls' raw values in a dict (a `gr.State`) that every
control's own plot event updates with its new value (`remember`; a slider's `release` too, with the
value gradio clamps it to, `released_value`). The plot's events read the mirror
instead of taking all 25 controls as inputs: in gradio 6's page each input of an event costs about a
millisecond to collect and update around the request, which was a fifth of a slider move.
"""

from __future__ import annotations

import json
import math
from typing import Any

import gradio as gr

from .. import inputs
from ..params import GROUPS, MAX_BREAKERS, MAX_STOP, MAX_STOP_CHARS, SAMPLER_ORDERS, SPECS, GenerationParams, ParamError, build
from ..text import brief
from .i18n import say, t, tr

NAMES: tuple[str, ...] = tuple(SPECS)
# The controls that decide the mode: they stay usable even when the mode makes them moot.
MODE_SWITCHES = ("do_sample", "temperature", "num_beams")
OPEN_GROUPS = ("Sampling",)
# The sampling controls on the first screen, beside the plot (`build_main`); the rest stay in their groups.
MAIN = ("do_sample", "temperature", "top_k", "top_p", "min_p")

BIAS_HELP = ' One per line as `token: bias` (quote a token with spaces: `" cat": -100`), or JSON {"42": 5}.'
STOP_HELP = " One per line, or a JSON list such as [\"\\n\\n\", \"User:\"]."
STOP_TEXT = MAX_STOP * (12 * MAX_STOP_CHARS + 8)  # the longest text that can hold valid stop strings (JSON-escaped)


def help_text(name: str) -> str:
    s = SPECS[name]
    extra = {"bias": BIAS_HELP, "stop": STOP_HELP}.get(s.kind, "")
    rng = f" Range {s.range_text}." if s.kind in ("float", "int", "bias") else ""
    return f"{s.help}.{rng}{extra}".replace("..", ".")


def make_control(name: str, value=None, maximum: float | None = None):
    """The component for one parameter: label = name, info = help, elem_id = param-<name>. A checkbox's,
    slider's or choice's `value` and a slider's `maximum` default to the parameter's (a page may start
    lower, and cap a slider lower); the seed and the text fields start empty."""
    s = SPECS[name]
    common = dict(label=name, info=t(help_text(name)), elem_id=f"param-{name}")  # the name stays as it is
    value = s.default if value is None else value
    if s.kind == "bool":
        return gr.Checkbox(value=value, **common)
    if s.kind in ("float", "int"):
        return gr.Slider(minimum=s.ui_min, maximum=s.ui_max if maximum is None else maximum, step=s.step, value=value,
                         **common)
    if s.kind == "seed":
        # No minimum/maximum: gradio would clamp or reject out-of-range values without naming the field.
        return gr.Number(value=None, placeholder=t("random"), **common)
    if s.kind == "bias":
        return gr.Textbox(value="", lines=2, placeholder='" cat": -100', **common)
    if s.kind == "stop":  # the stop strings (empty), DRY's breakers (its default list)
        return gr.Textbox(value=value if isinstance(value, str) else format_stop(value), lines=2, placeholder="User:",
                          **common)
    if s.kind == "choice":
        # allow_custom_value: a named order, or the user's own typed in (stage names, comma-separated)
        return gr.Dropdown(choices=[(SAMPLER_ORDERS[c], c) for c in s.choices], value=value, allow_custom_value=True,
                           **common)
    raise ValueError(f"no control for parameter kind {s.kind!r} ({name})")


def group_id(group: str) -> str:
    """The elem_id of a parameter group's accordion: "More samplers" -> "group-more-samplers"."""
    return f"group-{group.lower().replace(' ', '-')}"


def build_main(start: GenerationParams | None = None) -> dict[str, gr.components.Component]:
    """The `MAIN` controls (showing `start`, the defaults when None), stacked in the caller's column."""
    shown = dict(zip(NAMES, to_values(start))) if start is not None else {}
    return {name: make_control(name, shown.get(name)) for name in MAIN}


def build_controls(start: GenerationParams | None = None, maxima: dict[str, float] | None = None,
                   main: dict[str, gr.components.Component] | None = None,
                   under: dict | None = None) -> dict[str, gr.components.Component]:
    """Every parameter's control but those in `main` (already made by `build_main`), in accordions per group,
    showing `start` (the defaults when None), with the sliders' `maxima` (name -> maximum, the parameter's own
    otherwise); `under` (name -> a function of the control) adds more right under a control. Returns name ->
    component for every parameter, `main` included, in `NAMES` order."""
    made, shown = dict(main or {}), dict(zip(NAMES, to_values(start))) if start is not None else {}
    for group in GROUPS:
        names = [n for n in NAMES if SPECS[n].group == group and n not in made]
        if not names:
            continue
        with gr.Accordion(t(group), open=group in OPEN_GROUPS, elem_id=group_id(group)):
            for name in names:
                made[name] = make_control(name, shown.get(name), (maxima or {}).get(name))
                if name in (under or {}):
                    under[name](made[name])
    return {n: made[n] for n in NAMES}


# --- text fields -----------------------------------------------------------------------------------
def parse_bias(raw: str | None) -> dict[str, float]:
    """`token: bias` lines or a JSON object -> {token: bias}; errors name `logit_bias` and the line."""
    text = inputs.text("logit_bias", raw).strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ParamError([f"`logit_bias` must be valid JSON when it starts with '{{', but {e.msg} at "
                              f"character {e.pos}: {brief(text)}."]) from None
        if not isinstance(data, dict):
            raise ParamError([f"`logit_bias` must be a JSON object, but is {brief(text)}."])
        items = list(data.items())
    else:
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            key, sep, value = line.rpartition(":")
            if not sep or not key.strip():
                raise ParamError([f"`logit_bias` line {n} must be `token: bias`, but is {brief(line)}."])
            key = key.strip()
            if key.startswith('"'):
                try:
                    key = json.loads(key)
                except json.JSONDecodeError:
                    raise ParamError([f"`logit_bias` line {n} has a badly quoted token: {brief(key)}. "
                                      'Write it like `" cat": -100`.']) from None
            items.append((key, value.strip()))
    out = {}
    for key, value in items:
        try:
            out[str(key)] = inputs.number("logit_bias", value)
        except ParamError:
            raise ParamError([f"`logit_bias` values must be finite numbers, but {brief(key)} has {brief(value)}."]) from None
    return out


def parse_stop(raw: str | None, name: str = "stop") -> list[str]:
    """One string per line, or a JSON list (for strings with newlines or edge spaces): the stop strings,
    or DRY's sequence breakers (`name`)."""
    most = MAX_STOP if name == "stop" else MAX_BREAKERS
    if isinstance(raw, str) and len(raw) > STOP_TEXT * most // MAX_STOP:  # a paste of a page: say the rule it breaks
        raise ParamError([f"`{name}` strings must be at most {MAX_STOP_CHARS} characters (at most {most} of them), "
                          f"but the text is {len(raw)} characters long: {brief(raw)}. Shorten it."])
    text = inputs.text(name, raw)
    if text.strip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ParamError([f"`{name}` must be valid JSON when it starts with '[', but {e.msg} at character "
                              f"{e.pos}: {brief(text)}."]) from None
        if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
            raise ParamError([f"`{name}` must be a JSON list of strings, but is {brief(text)}."])
        return data
    return [line for line in text.splitlines() if line.strip()]


def format_bias(bias: dict[str, float]) -> str:
    return "\n".join(f"{json.dumps(k, ensure_ascii=False)}: {b:g}" for k, b in bias.items())


def format_stop(stop: tuple[str, ...] | list[str]) -> str:
    plain = all(s == s.strip() and "\n" not in s and not s.startswith("[") for s in stop)
    return "\n".join(stop) if plain else json.dumps(list(stop), ensure_ascii=False)


# --- values <-> params -----------------------------------------------------------------------------
def _number(name: str, v: Any) -> Any:
    s = SPECS[name]
    if v is None or v == "":
        if s.kind == "seed":
            return None
        raise ParamError([f"`{name}` must be a number in {s.range_text}, but is empty."])
    return inputs.number(name, v, f"a number in {s.range_text}", whole=s.kind in ("int", "seed"))


def to_params(values: list | tuple) -> GenerationParams:
    """The controls' values (in `NAMES` order) as parameters; `ParamError` lists every bad field."""
    if len(values) != len(NAMES):
        raise ParamError([f"`controls` must be {len(NAMES)} values (one per parameter: {', '.join(NAMES)}), "
                          f"but are {len(values)}."])
    out, problems = {}, []
    for name, v in zip(NAMES, values):
        kind = SPECS[name].kind
        try:
            if kind in ("float", "int", "seed"):
                out[name] = _number(name, v)
            elif kind == "bias":
                out[name] = parse_bias(v)
            elif kind == "stop":
                out[name] = parse_stop(v, name)
            else:
                out[name] = v
        except ParamError as e:
            problems += e.messages
    if problems:
        raise ParamError(problems)
    return build(out)


def to_values(params: GenerationParams) -> list:
    """What each control shows for these parameters (in `NAMES` order)."""
    out = []
    for name in NAMES:
        v, kind = getattr(params, name), SPECS[name].kind
        out.append(format_bias(v) if kind == "bias" else format_stop(v) if kind == "stop" else v)
    return out


def activity(params: GenerationParams) -> list[dict]:
    """Per control: interactive or not, and the help text with the reason it is inactive."""
    out = []
    for name in NAMES:
        why = params.inactive_reason(name)
        info = say(help_text(name)) if why is None else tr("Inactive: {why} {help}", why=say(why).replace('`', ''),
                                                           help=say(help_text(name)))
        out.append(dict(interactive=why is None or name in MODE_SWITCHES, info=info))
    return out


def mode_updates(last_mode: str | None, *values) -> list:
    """[mode, *control updates]: grey out what the mode makes moot; skips while the mode is unchanged
    or the values are not valid parameters (their message comes from the plot)."""
    try:
        params = to_params(values)
    except ParamError:
        return [last_mode] + [gr.skip() for _ in NAMES]
    if params.mode == last_mode:
        return [last_mode] + [gr.skip() for _ in NAMES]
    return [params.mode] + [gr.update(**a) for a in activity(params)]


def mirror(values: list | tuple | None = None) -> dict:
    """A settings mirror (name -> raw control value) for these values; the defaults when None."""
    return dict(zip(NAMES, reset_values() if values is None else values))


def values_of(settings: dict) -> list:
    """A settings mirror's values in `NAMES` order (what `to_params` takes)."""
    return [settings[n] for n in NAMES]


def released_value(name: str, value):
    """What a slider holds once let go: gradio's slider sends `release` with the value as typed, then
    puts it into [minimum, maximum] (an empty box counts as 0) without an `input` event."""
    s = SPECS[name]
    try:
        v = float(value or 0)
    except (TypeError, ValueError, OverflowError):
        return value
    if isinstance(value, bool) or not math.isfinite(v):
        return value  # `to_params` names it
    v = min(max(v, s.ui_min), s.ui_max)
    return int(v) if s.kind == "int" and v == int(v) else v


def remember(settings: dict, name: str, value) -> list:
    """Record one control's new value in the session's mirror (in place); returns all values in order."""
    settings[name] = value
    return values_of(settings)


def mode_moved(name: str, last_mode: str | None, settings: dict, value, released: bool = False) -> list:
    """A mode switch moved (or, `released`, was let go): `mode_updates` for the mirror with its new value.
    Reads the mirror without writing it: the plot's event for the same move records the value."""
    values = values_of(settings)
    values[NAMES.index(name)] = released_value(name, value) if released else value
    return mode_updates(last_mode, *values)


def reset_values() -> list:
    return to_values(GenerationParams())
