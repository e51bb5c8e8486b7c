"""The page's components as one typed object: `Page`, built by `layout.build_demo` and handed to every
`wire` function (layout.py, share_panel.py, compare_panel.py, export_panel.py).

One attribute per component or session state, named as the page names it; each panel keeps its own small
dataclass (`page.inspector.chain`, `page.share.link`, `page.compare.run`). Handlers never see the Page: they
take values and return values (or {name: value} through `wiring.keyed`), so the tests call them without one.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import gradio as gr

from ..limits import Limits
from ..params import GenerationParams
from .compare_panel import Compare
from .explain import Explain
from .export_panel import Export
from .figure_view import FigureView
from .inspector_panel import Inspector
from .order_panel import OrderButtons
from .presenter import Presenter
from .share_panel import Share


@dataclass
class Page:
    """Every component `build_demo` lays out and wires, with the session's states and the page's caps."""

    demo: gr.Blocks
    # the session: the plot's context, the last reply's steps, the reply in flight, the last sampling mode, the
    # controls' values (controls.mirror), the visitor's presets (in their browser), the inspector's reply
    ctx: gr.State
    steps: gr.State
    run: gr.State
    mode: gr.State
    settings: gr.State
    store: gr.BrowserState
    reply: gr.State
    # the chat column
    chatbot: gr.Chatbot
    msg: gr.Textbox
    send: gr.Button
    stop: gr.Button
    tries: list  # [(example button, its prompt)]
    status: gr.Markdown
    reply_tokens: gr.HTML
    regen: gr.Button
    undo: gr.Button
    clear: gr.Button
    step_btn: gr.Button
    step10_btn: gr.Button
    run_btn: gr.Button
    system: gr.Textbox
    presenter: Presenter
    # the plot and the controls
    fig: FigureView
    note: gr.Markdown
    explain: Explain
    top_n: gr.Slider
    scale: gr.Radio
    params: list  # every parameter's control, in `controls.NAMES` order
    order: OrderButtons  # under `sampler_order`
    # presets
    preset: gr.Dropdown
    reset: gr.Button
    preset_info: gr.Markdown
    preset_name: gr.Textbox
    save: gr.Button
    download: gr.Button
    upload: gr.Button
    preset_file: list  # the hidden (text, name) pair a preset file travels in
    # the panels under the controls and the plot
    export: Export
    inspector: Inspector
    share: Share
    compare: Compare
    # the page's caps and its start
    limits: Limits
    start: GenerationParams

    def missing(self) -> list[str]:
        """The attributes left None (a wiring mistake): none on a built page."""
        return [f.name for f in fields(self) if getattr(self, f.name) is None]
