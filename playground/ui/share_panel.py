"""The page's Share panel: a link to the page state, and a session file that replays the last reply.

**Copy link** (`make_link`): the settings (only what differs from the page's start, or a shipped preset's
name), the system prompt, the conversation, the seed the last reply drew and the step the inspector shows
become one `?s=` value (share.py); the page puts it into its URL (`history.replaceState`), the clipboard
and the link box. **Opening a link** (`opening`, on page load): the link is read and validated as a whole
(share.read_link): the controls, the system prompt and the conversation are restored and the plot is drawn
for the same step: one forward pass over the conversation, plus the last reply's first k tokens (its text
tokenized again) when the link names step k. The reply itself is not re-run. A bad link changes nothing:
the page opens as without it, and the status line says why.

**Session file** (`download_session` / `open_session`): the last reply's records with its conversation,
settings, seed, model id and dtype (share.session_json). Opening one replays it read-only: the chat, the
controls, the coloured tokens and every step's plot, candidates and chain table come from the records
(replay.Recorded in the inspector); the model is never run. A file of another model or format loads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr

from .. import plotdata, presets, share
from ..inputs import checked
from ..inputs import history as check_history
from ..inputs import step as check_step
from ..params import ParamError, build
from ..replay import Recorded
from . import controls, examples, inspector, plot, presets_panel, step_view
from .figure_view import encode
from .i18n import t, tr
from .messages import model_messages, normalize, problem, shown
from .reply import Reply
from .tokens_html import number
from .wiring import keyed

if TYPE_CHECKING:
    from .page import Page

MAX_SESSION = 20_000_000  # bytes of a session file the page reads
OPENED = "Opened a link: {n} messages, settings {what}."
OPENED_AT = "Opened a link: {n} messages, settings {what}; the plot shows step {k} of the last reply (the reply is not run again)."
REPLAYING = ("Replaying **{source}** read-only ({n} tokens, {model}, {dtype}): click a token to see its step. The model is not "
             "run; Send or Regenerate makes a new reply.")
RAW = dict(preprocess=False)
HIDDEN = dict(api_visibility="undocumented")
HELP = """**Copy link** puts these settings, the system prompt and the conversation into the page's address (and the
clipboard): opening it restores them, with the plot on the step you were looking at (the reply is not run again).
**Download session** saves the last reply with every step's candidates and chain; **Open session** replays such a
file read-only, without running the model (a workshop can be prepared offline: see the README)."""
LINK_JS = """(v) => {
  if (!v || v.includes('://')) return v;
  const u = new URL(window.location.href);
  u.searchParams.set('s', v);
  window.history.replaceState(null, '', u.href);
  if (navigator.clipboard) navigator.clipboard.writeText(u.href).catch(() => {});
  return u.href;
}"""
# The preset upload's file picker, for a JSON file of up to MAX_SESSION bytes: (text, name) in, (text, name) out.
OPEN_JS = "(text, name) => (" + presets_panel.UPLOAD_JS.replace(".yaml,.yml,text/yaml", ".json,application/json") \
    .replace(str(presets.MAX_BYTES), str(MAX_SESSION)) + ")(text, name, null).then((r) => [r[0], r[1]])"
SAVE_JS = presets_panel.DOWNLOAD_JS.replace("application/yaml", "application/json")


@dataclass
class Share:
    """The Share accordion's components, the hidden (text, name) pair a session file travels in, and the step a
    link names (read on the page's load, for the plot)."""

    copy: gr.Button
    link: gr.Textbox
    save: gr.Button
    load: gr.Button
    note: gr.Markdown
    file: list
    step: gr.State


def build_panel() -> Share:
    """The Share accordion's components (closed: not on the first screen)."""
    with gr.Accordion(t("Share: a link, or a session file"), open=False, elem_id="group-share"):
        gr.Markdown(t(HELP))
        with gr.Row():
            copy = gr.Button(t("Copy link"), size="sm", elem_id="copy-link", scale=1)
            link = gr.Textbox(label=t("Link to this page"), elem_id="share-link", scale=4, buttons=["copy"])
        with gr.Row():
            save = gr.Button(t("Download session (JSON)"), size="sm", elem_id="download-session")
            load = gr.Button(t("Open session (JSON)"), size="sm", elem_id="open-session")
        note = gr.Markdown("", elem_id="share-note")
        text = gr.Textbox(visible="hidden", elem_id="session-file-text", label=t("Session file text"))
        name = gr.Textbox(visible="hidden", elem_id="session-file-name", label=t("Session file name"))
    return Share(copy=copy, link=link, save=save, load=load, note=note, file=[text, name], step=gr.State(None))


def page_presets(folder: str, start) -> dict:
    """The shipped presets as the page loads them (the page's start, overridden by the preset)."""
    out = {}
    for name in presets.list_presets(folder):
        try:
            out[name] = build({**start.changed(), **presets.read_preset(name, folder)[0]})
        except ParamError:
            continue
    return out


def _reply_seed(reply: Reply | None) -> int | None:
    return reply.dec.result().seed if reply is not None and reply.decoders else None


# --- the link --------------------------------------------------------------------------------------
@checked(lambda message: ("", problem("No link made: " + message)))
def make_link(history: list | None, system: str | None, reply: Reply | None, *values, known: dict | None = None) -> tuple:
    """(the `s` value, or '' when none can be made; a line saying what it holds)."""
    try:
        params = controls.to_params(values)
    except ParamError as e:
        return "", problem("No link made: " + " ".join(e.messages))
    seed = _reply_seed(reply)
    if params.seed is None and seed is not None:
        params = params.replace(seed=seed)
    k = reply.selected if reply is not None and reply.selected is not None and reply.selected < len(reply.dec.steps) else None
    convo = model_messages(normalize(history))
    try:
        value = share.link_state(params, (system or "").strip(), convo, k, known)
    except ParamError as e:
        return "", problem(" ".join(e.messages))
    what = [tr("{n} messages", n=len(convo)), tr("settings {what}", what=_changed(params))]
    if k is not None:
        what.append(tr("step {k}", k=number(k)))
    return value, (tr("Link made: in the address bar and the box (and the clipboard where the browser allows it): ")
                   + ", ".join(what) + tr(" · {n} characters.", n=len(value)))


def _changed(params) -> str:
    return shown(step_view.settings(params))


def opening(request, known: dict | None = None) -> list:
    """On page load: [message box, chat, system, status, preset, pending step, *controls]. Without `?s=`, the
    landing example; with a good link, the page state it holds; with a bad one, the landing and why."""
    skip = [gr.skip() for _ in controls.NAMES]
    value = request.query_params.get("s") if request is not None else None
    if value is None:
        return [examples.LANDING, gr.skip(), gr.skip(), gr.skip(), gr.skip(), None, *skip]
    try:
        got = share.read_link(value, known)
    except ParamError as e:
        return [examples.LANDING, gr.skip(), gr.skip(), problem(" ".join(e.messages)), gr.skip(), None, *skip]
    history = [{"role": m["role"], "content": shown(m["content"])} for m in got.conversation]
    said = tr(OPENED if got.step is None else OPENED_AT, n=len(history), what=_changed(got.params),
              k=number(got.step) if got.step is not None else "")
    return ["", history, got.system, said, got.preset or gr.skip(), got.step, *controls.to_values(got.params)]


@checked(lambda message: (gr.skip(), gr.skip(), problem("Plot not updated: " + message)))
def draw(engine, message: str | None, history: list | None, system: str | None, link_step, top_n, scale, settings: dict,
         *values) -> tuple:
    """(ctx, figure, note) after the page opened: the plot of the box's message (the landing example) or of
    the conversation; at step k of its last reply when the link names one (one forward pass)."""
    settings.update(controls.mirror(values))
    history = normalize(check_history(history))
    if link_step is None or not history or history[-1]["role"] != "assistant":
        return plot.preview(engine, message, history, system, top_n, scale, *values)
    k = check_step(link_step)
    ctx = plot.context(engine, history, system)
    reply_ids = engine.tokenizer.encode(model_messages(history[-1:])[0]["content"], add_special_tokens=False)[:k]
    ctx = {"ids": ctx["ids"] + reply_ids, "about": tr("step {k} of the last reply (its text tokenized again; the reply is not "
                                                      "run again)", k=number(len(reply_ids)))}
    plot.compute(engine, ctx)
    return (ctx, *plot.live(engine, ctx, top_n, scale, *values))


# --- the session file ------------------------------------------------------------------------------
@checked(lambda message: ("", gr.skip(), problem("Not downloaded: " + message)))
def download_session(history: list | None, system: str | None, reply: Reply | None, model: dict | None = None) -> tuple:
    """(JSON text, file name, message) of the last reply with its records; '' when there is none."""
    if reply is None or not reply.dec.steps:
        return "", gr.skip(), problem("Nothing to download: make a reply first (Send), then download its session.")
    dec = reply.dec
    params = dec.params if dec.params.seed is not None or _reply_seed(reply) is None else dec.params.replace(seed=_reply_seed(reply))
    convo = model_messages(reply.history())
    shared = share.Shared(params, (system or "").strip(), convo, steps=dec.steps, finish_reason=dec.finish, model=model or {})
    fname = f"session-{len(dec.steps)}-tokens.json"
    return share.session_json(shared), fname, tr("Downloaded the last reply ({n} tokens) as **{fname}**.", n=len(dec.steps),
                                                  fname=fname)


def _not_opened(message: str) -> dict:
    return {"status": problem(message)}  # every other output stays as it is


def open_session(engine, text: str | None, fname: str | None, top_n, scale, settings: dict, model: dict | None = None) -> dict:
    """{name: value}: the chat, the system prompt, the status line, the steps, the reply, the plot (ctx,
    fig, note), the reply's tokens, its branches, the step view (`step_view.VIEW`) and every control by its name: the
    file's last reply replayed read-only from its records; never runs the model. A bad file changes nothing but the
    status line."""
    source = Path(str(fname or "")).name[:80] or "the file"
    if not (text or "").strip():
        return _not_opened("No file chosen: pick a session file (JSON) to open.")
    if len(text) > MAX_SESSION:
        return _not_opened(f"{source} must be at most {MAX_SESSION} bytes, but is larger. Nothing was loaded.")
    try:
        got = share.read_session(text, model, source)
        if not got.steps or not got.conversation or got.conversation[-1]["role"] != "assistant":
            raise ParamError([f"{source} holds no reply to replay (its conversation must end with the reply its steps record)."])
    except ParamError as e:
        return _not_opened("Session not opened, nothing changed: " + " ".join(e.messages))
    convo = [{"role": m["role"], "content": shown(m["content"])} for m in got.conversation]
    dec = Recorded(got.steps, got.params, got.conversation[-1]["content"], got.finish_reason, got.params.seed)
    reply = Reply(convo[:-1], [dec], [tr("1: replayed from {source} (read-only)", source=source)], [None])
    first = plotdata.from_step(got.steps[0], int(top_n or 30), title=tr("Step 1 (from the session file)"))
    settings.update(controls.mirror(controls.to_values(got.params)))
    status = tr(REPLAYING, source=shown(source), n=len(got.steps), model=shown(got.model.get("id", "?")),
                dtype=shown(str(got.model.get("dtype"))))
    return dict(history=reply.history(), system=got.system, status=status, steps=dec.steps, reply=reply, ctx=None,
                fig=encode(plot.figure(first, scale == "log")),
                note=tr("Step 1 of the replayed reply, from the session file's record (no model run)."),
                **inspector.show_reply(engine, reply, top_n, scale), **dict(zip(controls.NAMES, controls.to_values(got.params))))


# --- wiring ------------------------------------------------------------------------------------------
def wire(engine, page: Page, model: dict, folder: str) -> None:
    """The Share panel's events, and the page's load (the landing example, or a link's page state)."""
    p, sh, P, after = page, page.share, page.params, dict(queue=False, show_progress="hidden", **HIDDEN, **RAW)
    known = page_presets(folder, p.start)
    sh.copy.click(partial(make_link, known=known), [p.chatbot, p.system, p.reply, *P], [sh.link, sh.note], **after) \
        .then(None, [sh.link], [sh.link], js=LINK_JS, **after)
    mode_in = [p.mode, *P]
    refresh_out = [p.ctx, p.fig, p.note]
    def opened(request: gr.Request) -> list:  # gradio passes the request to a plain function only (not a partial)
        return opening(request, known)

    p.demo.load(opened, None, [p.msg, p.chatbot, p.system, p.status, p.preset, sh.step, *P], **after) \
        .then(controls.mode_updates, mode_in, [p.mode, *P], **after) \
        .then(partial(draw, engine), [p.msg, p.chatbot, p.system, sh.step, p.top_n, p.scale, p.settings, *P], refresh_out,
              concurrency_id="model", concurrency_limit=1, show_progress="hidden", **HIDDEN, **RAW)
    sh.save.click(partial(download_session, model=model), [p.chatbot, p.system, p.reply], [*sh.file, sh.note], **after) \
        .then(None, sh.file, None, js=SAVE_JS, **after)
    opened_out = dict(history=p.chatbot, system=p.system, status=p.status, steps=p.steps, reply=p.reply, ctx=p.ctx, fig=p.fig,
                      note=p.note, tokens=p.reply_tokens, branches=p.inspector.branches, **p.inspector.view(),
                      **dict(zip(controls.NAMES, P)))  # `open_session`'s names
    sh.load.click(None, sh.file, sh.file, js=OPEN_JS, **after) \
        .then(keyed(partial(open_session, engine, model=model), opened_out, name="partial"),  # its API name as before: partial_N
              [*sh.file, p.top_n, p.scale, p.settings], list(opened_out.values()), **after) \
        .then(controls.mode_updates, mode_in, [p.mode, *P], **after)
