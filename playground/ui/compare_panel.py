"""The page's A/B compare view: one prompt under two settings with the same seed (compare.py).

Settings A are the current controls. Settings B are written as `key=value` lines over the page's
start (the cheapest honest editor: one textbox, checked as a whole by `params.build`); picking a preset
fills them with the preset's settings, and **B := A** with A's. **Compare** decodes both replies on the
conversation, the last user turn (or the message in the box) answered, streamed side by side: A and B take
turns on the model, one token each (`compare.stream`, one compare at a time; Stop ends it). Below the two
replies, a table aligns them token by token: each token's probability under A and under B (from the same
step's logits), the first step where they part marked, why, and both chains at that step side by side.
**Swap** exchanges A and B; **Apply B** puts B into the controls.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import gradio as gr

from .. import compare, presets
from ..inputs import checked
from ..params import ParamError, build, parse_assignment
from . import controls, i18n, plot, step_view
from .guard import refusal
from .messages import model_messages, normalize, plot_messages, problem, shown
from .tokens_html import number, shade

if TYPE_CHECKING:
    from .page import Page

RAW = dict(preprocess=False)
MAX_TOKENS = 256  # per side: both replies keep every step's logits (compare.py), ~100 MB at most
HIDDEN = dict(api_visibility="undocumented")
HELP = """**A** = the current controls. **B** = the settings below, one `key=value` per line over the defaults (pick a preset to
fill them). Both answer the last user turn (or the message in the box) with the same seed; the table lines the two
replies up token by token with each token's probability under A and under B, and marks where they part."""
CSS = """
#ab-table table { border-collapse: collapse; font-size: 0.9em; }
#ab-table td, #ab-table th { padding: 2px 8px; border-bottom: 1px solid #ddd4; text-align: left; }
#ab-table .tok { font-family: ui-monospace, monospace; white-space: pre; border-radius: 3px; color: #111; padding: 0 2px; }
#ab-table tr.parting { outline: 2px solid #e8590c; }
#ab-table tr.after { opacity: 0.6; }
#ab-replies .sides { display: flex; gap: 12px; flex-wrap: wrap; }
#ab-replies .side { flex: 1 1 260px; border: 1px solid #8884; border-radius: 6px; padding: 4px 8px; }
#ab-replies .side h4 { margin: 0 0 4px; font-size: 0.9em; }
#ab-replies .tok { white-space: pre-wrap; border-radius: 3px; color: #111; }
#ab-replies .tok.parting { outline: 2px solid #e8590c; }
#ab-replies .tok.after { opacity: 0.6; }
"""
HEADERS = ("step", "A's token", "p under A", "p under B", "B's token", "p under B", "p under A")  # the table's
EVERY = 0.2  # seconds between the streamed redraws (and one at the end): a 256-token pair stays a few dozen updates


@dataclass
class Compare:
    """The compare accordion's components; `chains` are A's and B's chain tables at the parting step."""

    preset: gr.Dropdown
    seed: gr.Number
    b: gr.Textbox
    run: gr.Button
    swap: gr.Button
    copy: gr.Button
    apply: gr.Button
    note: gr.Markdown
    replies: gr.HTML
    table: gr.HTML
    chains: list


def build_panel(folder: str) -> Compare:
    """The compare accordion's components (closed: not on the first screen)."""
    with gr.Accordion(i18n.t("Compare two settings (A/B, same seed)"), open=False, elem_id="group-compare"):
        gr.Markdown(i18n.t(HELP))
        with gr.Row():
            preset = gr.Dropdown([p for p in presets.list_presets(folder)], value=None, label=i18n.t("Fill B from a preset"),
                                 elem_id="ab-preset", scale=2)
            seed = gr.Number(7, label=i18n.t("Seed (both)"), precision=0, elem_id="ab-seed", scale=1)
        b_text = gr.Textbox(label=i18n.t("Settings B (key=value, one per line)"), lines=3, elem_id="ab-b",
                            placeholder="temperature=1.3")
        with gr.Row():
            run = gr.Button(i18n.t("Compare"), variant="primary", size="sm", elem_id="ab-run")
            swap = gr.Button(i18n.t("Swap A and B"), size="sm", elem_id="ab-swap")
            copy = gr.Button(i18n.t("B := A"), size="sm", elem_id="ab-copy")
            apply = gr.Button(i18n.t("Apply B to the main controls"), size="sm", elem_id="ab-apply")
        note = gr.Markdown("", elem_id="ab-note")
        replies = gr.HTML("", elem_id="ab-replies")
        table = gr.HTML("", elem_id="ab-table")
        with gr.Row(equal_height=False, elem_id="ab-chains"):
            chain_a = gr.Dataframe(headers=step_view.CHAIN_HEADERS, interactive=False, wrap=True, elem_id="ab-chain-a",
                                   label=i18n.t("A's chain at the parting step"))
            chain_b = gr.Dataframe(headers=step_view.CHAIN_HEADERS, interactive=False, wrap=True, elem_id="ab-chain-b",
                                   label=i18n.t("B's chain at the parting step"))
    return Compare(preset=preset, seed=seed, b=b_text, run=run, swap=swap, copy=copy, apply=apply, note=note, replies=replies,
                   table=table, chains=[chain_a, chain_b])


