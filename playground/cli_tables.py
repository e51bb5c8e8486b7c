"""`python -m playground params` and `python -m playground presets` (without --export/--import): the tables.

`params_table` lists every parameter by group (name, default, range, help and formula, generated from
`params.SPECS`), then the named sampler orders (from the stage registry); `cmd_presets` lists the bundled
presets with the values each changes and its description (a broken one says why, and the command exits 1).
"""

from __future__ import annotations

import json
import textwrap

from . import cli_formats
from .params import GROUPS, MAX_BREAKERS, MAX_STOP, MAX_STOP_CHARS, SPECS, ParamError
from .presets import list_presets, load_preset, read_preset
from .stages import ORDERS, movable


def _value(v) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, tuple):
        return json.dumps(list(v))
    return json.dumps(v) if isinstance(v, dict) else f"{v:g}" if isinstance(v, float) else str(v)


def range_text(name: str) -> str:
    s = SPECS[name]
    if s.kind in ("float", "int", "seed"):
        return s.range_text
    if s.kind == "bias":
        return f"token -> {s.range_text}"
    stop = f"up to {MAX_STOP if name == 'stop' else MAX_BREAKERS} strings of {MAX_STOP_CHARS} chars"
    return {"bool": "true/false", "choice": " | ".join(s.choices) + " | a,b,c", "stop": stop}[s.kind]


def params_table() -> str:
    """Every parameter, grouped: name, default, range, help and formula (generated from SPECS), then the
    named sampler orders (generated from the stage registry)."""
    rows = [(n, "random" if n == "seed" else _value(s.default), range_text(n), s.help + (f" [{s.formula}]" if s.formula else ""),
             s.group) for n, s in SPECS.items()]
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = []
    for group in GROUPS:
        lines += ["", f"{group}", f"  {'name':<{w[0]}}  {'default':<{w[1]}}  {'range':<{w[2]}}  help"]
        lines += [f"  {n:<{w[0]}}  {d:<{w[1]}}  {r:<{w[2]}}  {h}" for n, d, r, h, g in rows if g == group]
    lines += ["", "sampler_order"] + [f"  {n:<{w[0]}}  {o.describe()}" for n, o in ORDERS.items()]
    lines += [f"  {'or a list':<{w[0]}}  your own, e.g. top_k,min_p,temperature: those left out run after them. Stages: "
              + ", ".join(movable())]
    return "\n".join(lines[1:])


def cmd_params(args) -> int:
    print(params_table())
    return 0


def cmd_presets(args) -> int:
    if args.export or args.import_file:
        return cli_formats.run(args)
    bad = 0
    for name in list_presets():
        try:
            values, description, _ = read_preset(name)
            changed = load_preset(name).changed()
        except ParamError as e:
            print(f"{name}\n    error: {e}")
            bad += 1
            continue
        shown = " ".join(f"{k}={_value(tuple(v) if isinstance(v, list) else v)}" for k, v in changed.items())
        print(f"{name:<25} {shown or '(the defaults)'}")
        if description:
            print(textwrap.fill(description, width=100, initial_indent="    ", subsequent_indent="    ",
                                break_on_hyphens=False))
    return 1 if bad else 0
