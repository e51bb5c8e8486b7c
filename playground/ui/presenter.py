"""Presenter mode, for a projector: large type, a large plot, and only the controls the presenter picks.

A toggle (or `?presenter=1` in the page's address, with `&controls=temperature,top_p` to pick the
controls) adds the `presenter` class to the page's body: `CSS` enlarges the type and hides what a room
does not need to read (the intro line, the caps, the presets, export, the inspector's explanations),
`APPLY_JS` hides every parameter control but the picked ones (and a group left with none), and the
plot redraws taller with larger labels (figure_view.py listens for the `presenter` event). Everything
happens in the page: no handler runs on the server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import gradio as gr

from ..params import GROUPS, SPECS
from .controls import MAIN, NAMES, group_id
from .i18n import t

# The theme's sizes are CSS variables set on :root, and the derived ones (a button's, an input's) were worked out
# there: both are set again on the body, so every text on the page grows by about a third.
_SIZES = {"text-xxs": 12, "text-xs": 13, "text-sm": 16, "text-md": 19, "text-lg": 22, "text-xl": 29, "text-xxl": 34}
_DERIVED = {"block-info-text-size": "sm", "block-label-text-size": "md", "block-title-text-size": "md",
            "button-large-text-size": "lg", "button-medium-text-size": "md", "button-small-text-size": "sm",
            "chatbot-text-size": "lg", "checkbox-label-text-size": "md", "input-text-size": "md", "prose-text-size": "md",
            "section-header-text-size": "md"}
CSS = ("body.presenter { " + " ".join(f"--{k}: {v}px;" for k, v in _SIZES.items())
       + " ".join(f" --{k}: var(--text-{v});" for k, v in _DERIVED.items()) + " }") + """
body.presenter #intro p, body.presenter #caps, body.presenter #group-export, body.presenter #preset-info,
body.presenter #explain, body.presenter .presenter-hide { display: none !important; }
"""
# Defines the page's `__presenter(on, picked)` once, then applies the URL's choice; returns it for the controls.
LOAD_JS = """() => {
  if (!window.__presenter) {
    window.__presenter = (on, picked) => {
      document.body.classList.toggle('presenter', !!on);
      const keep = new Set(picked || []);
      for (const el of document.querySelectorAll('[id^="param-"]')) {
        el.style.display = on && !keep.has(el.id.slice(6)) ? 'none' : '';
      }
      for (const [id, names] of Object.entries(__GROUPS__)) {  // a group left with no picked control goes too
        const g = document.getElementById(id);
        if (g) g.style.display = on && !names.some(n => keep.has(n)) ? 'none' : '';
      }
      window.dispatchEvent(new Event('presenter'));
    };
  }
  const q = new URLSearchParams(location.search);
  const on = q.get('presenter') === '1';
  const picked = q.get('controls') ? q.get('controls').split(',').filter(n => __NAMES__.includes(n)) : __MAIN__;
  window.__presenter(on, picked);
  return [on, picked];
}""".replace("__NAMES__", json.dumps(list(NAMES))).replace("__MAIN__", json.dumps(list(MAIN))).replace(
    "__GROUPS__", json.dumps({group_id(g): [n for n in NAMES if SPECS[n].group == g] for g in GROUPS}))
APPLY_JS = "(on, picked) => { window.__presenter && window.__presenter(on, picked); }"


@dataclass
class Presenter:
    """The toggle and the picked controls."""

    on: gr.Checkbox
    picked: gr.Dropdown


def build() -> Presenter:
    """The toggle and the picked controls (the main ones by default)."""
    with gr.Row(elem_id="presenter-row"):
        on = gr.Checkbox(False, label=t("Presenter mode (large type, large plot; or ?presenter=1)"), elem_id="presenter",
                         scale=1)
        picked = gr.Dropdown(list(NAMES), value=list(MAIN), multiselect=True, label=t("Controls shown in presenter mode"),
                             elem_id="presenter-controls", scale=2)
    return Presenter(on, picked)


def wire(demo: gr.Blocks, panel: Presenter) -> None:
    """Apply the URL's choice on load, and the toggle and the picked controls when they change (in the page only)."""
    both = [panel.on, panel.picked]
    demo.load(None, None, both, js=LOAD_JS)
    for c in both:
        c.change(None, both, None, js=APPLY_JS)
