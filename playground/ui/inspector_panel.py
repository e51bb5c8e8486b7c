"""The token inspector's part of the page: its components (`build`), full width under the chat and the
plot; layout.py wires their events. The selected step comes first (a token click scrolls to
`#inspect-info`, tokens_html.ON_LOAD): its line, its plot and candidates, then forcing and branching,
the sampler chain and the two side-by-side views.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from . import step_view
from .figure_view import FigureView
from .i18n import t

INSPECTOR = """## Token inspector
Click a token of the reply (under Send; steps count from 1) to take its step apart: the plot of that step, the sampler chain
stage by stage, the model's distribution beside the one sampled from, and the surviving set under each
sampler order. Nothing here runs the model again: every step's logits were kept while generating.
**Step** / **Step ×10** / **Run to end** generate a reply one token at a time (a typed message starts a new
one); click a candidate row to force it instead of sampling, or force your own text. **Branch** regenerates
from the selected token with the current parameters; earlier branches stay listed under *Branch*."""


@dataclass
class Inspector:
    """The inspector's components; the step view's are named as `step_view.VIEW` names its outputs."""

    info: gr.Markdown
    plot: FigureView
    candidates: gr.Dataframe
    force_text: gr.Textbox
    force_btn: gr.Button
    force_token: gr.Dropdown
    branches: gr.Radio
    branch_btn: gr.Button
    chain: gr.Dataframe
    raw_final: FigureView
    orders: FigureView

    def view(self) -> dict:
        """The step view's outputs by their `step_view.VIEW` names."""
        return {name: getattr(self, name) for name in step_view.VIEW}


def build() -> Inspector:
    """The inspector's components, full width under the chat and the plot: the selected step first."""
    with gr.Column(elem_id="inspector"):
        gr.Markdown(t(INSPECTOR))
        # A token click scrolls here (tokens_html.ON_LOAD): the step's line, then its plot and candidates.
        inspect_info = gr.Markdown(t(step_view.NOTHING), elem_id="inspect-info")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                inspect_plot = FigureView(elem_id="inspect-plot", label=t("The selected step"))
            with gr.Column(scale=2, min_width=320):
                candidates = gr.Dataframe(headers=step_view.CAND_HEADERS, interactive=False, elem_id="candidates",
                                          label=t("Candidates"), max_height=460)
        with gr.Row():
            force_text = gr.Textbox(label=t("Force text"), elem_id="force-text", scale=3, lines=1,
                                    placeholder=t("Your own continuation: its tokens are taken in order from the selected step"))
            force_btn = gr.Button(t("Force text"), elem_id="force-btn", scale=1)
            force_token = gr.Dropdown([], value=None, label=t("Force token (the candidates of the selected step)"),
                                      elem_id="force-token", scale=2)
        with gr.Row():
            branches = gr.Radio([], value=None, label=t("Branch (switch to show another)"), elem_id="branches", scale=3)
            branch_btn = gr.Button(t("Branch from the selected token"), elem_id="branch-btn", scale=1)
        chain = gr.Dataframe(headers=step_view.CHAIN_HEADERS, interactive=False, wrap=True, elem_id="chain-table",
                             label=t("Sampler chain"), column_widths=["4%", "14%", "9%", "6%", "8%", "9%", "25%", "25%"])
        with gr.Row(equal_height=False):
            raw_final = FigureView(elem_id="raw-vs-final", label=t("Before any sampler vs after the chain"))
            order_view = FigureView(elem_id="order-view",
                                    label=t("Order matters: survivors under each sampler order (* = this reply's)"))
    return Inspector(info=inspect_info, plot=inspect_plot, candidates=candidates, force_text=force_text, force_btn=force_btn,
                     force_token=force_token, branches=branches, branch_btn=branch_btn, chain=chain, raw_final=raw_final,
                     orders=order_view)
