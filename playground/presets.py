"""Named parameter sets stored as YAML: the shipped ones in `presets/`, a visitor's own as YAML text.

A preset holds only the values that differ from the defaults (what `GenerationParams.changed()`
returns), plus an optional `description:` that is shown to the user and is not a parameter. Every
value goes through `params.build`, so a bad key or value is a `ParamError` naming the file and the
field, e.g. "foo.yaml: `topp` is not a parameter. Did you mean `top_p`?".

From the page a preset is loaded by its name from the presets folder (`preset_path` takes a plain
name, never a path) or from YAML text the visitor holds (`parse_preset`: the browser's own presets,
an uploaded file). Only the command line reads a file by path (`allow_path=True`). No message quotes
a file's contents or shows a folder: a preset is named by its file name (`greedy.yaml`). The shipped
presets can never be overwritten (`save_preset`, `check_name`).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml

from .params import SPECS, GenerationParams, ParamError, build

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"
# Shown first, in this order (the everyday ones); every other preset follows alphabetically.
FIRST = ("balanced", "greedy", "precise", "creative", "beam-search", "openai-defaults", "llamacpp-defaults")
NAME_RULE = re.compile(r"^[A-Za-z0-9 _-]{1,64}$")
NAME_HELP = "letters, digits, spaces, '-' and '_', at most 64"
DESCRIPTION = "description"
KEY_RULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")  # a key that may be named in a message
MAX_BYTES = 64 * 1024  # a preset is a few lines; anything longer is not one


def list_presets(folder: Path | str = PRESETS_DIR) -> list[str]:
    """Preset names (file names without `.yaml`): the everyday ones first, then the rest by name."""
    names = [p.stem for p in Path(folder).glob("*.yaml") if p.is_file() and NAME_RULE.match(p.stem)]
    rank = {n: i for i, n in enumerate(FIRST)}
    return sorted(names, key=lambda n: (rank.get(n, len(FIRST)), n.lower()))


def is_shipped(name: str) -> bool:
    """A name of a preset shipped with the app (any case): those are never overwritten."""
    return name.strip().lower() in {n.lower() for n in list_presets(PRESETS_DIR)}


def check_name(name: str | None, taken: list[str] | tuple[str, ...] = ()) -> str:
    """A name to save a preset under, stripped; `ParamError` when it is not a plain name, or is a shipped
    preset's or one of `taken` (the presets of the folder the page lists)."""
    name = (name or "").strip()
    if not NAME_RULE.match(name):
        raise ParamError([f"a preset name may hold {NAME_HELP} only, but is {name[:64]!r}. Type a name such as my-preset."])
    if is_shipped(name) or name.lower() in {t.lower() for t in taken}:
        raise ParamError([f"preset {name!r} is shipped with the app and cannot be overwritten. Pick another name."])
    return name


def preset_path(name: str, folder: Path | str = PRESETS_DIR) -> Path:
    """The file of the preset named `name` in `folder`: a plain name ("greedy"), never a path."""
    text = str(name)
    if not NAME_RULE.match(text):
        # Not echoed: it may be a path, and a message never shows one.
        raise ParamError([f"a preset is chosen by its name ({NAME_HELP}), not by a path or file name. "
                          f"Known presets: {', '.join(list_presets(folder)) or '(none)'}."])
    path = Path(folder) / f"{text}.yaml"
    if not path.is_file():
        known = list_presets(folder)
        close = difflib.get_close_matches(text, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ParamError([f"preset {text!r} is unknown.{hint} Known presets: {', '.join(known) or '(none)'}."])
    return path


def preset_file(path: str | Path) -> Path:
    """A preset file given by path on the command line (by the local user)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ParamError([f"preset file {str(path)!r} does not exist. Give a preset name or the path of a YAML file."])
    return p


def _is_path(text: str) -> bool:
    return Path(text).suffix in (".yaml", ".yml") or "/" in text or "\\" in text


def parse_preset(text: str, source: str) -> tuple[dict[str, Any], str]:
    """The raw parameter values and the description in a preset's YAML text; errors start with `source`
    and never quote the text (only a key's name, and the value of a known parameter, as `build` does)."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise ParamError([f"is larger than {MAX_BYTES // 1024} KB, so it is not a preset. A preset holds one "
                          "`name: value` per changed setting."], source)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = re.sub(r"(['\"]).*?\1", "…", getattr(e, "problem", None) or "a syntax error")
        raise ParamError([f"is not valid YAML{line}: {problem}. Write one `name: value` per line."], source) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParamError([f"must be a mapping of parameter names to values (`top_p: 0.9`), but is a "
                          f"{type(data).__name__}. Write one `name: value` per line."], source)
    values = {str(k): v for k, v in data.items()}
    description = values.pop(DESCRIPTION, "") or ""
    if not isinstance(description, str):
        raise ParamError(["`description` must be text, but is not. Write `description: what it is for`."], source)
    unknown = [k for k in values if k not in SPECS]
    if unknown:  # named, their values not shown
        raise ParamError(_unknown(unknown), source)
    return values, description.strip()


