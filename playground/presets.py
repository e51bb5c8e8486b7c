"""Named parameter sets stored as YAML files in `presets/`.

A preset file holds only the values that differ from the defaults (what `GenerationParams.changed()`
returns), plus an optional `description:` that is shown to the user and is not a parameter. Every
value goes through `params.build`, so a bad key or value is a `ParamError` naming the file and the
field, e.g. "presets/foo.yaml: `topp` is not a parameter, but was given 0.9. Did you mean `top_p`?".
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml

from .params import GenerationParams, ParamError, build

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"
# Shown first, in this order (the everyday ones); every other preset follows alphabetically.
FIRST = ("balanced", "greedy", "precise", "creative", "beam-search", "openai-defaults", "llamacpp-defaults")
NAME_RULE = re.compile(r"^[A-Za-z0-9 _-]+$")
DESCRIPTION = "description"


def list_presets(folder: Path | str = PRESETS_DIR) -> list[str]:
    """Preset names (file names without `.yaml`): the everyday ones first, then the rest by name."""
    names = [p.stem for p in Path(folder).glob("*.yaml") if p.is_file()]
    rank = {n: i for i, n in enumerate(FIRST)}
    return sorted(names, key=lambda n: (rank.get(n, len(FIRST)), n.lower()))


def preset_path(name_or_path: str | Path, folder: Path | str = PRESETS_DIR) -> Path:
    """The file of a preset given by name ("greedy") or by path ("my/presets/x.yaml")."""
    text = str(name_or_path)
    as_path = Path(text).expanduser()
    if as_path.suffix in (".yaml", ".yml") or "/" in text:
        if not as_path.is_file():
            raise ParamError([f"preset file {text!r} does not exist."])
        return as_path
    path = Path(folder) / f"{text}.yaml"
    if not path.is_file():
        known = list_presets(folder)
        close = difflib.get_close_matches(text, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ParamError([f"preset {text!r} is unknown.{hint} Known presets: {', '.join(known) or '(none)'}."])
    return path


def _display(path: Path) -> str:
    """A short name for messages: relative to the project folder when inside it."""
    try:
        return str(path.resolve().relative_to(PRESETS_DIR.parent))
    except ValueError:
        return str(path)


def read_preset(name_or_path: str | Path, folder: Path | str = PRESETS_DIR) -> tuple[dict[str, Any], str, str]:
    """The raw parameter values of a preset file, its description and its display name (for messages)."""
    path = preset_path(name_or_path, folder)
    source = _display(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ParamError([f"is not valid YAML{line}: {problem}. Write one `name: value` per line."], source) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParamError([f"must be a mapping of parameter names to values (`top_p: 0.9`), but is a "
                          f"{type(data).__name__}: {data!r}."], source)
    values = {str(k): v for k, v in data.items()}
    description = values.pop(DESCRIPTION, "") or ""
    if not isinstance(description, str):
        raise ParamError([f"`description` must be text, but is {description!r}."], source)
    return values, description.strip(), source


def load_preset(name_or_path: str | Path, folder: Path | str = PRESETS_DIR) -> GenerationParams:
    """Build the parameters a preset describes (defaults for everything it does not mention)."""
    values, _, source = read_preset(name_or_path, folder)
    return build(values, source=source)


def preset_description(name_or_path: str | Path, folder: Path | str = PRESETS_DIR) -> str:
    return read_preset(name_or_path, folder)[1]


def save_preset(params: GenerationParams, name: str, folder: Path | str = PRESETS_DIR, description: str = "",
                overwrite: bool = False) -> Path:
    """Write `params.changed()` (and the description) to `<folder>/<name>.yaml`; returns the path."""
    name = (name or "").strip()
    if not NAME_RULE.match(name):
        raise ParamError([f"a preset name may hold letters, digits, spaces, '-' and '_' only, but is {name!r}."])
    path = Path(folder) / f"{name}.yaml"
    if path.exists() and not overwrite:
        raise ParamError([f"preset {name!r} already exists ({_display(path)}). Pick another name or overwrite it."])
    data: dict[str, Any] = {DESCRIPTION: description.strip()} if description.strip() else {}
    data.update(params.changed())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")
    return path
