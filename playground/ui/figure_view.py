"""`FigureView`: a Plotly figure drawn in the page with one `Plotly.react` per update.

gradio 6's `gr.Plot` redraws every new figure twice (two `Plotly.react` calls, 40-60 ms each in
chromium on this project's 2-core machines; bench/ui_latency.py), which alone spent the
slider-to-plot budget. This component is a `gr.HTML` with a fixed template (a label, a legend and an
empty div, which gradio never re-renders) whose `js_on_load` draws the figure on load and on each new
value, with the plotly.js that ships inside the Python `plotly` package (served by gradio as a static
file, so the page needs no network beyond the app).

- Its value is the figure as a JSON string (`encode`), which the page and the API both receive:
  gradio's page deep-copies every object value of an event's outputs twice per update (its loading
  status), which for a figure dict cost ~30 ms a slider move; a string costs nothing to copy.
- `TEMPLATE` is the layout part of plotly's default template (the look `go.Figure` gives), without
  the defaults for trace types this app never draws.
- A figure whose `layout.meta.legend` is "html" gets its legend drawn by the page, as buttons above
  the plot (a click hides that trace): Plotly's own legend took a quarter of each redraw.
- The drawn element keeps Plotly's `.js-plotly-plot` class and `el.data`, which the browser tests
  read. A `ResizeObserver` redraws at the new width when the column changes size.
- Narrower than `NARROW` px (a phone): a bar chart shows only its first bars (the most likely tokens),
  about 28 px each, so their labels stay readable; the title moves left and Plotly's toolbar is off,
  so nothing covers the title.
- In presenter mode (presenter.py: the `presenter` class on the body) the figure is drawn taller, with larger
  type, and redrawn when the mode changes (the page's `presenter` event).
- In the dark theme (gradio's `dark` class on the body) the figure is drawn on the page's own background,
  in its text colour (near-black markers too), with dim grid lines.
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import orjson
import plotly
import plotly.graph_objects as go
import plotly.io as pio

PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
_LOOK = ("autotypenumbers", "colorway", "font", "hovermode", "hoverlabel", "paper_bgcolor", "plot_bgcolor", "xaxis",
         "yaxis", "shapedefaults", "annotationdefaults", "title")
TEMPLATE = {"layout": {k: v for k, v in pio.templates["plotly"].to_plotly_json()["layout"].items() if k in _LOOK}}
CONFIG = {"displaylogo": False, "responsive": True}
NARROW = 420  # px: the plot column of a phone (the 1366 px laptop gives ~470)
HTML = ("""<div class="figure-view"><span class="figure-label">${label}</span>"""
        """<div class="figure-legend"></div><div class="figure-plot"></div></div>""")
CSS = """
.figure-view .figure-label { display: inline-block; font-size: var(--block-label-text-size); padding: 2px 8px;
  color: var(--block-label-text-color); border: 1px solid var(--border-color-primary); border-radius: 4px; }
.figure-view .figure-plot { width: 100%; min-height: 40px; }
.figure-legend { display: flex; flex-wrap: wrap; gap: 2px 12px; padding: 4px 8px 0; font-size: 12px; }
.figure-legend:empty { display: none; }
.figure-legend button { display: inline-flex; align-items: center; gap: 5px; background: none; border: 0; padding: 1px 0;
  cursor: pointer; color: var(--body-text-color); font: inherit; }
