"""Settings handlers: load a preset into every control, keep the visitor's own presets in their browser,
download the settings as a YAML preset and upload one, reset, and export the settings as code.

The visitor's presets live in their browser (`gr.BrowserState`: a dict name -> preset YAML text), on the
workshop's machine and on a public Space alike: no visitor writes the server's disk. They are listed in
the preset dropdown after the shipped ones, as `BROWSER + name`. Every preset, shipped, browser-kept or
uploaded, goes through `presets.parse_preset` and `params.build`; a shipped preset's name cannot be
taken. A preset sets every control: the page's starting settings (`start`: the defaults with the
instance's reply length), overridden by what the preset holds. A bad preset changes nothing: every
control gets `gr.skip()` and the message names the preset and the key, never a server path.
"""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr

from .. import export, formats, llama_cli, presets
from ..inputs import checked
from ..params import DEFAULTS, GenerationParams, ParamError, build
from .controls import NAMES, to_params, to_values
from .i18n import tr
from .messages import model_messages, normalize, problem, shown

BROWSER = "browser:"  # the dropdown value of a browser-kept preset: never a file name (':' is not in NAME_RULE)
MAX_KEPT = 50  # presets one browser keeps
STORAGE_KEY = "sampling-playground-presets"
# gr.BrowserState encrypts with a secret that is sent to the page anyway; a fixed one keeps the presets
# readable after the server restarts (a random one, gradio's default, would lose them).
STORAGE_SECRET = "sampling-playground-presets-v1"
# Upload reads the file in the page and hands its text (at most one byte past the limit, which
# `parse_preset` refuses) to the server, which stores nothing; download builds the file in the page from
# the YAML the server made.
UPLOAD_JS = """(text, name, store) => new Promise((resolve) => {
  const input = document.createElement('input');
  input.type = 'file'; input.accept = '.yaml,.yml,.json,text/yaml,application/json';
  input.onchange = async () => {
    const f = input.files[0];
    resolve(f ? [await f.slice(0, MAX + 1).text(), f.name, store] : ['', '', store]);
  };
  input.oncancel = () => resolve(['', '', store]);
  input.click();
})""".replace("MAX", str(presets.MAX_BYTES))
DOWNLOAD_JS = """(text, name) => {
  if (!text) return;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], {type: 'application/yaml'}));
  a.download = name || 'settings.yaml';
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}"""


def kept(store) -> dict[str, str]:
    """The browser's presets, minus anything that is not a (plain name -> YAML text) entry."""
    if not isinstance(store, dict):
        return {}
    return {k: v for k, v in store.items() if isinstance(k, str) and presets.NAME_RULE.match(k) and isinstance(v, str)}


def choices(folder: str | Path = presets.PRESETS_DIR, store=None) -> list[tuple[str, str]]:
    """(label, value) for the dropdown: the folder's presets, then this browser's."""
    try:
        shipped = presets.list_presets(folder)
    except OSError:
        shipped = []
    return [(n, n) for n in shipped] + [(f"{n} (this browser)", BROWSER + n) for n in sorted(kept(store), key=str.lower)]


def listed(store, folder: str | Path = presets.PRESETS_DIR, value=None):
    """The dropdown's update for this browser's presets (on page load, after a save or an upload)."""
    return gr.update(choices=choices(folder, store), value=value)


def _read(choice, store, folder) -> tuple[dict, str, str]:
    """(values, description, name for messages) of a dropdown choice: a browser-kept preset or a preset of
    `folder` by name (never a path: `presets.preset_path`)."""
    if not isinstance(choice, str):
        raise ParamError([f"`preset` must be a preset's name, but is a {type(choice).__name__}. Pick one from the list."])
    if choice.startswith(BROWSER):
        name = choice.removeprefix(BROWSER)
        mine = kept(store)
        if name not in mine:
            raise ParamError([f"preset {name[:64]!r} is not saved in this browser. Pick one from the list."])
        return (*presets.parse_preset(mine[name], f"{name} (this browser)"), name)
    return presets.read_preset(choice, folder)[:2] + (choice,)


def _apply(values: dict, description: str, name: str, source: str, start: GenerationParams) -> list:
    """[*control values, message] for a preset's raw values (ParamError when they do not build)."""
    params = build({**start.changed(), **values}, source=source)
    changed = ", ".join(f"{k} = {getattr(params, k)!r}" for k in values) or "all defaults"
    text = f"**{shown(name)}**: {shown(description)}" if description else f"**{shown(name)}**"
    return to_values(params) + [f"{text}<br>Sets: {shown(changed)}"]


def choose(choice: str | None, store=None, folder: str | Path = presets.PRESETS_DIR,
           start: GenerationParams = DEFAULTS) -> list:
    """[*control values, message]: the preset's values, or skips and the reason it cannot load."""
    if not choice:
        return [gr.skip() for _ in NAMES] + [tr("Pick a preset.")]
    try:
        values, description, name = _read(choice, store, folder)
        return _apply(values, description, name, name, start)
    except ParamError as e:
        return [gr.skip() for _ in NAMES] + [problem("Preset not loaded, nothing changed: " + " ".join(e.messages))]


