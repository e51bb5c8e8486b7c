"""The "Export as code" accordion: the current settings and conversation as a transformers script, an OpenAI
script, a llama.cpp `/completion` request and llama-cli flags (`presets_panel.export_code` makes them)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import gradio as gr

from . import api, controls, presets_panel
from .i18n import t


@dataclass
class Export:
    """The button and its outputs: the four codes, then the note."""

    btn: gr.Button
    out: list


def build() -> Export:
    """The accordion (closed): a button, a note naming what each target cannot carry, and the four codes."""
    with gr.Accordion(t("Export as code"), open=False, elem_id="group-export"):
        btn = gr.Button(t("Show code for these settings"), elem_id="export-btn", size="sm")
        note = gr.Markdown("", elem_id="export-note")
        py = gr.Code(language="python", label=t("transformers (generate)"), elem_id="export-python")
        oa = gr.Code(language="python", label=t("OpenAI: a Python script (openai client), its JSON body, a curl line"),
                     elem_id="export-openai")
        ll = gr.Code(language="shell", label=t("llama.cpp server: a /completion request (curl)"), elem_id="export-llamacpp")
        cli = gr.Code(language="shell", label=t("llama-cli flags"), elem_id="export-llama-cli")
    return Export(btn, [py, oa, ll, cli, note])


def wire(panel: Export, inputs: list, model_id: str, dtype: str) -> None:
    """The button, also the public `/export` API: (history, system, reply, *controls) in, the codes out."""
    exported = partial(presets_panel.export_code, model_id=model_id, dtype=dtype)
    panel.btn.click(api.named(exported, ["history", "system", "reply", *controls.NAMES]), inputs,
                    panel.out, api_name="export", queue=False, preprocess=False)
