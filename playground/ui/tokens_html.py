"""The last reply as coloured token spans: the HTML of the `#reply-tokens` panel, built here.

Every token's text and every attribute is escaped with `html.escape`, so model output always shows as
text (a reply holding `<script>` or `<img onerror=...>` renders those characters, never elements).
Each token is a `<span data-step="k">` (k: the step's 0-based index; the page numbers steps from 1,
`number(k)`: step 1 is the first token of the reply) shaded by the probability it was chosen with
(red: unlikely, green: likely) with a `title` giving its step, that probability and the model's rank; a run
of byte tokens (pieces of one character, '<0xF0><0x9F>') shows the character they make, its bytes on hover;
`ON_LOAD` (the panel's `js_on_load`) makes a click on a span fire the panel's `inspect_token` event
with {step: k} (every click fires, the same token twice too), which opens step k, and scrolls the
step's view (`#inspect-info`, its plot under it) to the top of the window.
"""

from __future__ import annotations

import html
import re

from .i18n import tr

EMPTY = "The tokens of the last reply appear here, coloured by the probability each was chosen with."
LEGEND = ("Colour = probability the token was chosen with (red: unlikely, green: likely). "
          "Click a token to take its step apart.")

CSS = """
#reply-tokens .tokens { white-space: pre-wrap; line-height: 1.9; font-family: ui-monospace, monospace; font-size: 0.9em; }
#reply-tokens .tok { cursor: pointer; border-radius: 3px; padding: 1px 0; color: #111; }
#reply-tokens .tok:hover { outline: 1px solid #1971c2; }
#reply-tokens .tok.sel { outline: 2px solid #1971c2; }
#reply-tokens .tok.forced { text-decoration: underline dashed; }
#reply-tokens .tok.special { font-style: italic; opacity: 0.8; }
#reply-tokens .tok.cont { display: inline-block; min-width: 0.5em; height: 1.2em; vertical-align: middle; }
#reply-tokens .tok.next { background: #e7f5ff; color: #1971c2; padding: 1px 4px; }
#reply-tokens .legend { font-size: 0.8em; opacity: 0.75; margin-bottom: 4px; }
"""

# The panel's own listener (gr.HTML's `js_on_load`, run once when the panel mounts; the spans inside are
# re-rendered with every reply): a click on a token span fires the panel's `inspect_token` event with its step.
ON_LOAD = """element.addEventListener('click', (e) => {
  const span = e.target.closest ? e.target.closest('[data-step]') : null;
  if (!span || !element.contains(span)) return;
  trigger('inspect_token', {step: Number(span.dataset.step)});
  const view = document.querySelector('#inspect-info');
  if (view) view.scrollIntoView({block: 'start', behavior: 'smooth'});
});"""


def number(k: int) -> int:
    """Step k (0-based, as `data-step`, the handlers and the records keep it) as the page names it: from 1."""
    return int(k) + 1


def shade(p: float) -> str:
    """A background colour for probability p: hue 0 (red) at 0, 120 (green) at 1."""
    p = min(max(float(p), 0.0), 1.0)
    return f"hsl({round(120 * p)}, 75%, 82%)"


def title(step) -> str:
    parts = [f"step {number(step.step)}", f"p = {step.prob:.4g}", f"rank {step.rank}", f"model p = {step.prob_raw:.4g}",
             f"id {step.token_id}"]
    if step.token_id < 0:  # a remote server's token: no id here, and its rank among the top tokens it sent (0: not there)
        parts = [f"step {number(step.step)}", f"p = {step.prob:.4g}", f"rank {step.rank}" if step.rank else "not in the top 20"]
    if step.forced:
        parts.append("forced")
    return " · ".join(parts)


def span(step, selected: bool = False, special: bool = False, text: str | None = None, extra: str = "") -> str:
    """One token's span; `text` replaces its own text (a byte run's character), `extra` adds to its hover."""
    cont = text == ""
    classes = ["tok"] + (["sel"] if selected else []) + (["forced"] if step.forced else []) + \
        (["special"] if special else []) + (["cont"] if cont else [])
    hover = title(step) + (f" · {extra}" if extra else "")
    return (f'<span class="{" ".join(classes)}" data-step="{int(step.step)}" data-id="{int(step.token_id)}" '
            f'style="background-color: {shade(step.prob)}" title="{html.escape(hover)}">'
            f"{visible(step.token if text is None else text)}</span>")


def visible(text: str) -> str:
    """A token's text as HTML with something to see and click: a line break shows as ↵ before it breaks the line."""
    return html.escape(text).replace("\n", "↵\n")


BYTES = re.compile(r"(?:<0x[0-9A-F]{2}>)+")


def byte_runs(tokens: list[str]) -> list[tuple[str | None, str]]:
    """Per token: (the text to show instead of its own, or None; a hover addition). A run of byte tokens
    ('<0xF0><0x9F>', '<0x98><0x80>') shows the characters it makes on its first token; the others show an
    empty, still clickable, span; each hover gives the run's bytes. A run that is no valid UTF-8 stays as bytes."""
    out: list[tuple[str | None, str]] = [(None, "")] * len(tokens)
    i = 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and BYTES.fullmatch(tokens[j]):
            j += 1
        if j == i:
            i += 1
            continue
        hexes = "".join(tokens[i:j])
        try:
            chars = bytes(int(h, 16) for h in re.findall(r"<0x([0-9A-F]{2})>", hexes)).decode("utf-8")
        except UnicodeDecodeError:
            i = j
            continue
        note = f"bytes {hexes} make {chars!r} together"
        out[i:j] = [(chars, note)] + [("", note)] * (j - i - 1)
        i = j
    return out


def render(steps: list, selected: int | None = None, pending: bool = False, special_ids=(), note: str = "") -> str:
    """The panel: a legend, one span per step, and (while the reply is open) a `▸` span for the next step."""
    if not steps and not pending:
        return f'<div class="tokens-empty">{html.escape(note or tr(EMPTY))}</div>'
    special = set(special_ids)
    runs = byte_runs([s.token for s in steps])
    spans = [span(s, selected == s.step, s.token_id in special, text, extra) for s, (text, extra) in zip(steps, runs)]
    if pending:
        n = len(steps)
        cls = "tok next sel" if selected == n else "tok next"
        spans.append(f'<span class="{cls}" data-step="{n}" title="step {number(n)}: the next token, not chosen yet. Click to see '
                     'its candidates and force one.">▸</span>')
    head = f'<div class="legend">{html.escape(tr(LEGEND))}{" " + html.escape(note) if note else ""}</div>'
    return f'{head}<div class="tokens">{"".join(spans)}</div>'
