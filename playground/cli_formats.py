"""`python -m playground presets --export webui|llamacpp|llama-cli NAME` and `presets --import FILE`: the peers' formats
(`formats.py`, `llama_cli.py`) on the command line. The export goes to stdout (YAML, JSON for llama.cpp's server,
a command line for llama-cli), what it cannot carry to stderr; an import prints our preset's YAML (save it under
presets/ to use it), its notes to stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import formats, llama_cli
from .params import ParamError
from .presets import MAX_BYTES, dump_preset, list_presets, load_preset

EXPORTS = ("webui", "llamacpp", "llama-cli")


def add_arguments(p) -> None:
    p.add_argument("--export", choices=EXPORTS, metavar="FORMAT",
                   help="print preset NAME as a text-generation-webui preset (webui), a llama.cpp request body (llamacpp) "
                        "or llama-cli flags (llama-cli)")
    p.add_argument("--import", dest="import_file", metavar="FILE",
                   help="print a text-generation-webui preset YAML or llama.cpp request JSON as our preset YAML")
    p.add_argument("name", nargs="?", help=f"the preset to export ({', '.join(list_presets())}) or a YAML file")


def run(args) -> int:
    if args.import_file:
        return _import(args.import_file)
    if not args.name:
        raise ParamError([f"`--export {args.export}` needs a preset: python -m playground presets --export {args.export} "
                          "NAME."])
    params = load_preset(args.name, allow_path=True)
    if args.export == "webui":
        print(formats.to_webui(params), end="")
    elif args.export == "llama-cli":
        print(llama_cli.to_llama_cli(params), end="")
    else:
        print(json.dumps(formats.to_llamacpp(params), indent=2, ensure_ascii=False))
    lost = llama_cli.cli_not_carried(params) if args.export == "llama-cli" else formats.not_carried(params, args.export)
    for one in lost:
        print(f"note: not carried: {one}", file=sys.stderr)
    return 0


def _import(path: str) -> int:
    p = Path(path).expanduser()
    if not p.is_file():
        raise ParamError([f"file {path!r} does not exist. Give the path of a text-generation-webui preset (YAML) or a "
                          "llama.cpp request (JSON)."])
    if p.stat().st_size > MAX_BYTES:
        raise ParamError([f"is larger than {MAX_BYTES // 1024} KB, so it is not a preset."], p.name)
    try:
        text = p.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        raise ParamError(["cannot be read as UTF-8 text."], p.name) from None
    params, kind, notes = formats.read_any(text, p.name)
    print(dump_preset(params, f"Imported from {p.name} (a {kind})."), end="")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