# --- settings B ------------------------------------------------------------------------------------
def lines(params, start) -> str:
    """Settings as `key=value` lines: what differs from the page's start."""
    return "\n".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in params.changed().items()
                     if getattr(start, k) != v)


def settings_b(text: str | None, start):
    """B's parameters from its `key=value` lines over the page's start; ParamError naming the line."""
    values = {}
    for i, line in enumerate((text or "").splitlines(), 1):
        if line.strip():
            if "=" not in line:
                raise ParamError([f"settings B line {i} must be key=value, but is {line.strip()[:80]!r}. Write e.g. temperature=1.3."])
            key, value = parse_assignment(line.strip())
            values[key] = value
    return build({**start.changed(), **values}, source="settings B")


def from_preset(name, folder: str = presets.PRESETS_DIR, start=None) -> tuple:
    """(B's lines, note) for a shipped preset."""
    try:
        values, description = presets.read_preset(str(name or ""), folder)[:2]
        b = build({**start.changed(), **values}, source=str(name))
        return lines(b, start), i18n.tr("B = preset **{name}**: {description}", name=shown(name), description=shown(description))
    except ParamError as e:
        return gr.skip(), problem(" ".join(e.messages))


def copy_a(*values, start=None) -> tuple:
    """B := A: (B's lines, note)."""
    try:
        return lines(controls.to_params(values), start), i18n.tr("B is now a copy of A: edit it, then Compare.")
    except ParamError as e:
        return gr.skip(), problem(" ".join(e.messages))


def swap(b_text, *values, start=None) -> list:
    """[B's lines (A's settings), note, *controls (B's)]."""
    try:
        a, b = controls.to_params(values), settings_b(b_text, start)
    except ParamError as e:
        return [gr.skip(), problem("Not swapped: " + " ".join(e.messages))] + [gr.skip() for _ in controls.NAMES]
    return [lines(a, start), i18n.tr("Swapped: the controls hold B's settings, B holds A's."), *controls.to_values(b)]


def apply_b(b_text, start=None) -> list:
    """[note, *controls]: B into the main controls."""
    try:
        b = settings_b(b_text, start)
    except ParamError as e:
        return [problem("Not applied: " + " ".join(e.messages))] + [gr.skip() for _ in controls.NAMES]
    return [i18n.tr("The main controls now hold settings B ({settings}).", settings=shown(step_view.settings(b))),
            *controls.to_values(b)]


# --- the comparison --------------------------------------------------------------------------------
def _cell(t) -> str:
    if t is None:
        return "<td></td><td></td><td></td>"
    return (f'<td><span class="tok" style="background-color: {shade(t.prob)}">{html.escape(t.token)}</span></td>'
            f"<td>{t.prob:.3g}</td><td>{t.other:.3g}</td>")


def table(c: compare.Comparison) -> str:
    """Both replies aligned by step: A's token, its p under A and under B; B's token, its p under B and under A."""
    k = c.parting.step if c.parting else None
    head = "<tr>" + "".join(f"<th>{i18n.tr(h)}</th>" for h in HEADERS) + "</tr>"
    rows = []
    for i in range(max(len(c.a), len(c.b))):
        cls = "parting" if i == k else ("after" if k is not None and i > k else "")
        a, b = (c.a[i] if i < len(c.a) else None), (c.b[i] if i < len(c.b) else None)
        mark = (f' ◀ <a href="#ab-chains" title="{i18n.tr("both chains at this step, below")}">{i18n.tr("they part")}</a>'
                if i == k else "")
        rows.append(f'<tr class="{cls}" data-step="{i}"><td>{number(i)}{mark}</td>{_cell(a)}{_cell(b)}</tr>')
    return f"<table>{head}{''.join(rows)}</table>"


def _reply(tokens, done, k) -> str:
    """One side's reply as coloured tokens (probability under its own settings), the parting token outlined."""
    spans = []
    for t in tokens:
        cls = "parting" if t.step == k else ("after" if k is not None and t.step > k else "")
        spans.append(f'<span class="tok {cls}" data-step="{t.step}" style="background-color: {shade(t.prob)}" '
                     f'title="token {number(t.step)}: p={t.prob:.3g}">{html.escape(t.token)}</span>')
    tail = f" <em>({html.escape(done.finish_reason)})</em>" if done is not None else " …"
    return "".join(spans) + tail


