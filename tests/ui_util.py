"""Helpers shared by the UI handler tests: control values from params, figures, and a generator's last output."""

from __future__ import annotations

import json

from playground.params import build
from playground.ui import controls


def values(**kw) -> list:
    """The control values (in `controls.NAMES` order) for these parameters."""
    return controls.to_values(build(**kw))


def with_value(vals: list, name: str, v) -> list:
    out = list(vals)
    out[controls.NAMES.index(name)] = v
    return out


def figure(value: str) -> dict:
    """A `FigureView` value (the figure as a JSON string) as a dict; fails on anything else."""
    assert isinstance(value, str), f"expected a figure as a JSON string, got {type(value).__name__}"
    return json.loads(value)


def last(gen):
    return list(gen)[-1]


def flat(out) -> list:
    """A handler's outputs in order: a tuple's, or a {name: value} dict's values."""
    return list(out.values()) if isinstance(out, dict) else list(out)


def frame(value):
    """A table's value (a `gr.Dataframe` value: {"headers", "data"}) as a pandas DataFrame, to read by column."""
    import pandas as pd

    return pd.DataFrame(value["data"], columns=value["headers"])
