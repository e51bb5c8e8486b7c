"""What the local page (layout.py) and the page on a remote server (remote_page.py) share: how the app is launched
(`LAUNCH`), the events' options (`RAW`, `MODEL`, `CHAT`, `QUIET`) and the chat's widgets at the top of the first
screen's left column (`chat_box`: the chat, the message box, Send and Stop; `reply_box`: the status line, the
reply's tokens, Regenerate, Undo and Clear).
"""

from __future__ import annotations

import gradio as gr

from . import api, examples, tokens_html
from .i18n import CSS as LANG_CSS
from .i18n import I18N, t
from .style import CSS

# Raw control values (no gradio range check): `controls.to_params` names the field in its message.
RAW = dict(preprocess=False)
MODEL = dict(concurrency_id="model", concurrency_limit=1, **RAW)
# Chat replies wait on the engine's scheduler, which batches them and keeps the caps (scheduler.py).
CHAT = dict(concurrency_id="chat", concurrency_limit=None, **RAW)
QUIET = dict(queue=False, trigger_mode="always_last", show_progress="hidden", **RAW)
# How the app is served (app.py, the tests): gradio 6's run history is off, because it stores every
# call's inputs and outputs (each plot's figure) in the browser's localStorage, re-reading and
# re-writing up to 100 of them per slider move (~30 ms a move in chromium here; bench/ui_latency.py).
# A streaming or queued reply holds one of gradio's worker threads while it waits for its next token:
# enough threads that a full room never starves the unqueued plot events.
LAUNCH = dict(theme=gr.themes.Soft(), css=CSS + LANG_CSS, run_history=False, max_threads=256, i18n=I18N)


def chat_box() -> tuple:
    """(chat, message box, Send, Stop): the top of the first screen's left column (this page's and remote_page's)."""
    chatbot = api.lenient(gr.Chatbot(elem_id="chat", label=t("Chat"), height=320, render_markdown=False,
                                     sanitize_html=True, feedback_options=None, buttons=["copy"]))
    # lines=1 (growing to 6): Enter sends, Shift+Enter makes a new line (gradio's textbox convention).
    msg = gr.Textbox(label=t("Message"), lines=1, max_lines=6, elem_id="msg", placeholder=t(examples.PLACEHOLDER))
    with gr.Row():
        send = gr.Button(t("Send"), variant="primary", elem_id="send")
        stop = gr.Button(t("Stop"), variant="stop", elem_id="stop")
    return chatbot, msg, send, stop


def reply_box() -> tuple:
    """(status line, reply tokens, Regenerate, Undo, Clear): under the message box (this page's and remote_page's)."""
    status = gr.Markdown("", elem_id="status")
    reply_tokens = gr.HTML(t(tokens_html.render([])), elem_id="reply-tokens", label=t("Reply tokens"),
                           js_on_load=tokens_html.ON_LOAD)  # a token click: its `inspect_token` event
    with gr.Row():
        regen = gr.Button(t("Regenerate"), size="sm", elem_id="regenerate")
        undo = gr.Button(t("Undo last turn"), size="sm", elem_id="undo")
        clear = gr.Button(t("Clear"), size="sm", elem_id="clear")
    return status, reply_tokens, regen, undo, clear