def _unknown(keys: list[str]) -> list[str]:
    """One line per key that is not a parameter: a name-like key is named (with the closest parameter), any
    other is only counted (it may be a line of some other file)."""
    named = [k for k in keys if KEY_RULE.match(k)][:3]
    lines, lost = [], False
    for k in named:
        close = difflib.get_close_matches(k, SPECS, n=1)
        lost |= not close
        lines.append(f"`{k}` is not a parameter." + (f" Did you mean `{close[0]}`?" if close else ""))
    if len(keys) > len(named):
        lost = True
        lines.append(f"{len(keys) - len(named)} {'more ' if named else ''}key(s) are not parameter names "
                     "(not shown: this may not be a preset file).")
    if lost:
        lines[-1] += f" Known parameters: {', '.join(SPECS)}."
    return lines


def read_preset(name_or_path: str | Path, folder: Path | str = PRESETS_DIR,
                allow_path: bool = False) -> tuple[dict[str, Any], str, str]:
    """The raw values of a preset, its description and its display name for messages (the file name).

    By name from `folder`; by file path only with `allow_path` (the command line, never the page)."""
    text = str(name_or_path)
    if allow_path and _is_path(text):
        path, source = preset_file(text), text  # the path the local user typed
    else:
        path = preset_path(text, folder)
        source = path.name
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ParamError(["is not a UTF-8 text file, so it is not a preset."], source) from None
    except OSError as e:
        raise ParamError([f"cannot be read ({e.strerror or type(e).__name__})."], source) from None
    values, description = parse_preset(raw, source)
    return values, description, source


def load_preset(name_or_path: str | Path, folder: Path | str = PRESETS_DIR, allow_path: bool = False) -> GenerationParams:
    """Build the parameters a preset describes (defaults for everything it does not mention)."""
    values, _, source = read_preset(name_or_path, folder, allow_path)
    return build(values, source=source)


def preset_description(name: str, folder: Path | str = PRESETS_DIR) -> str:
    return read_preset(name, folder)[1]


def dump_preset(params: GenerationParams, description: str = "") -> str:
    """The YAML text of a preset: the description, then `params.changed()`."""
    data: dict[str, Any] = {DESCRIPTION: description.strip()} if description.strip() else {}
    data.update(params.changed())
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def save_preset(params: GenerationParams, name: str, folder: Path | str = PRESETS_DIR, description: str = "",
                overwrite: bool = False) -> Path:
    """Write the preset to `<folder>/<name>.yaml` (the command line and scripts; the page keeps its presets
    in the visitor's browser); returns the path. A shipped preset's name is refused, even with `overwrite`."""
    name = check_name(name)
    path = Path(folder) / f"{name}.yaml"
    if path.exists() and not overwrite:
        raise ParamError([f"preset {name!r} already exists. Pick another name or overwrite it."])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_preset(params, description), encoding="utf-8")
    return path
