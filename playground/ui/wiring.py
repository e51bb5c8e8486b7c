"""Handlers give their outputs by name; `keyed(fn, parts)` hands gradio {component: value} instead.

A handler stays a plain function of values (the tests call it without a page): it returns, or yields,
a dict {output name: value} (ui/inspector.py's `OUT`, `step_view.VIEW`, `share_panel.open_session`). The wiring
(layout.py, share_panel.py) builds `parts`, the event's outputs by the same names from the `Page` (page.py), and
wires `keyed(fn, parts)` with `outputs=list(parts.values())`:
gradio takes a dict keyed by components, in any order, and keeps the outputs it leaves out as they are.
A name the event does not output is a wiring mistake and fails loudly (KeyError).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import wraps


def keyed(fn: Callable, parts: dict, name: str | None = None) -> Callable:
    """`fn` (a function or a generator function) with its {name: value} results as {component: value}; `name`, when
    given, is the wrapper's `__name__` (gradio makes an unnamed event's API name from it)."""

    def to_components(out):
        return {parts[name]: value for name, value in out.items()} if isinstance(out, dict) else out

    if inspect.isgeneratorfunction(fn):
        @wraps(fn)
        def generator(*args, **kwargs):
            for out in fn(*args, **kwargs):
                yield to_components(out)

        return _named(generator, name)

    @wraps(fn)
    def function(*args, **kwargs):
        return to_components(fn(*args, **kwargs))

    return _named(function, name)


def _named(fn: Callable, name: str | None) -> Callable:
    if name is not None:
        fn.__name__ = name
    return fn