@checked(lambda message: (gr.skip(), gr.skip(), problem("Preset not saved: " + message)))
def save(preset_name: str | None, store, *values, folder: str | Path = presets.PRESETS_DIR) -> tuple:
    """(browser store, dropdown update, message): keep the current controls as a preset in this browser."""
    mine = kept(store)
    try:
        params = to_params(values)
        name = presets.check_name(preset_name, presets.list_presets(folder))
        if name not in mine and len(mine) >= MAX_KEPT:
            raise ParamError([f"this browser keeps at most {MAX_KEPT} presets. Download the ones to keep, then "
                              "overwrite one by saving under its name."])
    except ParamError as e:
        return gr.skip(), gr.skip(), problem("Preset not saved: " + " ".join(e.messages))
    again = name in mine
    mine[name] = presets.dump_preset(params)
    what = "Replaced" if again else "Saved"
    return mine, listed(mine, folder, BROWSER + name), \
        tr(f"{what} preset **{{name}}** in this browser (it stays after a reload). Download keeps it as a file.", name=shown(name))


def file_name(name: str | None) -> str:
    """The download's file name: the name typed under *Save current settings as*, made safe, or `settings`."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", (name or "").strip()).strip("-")[:64]
    return f"{stem or 'settings'}.yaml"


def download(name: str | None, *values) -> tuple:
    """(YAML text, file name, message): the current settings as a preset file (the page saves it; '' on bad settings)."""
    try:
        params = to_params(values)
    except ParamError as e:
        return "", gr.skip(), problem("Not downloaded: " + " ".join(e.messages))
    fname = file_name(name)
    return presets.dump_preset(params), fname, tr("Downloaded the current settings as **{name}**.", name=shown(fname))


def upload(text: str | None, fname: str | None, store, folder: str | Path = presets.PRESETS_DIR,
           start: GenerationParams = DEFAULTS) -> list:
    """[browser store, dropdown, *control values, message]: load an uploaded YAML preset (its text, read by the
    page) into the controls, and keep it in this browser under its file name when that name is free."""
    skip = [gr.skip(), gr.skip()] + [gr.skip() for _ in NAMES]
    source = Path(str(fname or "")).name[:80] or "the uploaded file"
    if not (text or "").strip() and not fname:
        return skip + [tr("No file chosen: pick a YAML preset file to upload.")]
    try:
        values, description = _uploaded(text or "", source)
        loaded = _apply(values, description, source, source, start)
        params = build(values, source=source)
    except ParamError as e:
        return skip + [problem("Preset not loaded, nothing changed: " + " ".join(e.messages))]
    mine, stem = kept(store), Path(source).stem
    try:
        stem = presets.check_name(stem, presets.list_presets(folder))
        if stem not in mine and len(mine) >= MAX_KEPT:
            raise ParamError([f"this browser keeps at most {MAX_KEPT} presets."])
    except ParamError as e:
        return [gr.skip(), gr.update(value=None)] + loaded[:-1] + [f"{loaded[-1]}<br>Not kept in this browser: "
                                                                   f"{shown(' '.join(e.messages))}"]
    mine[stem] = presets.dump_preset(params, description)
    return [mine, listed(mine, folder, BROWSER + stem)] + loaded[:-1] + [f"{loaded[-1]}<br>Kept in this browser as "
                                                                        f"**{shown(stem)}**."]


def _uploaded(text: str, source: str) -> tuple[dict, str]:
    """The values and description of an uploaded preset: ours, or the peers' (a text-generation-webui preset YAML,
    a llama.cpp request JSON: `formats.read_any` tells them apart by their keys, and names what it ignored)."""
    params, kind, notes = formats.read_any(text, source)
    if kind == "Sampling Playground preset":
        return presets.parse_preset(text, source)
    return params.changed(), " ".join([f"Imported from {source} (a {kind}).", *notes])


def reset(start: GenerationParams = DEFAULTS) -> list:
    """[*control values, message, preset choice]: every control back to the page's start, no preset chosen."""
    return to_values(start) + [tr("All parameters are back to their defaults."), None]


EXAMPLE = [{"role": "user", "content": "Hello!"}]


@checked(lambda message: (gr.skip(),) * 4 + (problem("Not exported: " + message),))
def export_code(history: list | None, system: str | None, reply, *values, model_id: str = export.HUB_MODEL,
                dtype: str = "float32") -> tuple:
    """(transformers script, OpenAI script, llama.cpp /completion request, llama-cli line, message) for the current
    settings and conversation (a placeholder user turn when the chat is empty), for the model and dtype the app
    runs; a sampled reply without a seed in the settings exports the seed it drew. Each target's note names what
    it cannot carry. On bad settings the code stays and the message says why."""
    try:
        params = to_params(values)
    except ParamError as e:
        return (gr.skip(),) * 4 + (problem("Not exported: " + " ".join(e.messages)),)
    messages = model_messages(normalize(history)) or EXAMPLE
    system = (system or "").strip() or None
    seed = reply.decoders[reply.current].seed if reply is not None and reply.decoders else None
    dropped = params.openai_unsupported()
    note = tr("The OpenAI body cannot carry: {what}.", what=", ".join(dropped)) if dropped \
        else tr("The OpenAI body carries every setting.")
    drawn = params.replace(seed=seed) if seed is not None and params.seed is None else params
    for what, lost in (("llama.cpp request", formats.not_carried(drawn, "llamacpp")),
                       ("llama-cli line", llama_cli.cli_not_carried(drawn))):
        note += tr(f" The {what} cannot carry: {{lost}}.", lost="; ".join(lost)) if lost else tr(f" The {what} carries every setting.")
    if drawn is not params:
        note += tr(" All use seed {seed}, the one the last reply drew.", seed=seed)
    prompt = next((m["content"] for m in reversed(export.as_asked(messages)[0]) if m["role"] == "user"), "")
    return (export.python_snippet(params, messages, system, model_id, dtype, seed),
            export.openai_snippet(params, messages, system, seed=seed), llama_cli.completion_snippet(drawn, prompt),
            llama_cli.to_llama_cli(drawn), shown(note))
