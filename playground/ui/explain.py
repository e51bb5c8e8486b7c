"""The explain panel: every active stage's parameters with their formula, what they do, and what they did
to the step the plot shows ("top_p = 0.9 kept 13 of 49152 tokens, carrying 0.903 of the probability").

The formulas are `Spec.formula` (params.py) written as math in Unicode (Σ, ≥, ·, subscripts), not LaTeX:
they mix words and symbols, and this reads the same on every page. The numbers are the live chain's
(`plotdata.effects`), on the logits the plot already has: the panel never runs the model. While it is
closed it costs nothing: its handler answers only when the panel is open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import gradio as gr

from .. import plotdata, step_analysis
from ..params import SPECS, GenerationParams, ParamError
from ..stages import STAGES
from .controls import to_params, values_of
from .i18n import help_line, say, t, tr
from .plot import logits_of

TITLE = "Explain: every active parameter, its formula, and what it did to this step"
CLOSED = "Open to see each active sampler's formula and what it did to the token the plot shows."
_MATH = [(r"\bsum_i\b", "Σᵢ"), (r"\bsum_j\b", "Σⱼ"), (r"\bsum\b", "Σ"), (r">=", "≥"), (r"<=", "≤"), (r"\s\*\s", " · "),
         (r"\bsqrt\b", "√"), (r"\bsigma\b", "σ"), (r"\bmu\b", "μ"), (r"\btau\b", "τ"), (r"-inf\b", "−∞"),
         (r"\^2\b", "²"), (r"_i\b", "ᵢ"), (r"_j\b", "ⱼ"), (r"_t\b", "ₜ"), (r"\bmax_j\b", "maxⱼ")]


def mathy(formula: str) -> str:
    """`Spec.formula` as math: 'keep i if p_i >= min_p * max_j p_j' -> 'keep i if pᵢ ≥ min_p · maxⱼ pⱼ'."""
    for pattern, to in _MATH:
        formula = re.sub(pattern, to, formula)
    return formula


def _value(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def effect_line(e: plotdata.Effect) -> str:
    removed = e.considered - e.kept
    if removed:
        return tr("kept **{kept}** of {considered} tokens, carrying {mass} of the probability (removed {removed}); the top token "
                  "{before} → {after}", kept=e.kept, considered=e.considered, mass=f"{e.kept_mass:.3g}", removed=removed,
                  before=f"{e.top_before:.3g}", after=f"{e.top_after:.3g}")
    return tr("removed no token; the top token {before} → {after}", before=f"{e.top_before:.3g}", after=f"{e.top_after:.3g}")


def render(effects: list[plotdata.Effect], params: GenerationParams) -> str:
    """Markdown: one block per link in chain order, then the parameters that are off."""
    lines, shown = [], set()
    for n, e in enumerate(effects, 1):
        spec = STAGES.get(e.name)
        fields = [f for f in (spec.fields if spec else ()) if f in SPECS]
        shown.update(fields)
        setting = ", ".join(f"`{f}` = {_value(getattr(params, f))}" for f in fields) or e.label
        formula = "; ".join(say(mathy(SPECS[f].formula)) for f in fields if SPECS[f].formula) \
            or say(mathy(spec.formula if spec else ""))
        lines.append(f"{n}. **{say(e.label)}** ({setting}): *{formula}*  \n   {help_line(fields[0]) if fields else ''}  \n"
                     f"   {tr('Now: ')}{effect_line(e)}{tr('.')}")
    off = [f"`{name}` = {_value(getattr(params, name))}: *{say(mathy(s.formula))}*" for name, s in SPECS.items()
           if s.formula and name not in shown and s.group in ("Sampling", "Penalties", "More samplers")]
    if off:
        lines += ["", tr("**Off or not in the chain now:**"), *(f"- {o}" for o in off)]
    return "\n".join(lines) if lines else tr("No sampler changes this step: the model's own distribution is sampled as it is.")


def explain(engine, ctx: dict | None, settings: dict, is_open: bool):
    """The panel's text for the live step, or nothing to send while it is closed."""
    if not is_open:
        return gr.skip()
    if not ctx:
        return tr("Send a message or pick an example: the panel explains the plot's step.")
    try:
        params = to_params(values_of(settings))
    except ParamError as e:
        return tr("Not explained: ") + say(" ".join(e.messages))
    if logits_of(engine, ctx) is None:
        return tr("The plot's step is still being computed.")
    return render(step_analysis.effects(engine, ctx["ids"], params), params)


@dataclass
class Explain:
    """The collapsed accordion, its text and its open/closed state."""

    box: gr.Accordion
    text: gr.Markdown
    open: gr.State


def build() -> Explain:
    """The collapsed accordion and its open/closed state."""
    with gr.Accordion(t(TITLE), open=False, elem_id="explain") as box:
        text = gr.Markdown(t(CLOSED), elem_id="explain-text")
    return Explain(box, text, gr.State(False))


def wire(engine, panel: Explain, fig, ctx, settings) -> None:
    """Redraw the explanation after every plot update while the panel is open, and when it opens."""
    from functools import partial

    run = partial(explain, engine)
    quiet = dict(queue=False, show_progress="hidden")
    panel.box.expand(lambda: True, None, panel.open, **quiet) \
        .then(run, [ctx, settings, panel.open], panel.text, **quiet)
    panel.box.collapse(lambda: False, None, panel.open, **quiet)
    fig.change(run, [ctx, settings, panel.open], panel.text, **quiet)
