"""The page's typed wiring (ui/page.py): every component an event uses is an attribute of the `Page` (or of
the remote page's `RemotePage`), none is left None, and no ui module reads components back by string key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import gradio as gr

from playground.remote import OpenAIBackend
from playground.ui import layout, remote_page

UI = Path(layout.__file__).parent


def _components(obj) -> list:
    """Every gradio block held by a page: its attributes, the panels' dataclasses and lists (tuples) inside them."""
    if isinstance(obj, gr.blocks.Block):
        return [obj]
    if dataclasses.is_dataclass(obj):
        return [b for f in dataclasses.fields(obj) for b in _components(getattr(obj, f.name))]
    if isinstance(obj, (list, tuple)):
        return [b for x in obj for b in _components(x)]
    return []


def _wired(demo: gr.Blocks) -> set[int]:
    """The ids of the components the page's events take, fill or listen to."""
    ids = set()
    for dep in demo.get_config_file()["dependencies"]:
        ids.update(dep["inputs"], dep["outputs"], (target for target, _ in dep["targets"]))
    return ids - {None}  # a `.then` or the page's unload has no component as its target


def _built(monkeypatch, module, build):
    """(the Blocks, the page object its `_wire` was given)."""
    seen, wire = [], module._wire
    monkeypatch.setattr(module, "_wire", lambda *args: (seen.append(args[-1]), wire(*args)))
    demo = build()
    return demo, seen[0]


def test_the_page_holds_every_component_its_events_use(engine, monkeypatch):
    demo, page = _built(monkeypatch, layout, lambda: layout.build_demo(engine))
    assert isinstance(page, layout.Page) and page.missing() == []
    held = {b._id for b in _components(page)}
    lang_switch = {b._id for b in demo.blocks.values() if b.elem_id == "lang-switch-box"}  # i18n.switch, its own events
    assert _wired(demo) - held - lang_switch == set()
    assert {page.inspector.chain.elem_id, page.compare.run.elem_id, page.share.link.elem_id} == {"chain-table", "ab-run",
                                                                                                  "share-link"}
    assert [c.elem_id for c in page.inspector.view().values()] == ["inspect-info", "inspect-plot", "chain-table", "raw-vs-final",
                                                                   "order-view", "candidates", "force-token"]


def test_the_remote_page_holds_every_component_its_events_use(monkeypatch):
    backend = OpenAIBackend("http://127.0.0.1:9/v1", "m", kind="openai")  # never called: the page is only built
    demo, page = _built(monkeypatch, remote_page, lambda: remote_page.build_remote_demo(backend))
    assert isinstance(page, remote_page.RemotePage)
    assert [f.name for f in dataclasses.fields(page) if getattr(page, f.name) is None] == []
    lang_switch = {b._id for b in demo.blocks.values() if b.elem_id == "lang-switch-box"}
    assert _wired(demo) - {b._id for b in _components(page)} - lang_switch == set()


def test_no_ui_module_reads_components_by_string_key():
    keyed = re.compile(r"""\bc\[|\b(ui|panel|parts)\[\s*["']""")  # the old `c["msg"]`, `c[n]`, `panel["btn"]`
    found = [f"{path.name}:{n}: {line.strip()}" for path in sorted(UI.glob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1) if keyed.search(line)]
    assert found == []
