"""The page on a remote backend (`app.py --backend openai`): `build_remote_demo(backend)` and `build_remote_app`.

The same first screen as the local page (layout.py): the chat, the message box, Send and Stop, the reply's
tokens, the plot and the main controls beside it, the other controls under them. What differs, because a
remote server sends each token's top 20 and never the model's full logits (remote_chat.py has the handlers):

- the plot shows a step of the reply as the server reported it, labelled (`OpenAIBackend.plot_label`); a
  click on a reply token picks the step, Top N and the scale redraw it;
- the controls a server cannot take are greyed, the reason first in their info text (`OpenAIBackend.untaken`,
  the one list of what each kind of server takes); the others are sent with every request; what the sampling
  mode makes moot greys as on the local page (`controls.mode_updates`, through `mode_updates`);
- the caps line names only the caps this page enforces (`caps`: no prompt cap, there is no local tokenizer);
- what needs the full logits (the chain view and chain table, the live redraw as a control moves, the
  inspector's Step, Force and Branch, the A/B compare) is not on the page; `#remote-unavailable` says so
  and why, in its place. The API key stays in the server's environment (remote.py); nothing here shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import gradio as gr
from fastapi import FastAPI

from ..limits import Limits
from ..remote import MAX_TOP
from . import api, chat, controls, remote_chat, sessions, tokens_html
from .figure_view import FigureView
from .i18n import say, t
from .i18n import switch as lang_switch
from .page_parts import LAUNCH, RAW, chat_box, reply_box
from .server import mount

INTRO = """# Sampling playground
Chat with **{model}** on a remote {server}: the plot shows what the server sent for a token of the reply."""
CSS = "\n.remote-off { opacity: 0.55; }\n"  # a control this server cannot take
UNAVAILABLE = ("**Unavailable on this remote backend: the chain view and the chain table, the live redraw of the plot as "
               "a control moves, the token inspector's Step, Force and Branch, and the A/B compare.** Each needs the "
               "model's full logits at every step, and a remote server sends only its top {top} tokens per step "
               "({label}). What the server sent is shown as sent, and nothing is recomputed or made up. Run the "
               "playground with its local engine (`python app.py`) for the exact view.")
CHAT = dict(concurrency_id="chat", concurrency_limit=None, **RAW)
QUIET = dict(queue=False, show_progress="hidden", **RAW)


def greyed(backend) -> dict[str, str]:
    """Control name -> its info text, for each control this server cannot take: the reason, then the help."""
    return {name: f"Not on this server: {why}. {controls.help_text(name)}" for name, why in backend.untaken().items()}


def caps(limits: Limits) -> str:
    """The caps line: those this page enforces (no prompt cap: there is no local tokenizer to count a prompt)."""
    return (f"Caps on this instance: replies up to {limits.max_new_tokens_cap} tokens (default {limits.max_new_tokens}), "
            f"{limits.queue_size} replies may wait" + (" · public mode" if limits.public else "") + ".")


def mode_updates(backend, last_mode, *values) -> list:
    """`controls.mode_updates` (what the sampling mode makes moot greys as on the local page), with what this
    server cannot take kept greyed and its reason first."""
    out = controls.mode_updates(last_mode, *values)
    if out[0] != last_mode:
        for name, info in greyed(backend).items():
            out[1 + controls.NAMES.index(name)] = gr.update(interactive=False, info=say(info))
    return out


@dataclass
class RemotePage:
    """The remote page's components and session states: the local `Page`'s that it has (page.py), same names."""

    demo: gr.Blocks
    steps: gr.State  # the reply's steps as the server reported them
    run: gr.State
    shown: gr.State  # the step the plot shows
    mode: gr.State
    chatbot: gr.Chatbot
    msg: gr.Textbox
    send: gr.Button
    stop: gr.Button
    status: gr.Markdown
    reply_tokens: gr.HTML
    regen: gr.Button
    undo: gr.Button
    clear: gr.Button
    system: gr.Textbox
    fig: FigureView
    note: gr.Markdown
    top_n: gr.Slider
    scale: gr.Radio
    reset: gr.Button
    params: list  # every parameter's control, in `controls.NAMES` order


def build_remote_demo(backend, limits: Limits | None = None) -> gr.Blocks:
    """The page for one remote model under these caps (`Limits()` when None)."""
    limits = limits or Limits()
    start = limits.start_params()
    with gr.Blocks(title="Sampling playground") as demo:
        lang_switch()  # English · 中文 (i18n.py)
        gr.Markdown(t(INTRO.format(model=chat.said(backend.model), server=backend.server.label)), elem_id="intro")
        steps, run, shown = gr.State([], time_to_live=limits.session_ttl), gr.State({}), gr.State(None)
        mode = gr.State(start.mode)
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=320):
                chatbot, msg, send, stop = chat_box()
                status, reply_tokens, regen, undo, clear = reply_box()
                system = gr.Textbox(label=t("System prompt"), lines=2, elem_id="system",
                                    placeholder=t("Optional, e.g. You are a concise assistant."))
                gr.Markdown(t(caps(limits)), elem_id="caps")
            with gr.Column(scale=8, min_width=320):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=5, min_width=320):
                        gr.Markdown(t(f"**A reply token's candidates**: {backend.plot_label}."), elem_id="inspect-info")
                        fig = FigureView(elem_id="plot", label=t("The server's top tokens"))
                        note = gr.Markdown(t(remote_chat.empty_note(backend)), elem_id="plot-note")
                    with gr.Column(scale=3, min_width=260, elem_id="main-controls"):
                        main = controls.build_main(start)
                with gr.Row():
                    top_n = gr.Slider(1, MAX_TOP, value=MAX_TOP, step=1, label=t("Tokens shown (top N)"), elem_id="top-n", scale=2)
                    scale = gr.Radio([(t("linear"), "linear"), (t("log"), "log")], value="linear", label=t("Scale"), elem_id="scale",
                                     scale=1)
                gr.Markdown(t(UNAVAILABLE.format(top=MAX_TOP, label=backend.plot_label)), elem_id="remote-unavailable")
                reset = gr.Button(t("Reset to defaults"), elem_id="reset")
                params = list(controls.build_controls(start, {"max_new_tokens": limits.max_new_tokens_cap}, main).values())
                for name, info in greyed(backend).items():  # set before the Blocks closes: the page starts greyed
                    control = params[controls.NAMES.index(name)]
                    control.interactive, control.info, control.elem_classes = False, t(info), ["remote-off"]
        _wire(backend, limits, start, RemotePage(demo=demo, steps=steps, run=run, shown=shown, mode=mode, chatbot=chatbot, msg=msg,
                                                 send=send, stop=stop, status=status, reply_tokens=reply_tokens, regen=regen,
                                                 undo=undo, clear=clear, system=system, fig=fig, note=note, top_n=top_n,
                                                 scale=scale, reset=reset, params=params))
        demo.queue(default_concurrency_limit=4, max_size=limits.queue_size)
    return demo


def _wire(backend, limits: Limits, start, p: RemotePage) -> None:
    P, N = p.params, controls.NAMES
    out = [p.chatbot, p.msg, p.status, p.steps, p.reply_tokens, p.fig, p.note, p.shown]
    view_in, view_out = [p.steps, p.top_n, p.scale], [p.reply_tokens, p.fig, p.note, p.shown]
    # `watched`: the session's liveness in `run`, so a closed tab stops the server's reply at its next token
    send_fn = api.named(sessions.watched(p.demo, partial(remote_chat.send, backend, limits=limits), run_at=3),
                        ["message", "history", "system", "run", "top_n", "scale", *N], request=True)
    send_in = [p.msg, p.chatbot, p.system, p.run, p.top_n, p.scale, *P]
    replies = [p.send.click(send_fn, send_in, out, api_name="chat", show_progress="minimal", **CHAT),
               p.msg.submit(send_fn, send_in, out, show_progress="minimal", api_visibility="undocumented", **CHAT),
               p.regen.click(api.named(sessions.watched(p.demo, partial(remote_chat.regenerate, backend, limits=limits), run_at=2),
                                       ["history", "system", "run", "top_n", "scale", *N], request=True),
                             send_in[1:], out, api_name="regenerate", show_progress="minimal", **CHAT)]
    # Stop sets the reply's Event: the stream ends at the server's next token and says "cancelled".
    p.stop.click(chat.stop, [p.run], [p.status], queue=False, api_name="stop") \
        .then(chat.stopped, [p.status, p.steps], [p.status], queue=False, api_visibility="undocumented")
    chat_out = [p.chatbot, p.msg, p.status, p.steps]
    blank = dict(fn=lambda: (tokens_html.render([]), None, say(remote_chat.empty_note(backend)), None), inputs=None, outputs=view_out,
                 queue=False, api_visibility="undocumented")
    halting = dict(cancels=replies, queue=False)
    p.undo.click(lambda h, m, r: chat.undo(h, m, r)[:4], [p.chatbot, p.msg, p.run], chat_out, api_name="undo",
                 **halting, **RAW).then(**blank)
    p.clear.click(lambda r: chat.clear(r)[:4], [p.run], chat_out, api_name="clear", **halting).then(**blank)
    p.reply_tokens.inspect_token(remote_chat.on_token(backend), view_in, view_out, api_visibility="undocumented", **QUIET)
    gr.on([p.top_n.release, p.scale.input], partial(remote_chat.redraw, backend), [p.shown, *view_in], view_out,
          api_visibility="undocumented", **QUIET)
    # What the sampling mode makes moot greys as on the local page (controls.mode_updates), after a mode switch or Reset.
    greying = dict(fn=partial(mode_updates, backend), inputs=[p.mode, *P], outputs=[p.mode, *P], api_visibility="undocumented",
                   **QUIET)
    for name in controls.MODE_SWITCHES:
        x = P[N.index(name)]
        gr.on([x.input, x.release] if isinstance(x, gr.Slider) else [x.input], **greying)
    p.reset.click(lambda: controls.to_values(start), None, P, api_name="reset", queue=False).then(**greying)


def build_remote_app(backend, limits: Limits | None = None) -> tuple[FastAPI, gr.Blocks]:
    """(the app, the page's Blocks) for a remote backend: the page only (no /v1 API: there is no local engine)."""
    demo = build_remote_demo(backend, limits)
    return mount(demo, css=CSS), demo


__all__ = ["LAUNCH", "build_remote_app", "build_remote_demo", "greyed"]
