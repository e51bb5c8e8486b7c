"""The page's own CSS, with the CSS of the parts that bring theirs (presenter mode, the reply tokens, the figures,
the compare view): `layout.LAUNCH` passes it to gradio."""

from __future__ import annotations

from . import compare_panel as ab
from . import figure_view, presenter, tokens_html

CSS = presenter.CSS + """
#chat .message-content span.md { white-space: pre-wrap; }
#status, #plot-note, #preset-info { min-height: 1.5em; }
#caps { font-size: 0.9em; opacity: 0.85; }
#intro h1 { font-size: 1.6em; margin: 0 0 2px; }
#intro p { margin: 0; }
#examples { align-items: center; gap: 6px; flex-wrap: wrap; }
#examples > * { flex: 0 0 auto !important; width: auto !important; min-width: 0 !important; }
/* A click on a candidate row forces it: no cell stays outlined as "selected" in the next step's table. */
#candidates .cell-selected { box-shadow: none !important; }
#candidates .selection-button { display: none !important; }
""" + tokens_html.CSS + figure_view.CSS + ab.CSS