.figure-legend button.off { opacity: 0.4; text-decoration: line-through; }
.figure-legend .swatch { width: 12px; height: 12px; border-radius: 2px; display: inline-block; }
.figure-legend .swatch.markers { border-radius: 50%; width: 9px; height: 9px; }
.figure-legend .swatch.lines { height: 0; border-top: 2px solid; border-radius: 0; background: none !important; }
.figure-legend .swatch.dash { border-top-style: dashed; }
.figure-legend .swatch.dot { border-top-style: dotted; }
"""
# Runs once per component when the page loads (gradio passes element, props and watch).
JS = """
const box = element.querySelector('.figure-plot');
const legend = element.querySelector('.figure-legend');
const config = __CONFIG__;
const hidden = new Set();
let width = 0, narrow = false;
// A phone: fewer bars (the first, most likely ones) with readable labels, no toolbar over the title.
function fit(fig) {
  const w = box.clientWidth, l = fig.layout = fig.layout || {};
  if (document.body.classList.contains('presenter')) {  // a projector: a taller plot, larger labels
    l.height = Math.max(l.height || 440, Math.round(window.innerHeight * 0.72));
    l.font = Object.assign({}, l.font, {size: 17});
  }
  narrow = w > 0 && w < __NARROW__;
  if (!narrow) return config;
  const x = l.xaxis;
  if (x && Array.isArray(x.tickvals)) {
    const n = Math.max(6, Math.floor((w - 100) / 28));
    if (x.tickvals.length > n) {  // the rest stay a drag away, and the plot says so (the note counts them all)
      x.range = [-0.6, n - 0.4];
      l.dragmode = 'pan';
      for (const k of Object.keys(l)) if (/^yaxis[0-9]*$/.test(k)) l[k].fixedrange = true;
      l.annotations = (l.annotations || []).concat([{xref: 'paper', yref: 'paper', x: 1, y: 1, xanchor: 'right',
        yanchor: 'bottom', showarrow: false, font: {size: 11}, text: document.documentElement.lang.startsWith('zh')  // i18n.py
          ? `前 ${n} 个，共 ${x.tickvals.length} 个 · 拖动查看更多` : `first ${n} of ${x.tickvals.length} · drag for more`}]);
    }
  }
  if (l.title) Object.assign(l.title, {x: 0.02, xanchor: 'left'});
  l.margin = Object.assign({}, l.margin, {l: 50, r: 45});
  return Object.assign({}, config, {displayModeBar: false});
}
function swatch(t) {
  const s = document.createElement('span');
  const m = t.mode || '';
  const mode = t.type === 'bar' ? 'bar' : m.includes('lines') && !m.includes('markers') ? 'lines' : 'markers';
  const color = (t.marker && typeof t.marker.color === 'string' && t.marker.color) || (t.line && t.line.color) || '#888';
  s.className = 'swatch ' + mode + (t.line && t.line.dash ? ' ' + t.line.dash : '');
  s.style.background = color; s.style.borderColor = color;
  return s;
}
function drawLegend(fig) {
  legend.replaceChildren();
  if (!(fig.layout && fig.layout.meta && fig.layout.meta.legend === 'html')) return;
  for (const t of fig.data) {
    if (t.showlegend === false || !t.name) continue;
    const b = document.createElement('button');
    b.type = 'button';
    b.append(swatch(t), document.createTextNode(t.name));  // a text node: names are never HTML here
    if (hidden.has(t.name)) b.className = 'off';
    b.onclick = () => { hidden.has(t.name) ? hidden.delete(t.name) : hidden.add(t.name); draw(); };
    legend.append(b);
  }
}
// The dark theme: the page's background and text colour (near-black markers take the text colour too).
function ink() {
  return document.body.classList.contains('dark') &&
    (getComputedStyle(document.body).getPropertyValue('--body-text-color').trim() || '#f3f4f6');
}
function darken(fig, color) {
  const l = fig.layout;
  Object.assign(l, {paper_bgcolor: 'rgba(0,0,0,0)', plot_bgcolor: 'rgba(255,255,255,0.04)'});
  l.font = Object.assign({}, l.font, {color});
  if (l.title) l.title.font = Object.assign({}, l.title.font, {color});
  for (const k of Object.keys(l)) {
    if (/^[xy]axis[0-9]*$/.test(k)) Object.assign(l[k], {gridcolor: '#374151', zerolinecolor: '#4b5563', linecolor: '#4b5563'});
  }
  for (const a of l.annotations || []) a.font = Object.assign({}, a.font, {color});
}
function draw() {
  const dark = props.value ? ink() : false;
  const fig = props.value ? JSON.parse(dark ? props.value.replaceAll('"#212529"', JSON.stringify(dark)) : props.value) : null;
  if (!fig || !fig.data) { Plotly.purge(box); legend.replaceChildren(); return; }
  for (const t of fig.data) if (hidden.has(t.name)) t.visible = 'legendonly';
  drawLegend(fig);
  const shown = fit(fig);
  if (dark) darken(fig, dark);
  Plotly.react(box, fig.data, fig.layout, shown);
  width = box.clientWidth;
}
draw();
watch('value', draw);
window.addEventListener('presenter', draw);
new ResizeObserver(() => {
  if (!box.data || box.clientWidth <= 0 || box.clientWidth === width) return;
  width = box.clientWidth;
  (width < __NARROW__) !== narrow ? draw() : Plotly.Plots.resize(box);
}).observe(box);
""".replace("__CONFIG__", json.dumps(CONFIG)).replace("__NARROW__", str(NARROW))


def FigureView(label: str, elem_id: str | None = None, **kwargs) -> gr.HTML:  # noqa: N802 (a component)
    """A Plotly figure output; handlers return `encode(figure)` (a JSON string) or None.

    A function, not a gr.HTML subclass: gradio writes a .pyi stub beside every component subclass.
    """
    gr.set_static_paths([PLOTLY_JS])
    # A relative URL, so the page finds it under any root path (a proxy, a Space).
    head = f'<script src="gradio_api/file={PLOTLY_JS.as_posix()}"></script>'
    return gr.HTML(value=None, label=label, html_template=HTML, css_template="", js_on_load=JS, head=head,
                   elem_id=elem_id, apply_default_css=False, **kwargs)


def encode(fig: dict | go.Figure | None) -> str | None:
    """A figure (a plain dict or a go.Figure) as the JSON string `FigureView` draws; NaN becomes null."""
    if fig is None:
        return None
    if isinstance(fig, go.Figure):
        fig = fig.to_plotly_json()
    return orjson.dumps(fig, option=orjson.OPT_SERIALIZE_NUMPY).decode()
