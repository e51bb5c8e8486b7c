"""Settings handlers: load a preset into every control, save the current controls, reset to
defaults, and export the current settings as code (a transformers script and an OpenAI request).

A preset sets every control (the defaults, overridden by what the file holds). A bad file changes
nothing: every control gets `gr.skip()` and the message names the file and the key.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from .. import export, presets
from ..params import GenerationParams, ParamError
from .chat import model_messages, normalize, problem, shown
from .controls import NAMES, to_params, to_values
from .inputs import checked


def choose(name: str | None, folder: str | Path = presets.PRESETS_DIR) -> list:
    """[*control values, message]: the preset's values, or skips and the reason it cannot load."""
    if not name:
        return [gr.skip() for _ in NAMES] + ["Pick a preset."]
    try:
        params = presets.load_preset(name, folder)
        description = presets.preset_description(name, folder)
    except ParamError as e:
        return [gr.skip() for _ in NAMES] + [problem("Preset not loaded, nothing changed: " + " ".join(e.messages))]
    changed = ", ".join(f"{k} = {v!r}" for k, v in params.changed().items()) or "all defaults"
    text = f"**{shown(name)}**: {shown(description)}" if description else f"**{shown(name)}**"
    return to_values(params) + [f"{text}<br>Sets: {shown(changed)}"]


@checked(lambda message: (gr.skip(), problem("Preset not saved: " + message)))
def save(folder: str | Path, preset_name: str, *values) -> tuple:
    """(preset dropdown update, message): write the current controls as a preset named `preset_name`."""
    try:
        params = to_params(values)
        path = presets.save_preset(params, preset_name.strip(), folder)
    except ParamError as e:
        return gr.skip(), problem("Preset not saved: " + " ".join(e.messages))
    except OSError as e:
        return gr.skip(), problem(f"Preset not saved: cannot write to {folder}: {e.strerror or e}.")
    stem = Path(path).stem
    return gr.update(choices=presets.list_presets(folder), value=stem), f"Saved preset **{shown(stem)}** to {shown(str(path))}."


def reset() -> list:
    """[*control values, message, preset choice]: every control back to its default, no preset chosen."""
    return to_values(GenerationParams()) + ["All parameters are back to their defaults.", None]


def choices(folder: str | Path = presets.PRESETS_DIR) -> list[str]:
    try:
        return presets.list_presets(folder)
    except OSError:
        return []


EXAMPLE = [{"role": "user", "content": "Hello!"}]


@checked(lambda message: (gr.skip(), gr.skip(), problem("Not exported: " + message)))
def export_code(history: list | None, system: str | None, *values) -> tuple:
    """(transformers script, OpenAI request body, message) for the current settings and conversation
    (a placeholder user turn when the chat is empty); on bad settings the code stays and the message says why."""
    try:
        params = to_params(values)
    except ParamError as e:
        return gr.skip(), gr.skip(), problem("Not exported: " + " ".join(e.messages))
    messages = model_messages(normalize(history)) or EXAMPLE
    system = (system or "").strip() or None
    dropped = params.openai_unsupported()
    note = f"The OpenAI body cannot carry: {', '.join(dropped)}." if dropped else "Both carry every setting."
    return export.python_snippet(params, messages, system), export.openai_snippet(params, messages, system), shown(note)
