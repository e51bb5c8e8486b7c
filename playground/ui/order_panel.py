"""The sampler order, editable with buttons: a stage picker and "earlier"/"later" buttons under the
`sampler_order` control, and the order it stands for as a numbered list of stages.

A move rewrites `sampler_order` as its comma list of stage names (or as a named order's name when the
result is one), so a typed order, a preset's and a moved one are the same value and validated by the same
rules (`stages.resolve_order`). An order that does not parse is not moved: the list says why, and the
control keeps what was typed. Handlers take values and return values; the plot follows through the
control's own event (`layout` chains it after a move).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from html import escape

import gradio as gr

from ..params import ParamError
from ..stages import STAGES, canonical_order, movable, resolve_order
from .i18n import t, tr
from .messages import problem

HIDDEN = dict(queue=False, show_progress="hidden", api_visibility="undocumented")


def _order(value) -> tuple[str, ...]:
    if not isinstance(value, str):
        raise ParamError([f"`sampler_order` must be an order's name or stage names, but is a {type(value).__name__}."])
    try:
        return resolve_order(value)
    except ValueError as e:  # the message names the field, the rule and the closest stage
        raise ParamError([str(e)]) from None


def as_value(order: list[str] | tuple[str, ...]) -> str:
    """`sampler_order`'s value for an order, as a preset stores it: a named order's name when it is one, else
    the shortest comma list meaning the same (`stages.canonical_order`)."""
    return canonical_order(",".join(order))


def listing(value, stage: str | None = None, note: str = "") -> str:
    """The order as a numbered list of stage names (the picked stage in bold), or why it cannot be shown."""
    try:
        order = _order(value)
    except ParamError as e:
        return problem("This order cannot be moved: " + " ".join(e.messages))
    items = [f"<b>{i}. {escape(n)}</b>" if n == stage else f"{i}. {escape(n)}" for i, n in enumerate(order, 1)]
    tail = f"<br>{escape(note)}" if note else ""
    return f"<span class='order-list'>{tr('Order now: ')}{' → '.join(items)}</span>{tail}"


def move(value, stage, step: int) -> tuple:
    """(new `sampler_order` value, listing): `stage` moved `step` places (-1 earlier, +1 later); the value
    is skipped when the order does not parse or the stage cannot go further."""
    if stage not in movable():
        return gr.skip(), problem(f"Pick a stage to move: one of {', '.join(movable())}.")
    try:
        order = list(_order(value))
    except ParamError as e:
        return gr.skip(), problem("Not moved: " + " ".join(e.messages) + " Fix the order above, then move.")
    i = order.index(stage)
    j = min(max(i + step, 0), len(order) - 1)
    if i == j:
        return gr.skip(), listing(value, stage, f"{stage} is already {'first' if step < 0 else 'last'}.")
    order.insert(j, order.pop(i))
    new = as_value(order)
    return new, listing(new, stage)


@dataclass
class OrderButtons:
    """The stage picker, its two buttons and the listing."""

    stage: gr.Dropdown
    up: gr.Button
    down: gr.Button
    shown: gr.HTML


def build(start_value: str) -> OrderButtons:
    """The picker, the two buttons and the listing (in the caller's layout, under `sampler_order`)."""
    with gr.Row(elem_id="order-move"):
        stage = gr.Dropdown(choices=[(f"{n} ({STAGES[n].label})", n) for n in movable()], value=movable()[0],
                            label=t("Move a stage"), elem_id="order-stage", scale=3)
        up = gr.Button(t("↑ earlier"), elem_id="order-up", size="sm", scale=1)
        down = gr.Button(t("↓ later"), elem_id="order-down", size="sm", scale=1)
    shown = gr.HTML(listing(start_value, movable()[0]), elem_id="order-list")
    return OrderButtons(stage, up, down, shown)


def wire(parts: OrderButtons, order, follow) -> None:
    """Each button moves the picked stage and then runs `follow` (fn, inputs, outputs: the plot following
    `sampler_order`); the listing follows the control and the picker."""
    for btn, step in ((parts.up, -1), (parts.down, 1)):
        btn.click(partial(move, step=step), [order, parts.stage], [order, parts.shown], **HIDDEN) \
            .then(*follow, **HIDDEN)
    gr.on([order.change, parts.stage.change], listing, [order, parts.stage], parts.shown, **HIDDEN)