def replies(c: compare.Comparison) -> str:
    """Both replies side by side as they stream."""
    k = c.parting.step if c.parting else None
    sides = "".join(f'<div class="side" id="ab-reply-{n.lower()}"><h4>{n}</h4>{_reply(tokens, done, k)}</div>'
                    for n, tokens, done in (("A", c.a, c.a_done), ("B", c.b, c.b_done)))
    return f'<div class="sides">{sides}</div>'


def _not_compared(message: str) -> tuple:
    return problem("Not compared: " + message), gr.skip(), gr.skip(), gr.skip(), gr.skip()


@checked(_not_compared)
def run(engine, message: str | None, history: list | None, system: str | None, b_text, seed, *values, start=None,
        limits=None) -> Iterator[tuple]:
    """Yield (note, both replies, table HTML, A's chain, B's chain at the parting step) as the two replies grow."""
    try:
        a, b = controls.to_params(values), settings_b(b_text, start)
        if a.mode == "beam" or b.mode == "beam":
            raise ParamError(["`num_beams` must be 1 to compare, but is more in A or B: beam search does not go token by token."])
        if max(a.max_new_tokens, b.max_new_tokens) > MAX_TOKENS:  # compare keeps every step's logits (196 KB each)
            raise ParamError([f"`max_new_tokens` must be at most {MAX_TOKENS} to compare (every step's logits are kept), but "
                              f"is {max(a.max_new_tokens, b.max_new_tokens)} in {'A' if a.max_new_tokens > MAX_TOKENS else 'B'}. "
                              "Lower it in the controls or in B."])
        if isinstance(seed, bool) or not isinstance(seed, (int, float)) or seed != int(seed) or not 0 <= seed < 2**32:
            raise ParamError([f"`seed` must be a whole number in [0, 2^32), but is {seed!r}."])
    except ParamError as e:
        yield _not_compared(" ".join(e.messages))
        return
    pending = (message or "").strip()
    msgs = model_messages(normalize(history)) + [{"role": "user", "content": pending}] if pending \
        else plot_messages(normalize(history))
    if not msgs or msgs[-1]["role"] != "user":
        yield _not_compared("there is no user turn to answer. Type a message (it is not sent), then Compare.")
        return
    system = (system or "").strip() or None
    for side, p in (("A", a), ("B", b)):
        if why := refusal(engine, limits, p, msgs, system):
            yield _not_compared(f"settings {side}: {why}")
            return
    last = 0.0
    for c in compare.stream(engine, msgs, a, b, int(seed), system):
        finished = c.a_done is not None and c.b_done is not None
        if finished or time.monotonic() - last >= EVERY:
            last = time.monotonic()
            yield _shown(c, finished)


def _shown(c: compare.Comparison, finished: bool) -> tuple:
    """(note, both replies, table, A's chain, B's chain): the chains once the parting step is known."""
    said = shown(i18n.say(c.note))  # compare.py's line, in the visitor's language (i18n.PATTERNS)
    note = i18n.tr("Seed {seed}: {note}" if finished else "Seed {seed}, comparing: {note}", seed=c.seed, note=said)
    if c.parting is None:
        empty = step_view.chain_frame([])
        return note, replies(c), table(c), empty, empty
    ca, cb = (step_view.chain_frame([vars(r) for r in rows]) for rows in c.parting.chains)
    at = number(c.parting.step)
    return (note, replies(c), table(c), gr.update(value=ca, label=i18n.tr("A's chain at step {at}", at=at)),
            gr.update(value=cb, label=i18n.tr("B's chain at step {at}", at=at)))


def wire(engine, page: Page, folder: str):
    """The compare view's events; returns Compare's (Stop cancels it). Compare runs in its own concurrency group, one
    at a time: its decoders are its own, so it never holds up the plot, the inspector or the batch."""
    p, ab, P, start = page, page.compare, page.params, page.start
    quiet = dict(queue=False, show_progress="hidden", **HIDDEN, **RAW)
    ab.preset.input(partial(from_preset, folder=folder, start=start), [ab.preset], [ab.b, ab.note], **quiet)
    ab.copy.click(partial(copy_a, start=start), P, [ab.b, ab.note], **quiet)
    compared = ab.run.click(partial(run, engine, start=start, limits=p.limits), [p.msg, p.chatbot, p.system, ab.b, ab.seed, *P],
                            [ab.note, ab.replies, ab.table, *ab.chains], concurrency_id="compare", concurrency_limit=1,
                            show_progress="minimal", **HIDDEN, **RAW)
    resync_in, live = [p.ctx, p.top_n, p.scale, p.settings, *P], [p.fig, p.note]
    for ev in (ab.swap.click(partial(swap, start=start), [ab.b, *P], [ab.b, ab.note, *P], **quiet),
               ab.apply.click(partial(apply_b, start=start), [ab.b], [ab.note, *P], **quiet)):
        ev.then(controls.mode_updates, [p.mode, *P], [p.mode, *P], **quiet) \
            .then(partial(plot.resync, engine), resync_in, live, **quiet)
    return compared
