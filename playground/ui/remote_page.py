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

from functools import partial

import gradio as gr
from fastapi import FastAPI

from ..limits import Limits
from ..remote import MAX_TOP
from . import api, chat, controls, remote_chat, tokens_html
from .figure_view import FigureView
from .i18n import say, t
from .i18n import switch as lang_switch
from .layout import LAUNCH, RAW, chat_box, reply_box
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
        _wire(backend, limits, start, dict(demo=demo, chatbot=chatbot, msg=msg, send=send, stop=stop, status=status,
                                           reply_tokens=reply_tokens, regen=regen, undo=undo, clear=clear, system=system,
                                           fig=fig, note=note, top_n=top_n, scale=scale, reset=reset, params=params,
                                           steps=steps, run=run, shown=shown, mode=mode))
        demo.queue(default_concurrency_limit=4, max_size=limits.queue_size)
    return demo


def _wire(backend, limits: Limits, start, c: dict) -> None:
    P, N = c["params"], controls.NAMES
    out = [c[n] for n in ("chatbot", "msg", "status", "steps", "reply_tokens", "fig", "note", "shown")]
    view_in, view_out = [c["steps"], c["top_n"], c["scale"]], [c["reply_tokens"], c["fig"], c["note"], c["shown"]]
    send_fn = api.named(partial(remote_chat.send, backend, limits=limits), ["message", "history", "system", "run", "top_n",
                                                                            "scale", *N])
    send_in = [c["msg"], c["chatbot"], c["system"], c["run"], c["top_n"], c["scale"], *P]
    replies = [c["send"].click(send_fn, send_in, out, api_name="chat", show_progress="minimal", **CHAT),
               c["msg"].submit(send_fn, send_in, out, show_progress="minimal", api_visibility="undocumented", **CHAT),
               c["regen"].click(api.named(partial(remote_chat.regenerate, backend, limits=limits),
                                          ["history", "system", "run", "top_n", "scale", *N]),
                                send_in[1:], out, api_name="regenerate", show_progress="minimal", **CHAT)]
    # Stop sets the reply's Event: the stream ends at the server's next token and says "cancelled".
    c["stop"].click(chat.stop, [c["run"]], [c["status"]], queue=False, api_name="stop") \
        .then(chat.stopped, [c["status"], c["steps"]], [c["status"]], queue=False, api_visibility="undocumented")
    chat_out = [c["chatbot"], c["msg"], c["status"], c["steps"]]
    blank = dict(fn=lambda: (tokens_html.render([]), None, say(remote_chat.empty_note(backend)), None), inputs=None, outputs=view_out,
                 queue=False, api_visibility="undocumented")
    halting = dict(cancels=replies, queue=False)
    c["undo"].click(lambda h, m, r: chat.undo(h, m, r)[:4], [c["chatbot"], c["msg"], c["run"]], chat_out, api_name="undo",
                    **halting, **RAW).then(**blank)
    c["clear"].click(lambda r: chat.clear(r)[:4], [c["run"]], chat_out, api_name="clear", **halting).then(**blank)
    c["reply_tokens"].inspect_token(remote_chat.on_token(backend), view_in, view_out, api_visibility="undocumented", **QUIET)
    gr.on([c["top_n"].release, c["scale"].input], partial(remote_chat.redraw, backend), [c["shown"], *view_in], view_out,
          api_visibility="undocumented", **QUIET)
    # What the sampling mode makes moot greys as on the local page (controls.mode_updates), after a mode switch or Reset.
    greying = dict(fn=partial(mode_updates, backend), inputs=[c["mode"], *P], outputs=[c["mode"], *P], api_visibility="undocumented",
                   **QUIET)
    for name in controls.MODE_SWITCHES:
        x = P[N.index(name)]
        gr.on([x.input, x.release] if isinstance(x, gr.Slider) else [x.input], **greying)
    c["reset"].click(lambda: controls.to_values(start), None, P, api_name="reset", queue=False).then(**greying)


def build_remote_app(backend, limits: Limits | None = None) -> tuple[FastAPI, gr.Blocks]:
    """(the app, the page's Blocks) for a remote backend: the page only (no /v1 API: there is no local engine)."""
    demo = build_remote_demo(backend, limits)
    return mount(demo, css=CSS), demo


__all__ = ["LAUNCH", "build_remote_app", "build_remote_demo", "greyed"]
