"""The sampler order's up/down buttons (issue 8 §3), as handlers: a move rewrites `sampler_order` as the
stage list (or a named order's name), the listing follows, and an order that does not parse is not moved."""

from __future__ import annotations

from playground.params import build
from playground.stages import movable, named_orders, resolve_order
from playground.ui import order_panel

SKIP = {"__type__": "update"}


def test_a_move_swaps_one_stage_with_its_neighbour():
    value, shown = order_panel.move("transformers", "min_p", -1)
    order = list(movable())
    i = order.index("min_p")
    order[i - 1], order[i] = order[i], order[i - 1]
    assert resolve_order(value) == tuple(order) and build(sampler_order=value).sampler_order == value  # as a preset stores it
    assert value == ",".join(order[:i])  # the stages after min_p run in the default order anyway
    assert f"<b>{i}. min_p</b>" in shown and f"{i + 1}. top_p" in shown


def test_moving_back_gives_the_named_order_and_the_ends_stay():
    value, _ = order_panel.move("transformers", "temperature", 1)
    assert order_panel.move(value, "temperature", -1)[0] == "transformers"
    first = resolve_order("temperature_last")[0]
    kept, shown = order_panel.move("temperature_last", first, -1)
    assert kept == SKIP and f"{first} is already first" in shown
    last = resolve_order("temperature_last")[-1]
    assert order_panel.move("temperature_last", last, 1)[0] == SKIP
    assert order_panel.as_value(named_orders()["text-generation-webui"].stages) == "text-generation-webui"


def test_a_bad_order_or_stage_is_named_and_not_moved():
    kept, shown = order_panel.move("top_kk,temperature", "temperature", -1)
    assert kept == SKIP and "Not moved" in shown and "Did you mean 'top_k'?" in shown
    kept, shown = order_panel.move("transformers", "<b>x</b>", -1)
    assert kept == SKIP and "Pick a stage to move" in shown and "<b>x" not in shown
    assert "cannot be moved" in order_panel.listing(["a list"])
