"""The page: `build_demo(engine)` lays out chat, plot, presets, parameter controls and the token
inspector (inspector_panel.py), and wires the events.

The first screen (a 1366x768 laptop) holds the chat, the message box and Send, the example prompts
(examples.py: the page opens with one in the box and its plot drawn, `plot.preview`), the plot and the
main sampling controls beside it (`controls.MAIN`); everything else is below.

The chat's widgets and the events' options are page_parts.py's (shared with remote_page.py).
Chat replies (send, regenerate) wait on the engine's scheduler, which decodes every visitor's reply in
one batch (`CHAT`: no gradio limit; the scheduler keeps the queue cap and the turns); `sessions.watched`
gives them the visitor's session and liveness, and `unload` frees a closed tab's session. The other
events that run the model (context refresh, the inspector's step, force and branch) share
`concurrency_id="model"` with a limit of 1, beside the batch. Plot updates
from cached logits, the mode-dependent greying of controls, Stop, and opening a token's step or
switching branches (kept logits) use `queue=False` and never wait behind a generation. Each control
has its own plot event whose inputs are itself and the session's settings mirror (controls.py), and
the plots are `FigureView`s (figure_view.py): both for the slider-to-plot latency (bench/RESULTS.md).
The instance's caps (`Limits`) are shown under the chat and passed to the handlers that start a reply
(`guard.refusal`); the visitor's presets live in their browser (presets_panel.py). Under the inspector,
closed: Share (share_panel.py: a link, which also decides what the page's load shows, and a session file)
and the A/B compare view (compare_panel.py).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import gradio as gr

from .. import loader, presets
from ..engine import Engine
from ..limits import Limits
from . import (
    api,
    chat,
    controls,
    examples,
    explain,
    export_panel,
    inspector,
    inspector_panel,
    order_panel,
    plot,
    presenter,
    presets_panel,
    sessions,
)
from . import compare_panel as ab
from . import share_panel as sharing
from .figure_view import FigureView
from .i18n import switch as lang_switch
from .i18n import t
from .page import Page
from .page_parts import CHAT, LAUNCH, MODEL, QUIET, RAW, chat_box, reply_box  # noqa: F401  (layout.LAUNCH as before)
from .wiring import keyed

INTRO = """# Sampling playground
Chat with **{model}** ({dtype}, {device}): the plot shows the first token of the reply, and follows every control at once."""


def model_name(model_id: str) -> str:
    """The model as the page names it: a local folder by its own name only (no server path)."""
    if model_id == loader.BUNDLED:
        return "SmolLM2-135M-Instruct (bundled)"
    path = Path(model_id).expanduser()
    return path.name if path.is_absolute() or path.exists() else model_id


def build_demo(engine: Engine, presets_folder: str | Path = presets.PRESETS_DIR, limits: Limits | None = None) -> gr.Blocks:
    """The whole app for one engine under these caps (`Limits()` when None); call `.launch(**LAUNCH)` on the
    result (see app.py)."""
    folder, limits = str(presets_folder), limits or Limits()
    engine.scheduler.resize(limits.batch_size, limits.queue_size)
    start = limits.start_params()
    loaded = engine.loaded
    with gr.Blocks(title="Sampling playground") as demo:
        lang_switch()  # English · 中文 (i18n.py)
        gr.Markdown(t(INTRO.format(model=model_name(loaded.model_id), dtype=str(loaded.dtype).removeprefix("torch."),
                                 device=loaded.device)), elem_id="intro")
        # A session's reply and its steps go after `session_ttl` idle seconds (API clients never close a tab).
        ttl = dict(time_to_live=limits.session_ttl)
        ctx, steps, run, mode = gr.State(None), gr.State([], **ttl), gr.State({}), gr.State(None)
        settings = gr.State(controls.mirror(controls.to_values(start)))  # the controls' values (controls.py)
        store = gr.BrowserState({}, storage_key=presets_panel.STORAGE_KEY, secret=presets_panel.STORAGE_SECRET)
        reply = gr.State(None, delete_callback=sessions.forget, **ttl)  # reply.Reply, for the inspector
        # The first screen (1366x768): the chat, the message box and Send on the left; the plot and the main
        # sampling controls beside it on the right; everything else under them.
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=320):
                chatbot, msg, send, stop = chat_box()
                tries = examples.buttons()
                status, reply_tokens, regen, undo, clear = reply_box()
                with gr.Row():
                    step_btn = gr.Button(t("Step"), size="sm", elem_id="step-btn")
                    step10_btn = gr.Button(t("Step ×10"), size="sm", elem_id="step10-btn")
                    run_btn = gr.Button(t("Run to end"), size="sm", elem_id="run-btn")
                system = gr.Textbox(label=t("System prompt"), lines=2, elem_id="system",
                                    placeholder=t("Optional, e.g. You are a concise assistant."))
                gr.Markdown(t(limits.describe()), elem_id="caps")
                pres = presenter.build()
            with gr.Column(scale=8, min_width=320):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=5, min_width=320):
                        fig = FigureView(elem_id="plot", label=t("Next-token distribution"))
                        note = gr.Markdown("", elem_id="plot-note")
                        expl = explain.build()
                    with gr.Column(scale=3, min_width=260, elem_id="main-controls"):
                        main = controls.build_main(start)
                with gr.Row():
                    top_n = gr.Slider(5, 100, value=30, step=1, label=t("Tokens shown (top N)"), elem_id="top-n", scale=2)
                    scale = gr.Radio([(t("linear"), "linear"), (t("log"), "log")], value="linear", label=t("Scale"), elem_id="scale",
                                     scale=1)
                with gr.Row():
                    preset = gr.Dropdown(presets_panel.choices(folder), value=None, label=t("Preset"), elem_id="preset",
                                         scale=3)
                    reset = gr.Button(t("Reset to defaults"), elem_id="reset", scale=1)
                preset_info = gr.Markdown("", elem_id="preset-info")
                with gr.Row():
                    preset_name = gr.Textbox(label=t("Save current settings as"), elem_id="preset-name", scale=3,
                                             placeholder="my-preset")
                    save = gr.Button(t("Save in this browser"), elem_id="save-preset", scale=1)
                with gr.Row():
                    download = gr.Button(t("Download settings (YAML)"), size="sm", elem_id="download-preset")
                    upload = gr.Button(t("Upload a preset (YAML)"), size="sm", elem_id="upload-preset")
                file_text = gr.Textbox(visible="hidden", elem_id="preset-file-text", label=t("Preset file text"))
                file_name = gr.Textbox(visible="hidden", elem_id="preset-file-name", label=t("Preset file name"))
                order: list = []  # the sampler order's buttons, under its control
                moves = {"sampler_order": lambda x: order.append(order_panel.build(x.value))}
                params = list(controls.build_controls(start, {"max_new_tokens": limits.max_new_tokens_cap}, main, moves).values())
                exp = export_panel.build()
        insp = inspector_panel.build()
        shared, compared = sharing.build_panel(), ab.build_panel(folder)  # closed accordions under the inspector
        page = Page(demo=demo, ctx=ctx, steps=steps, run=run, mode=mode, settings=settings, store=store, reply=reply,
                    chatbot=chatbot, msg=msg, send=send, stop=stop, tries=tries, status=status, reply_tokens=reply_tokens,
                    regen=regen, undo=undo, clear=clear, step_btn=step_btn, step10_btn=step10_btn, run_btn=run_btn, system=system,
                    presenter=pres, fig=fig, note=note, explain=expl, top_n=top_n, scale=scale, params=params, order=order[0],
                    preset=preset, reset=reset, preset_info=preset_info, preset_name=preset_name, save=save, download=download,
                    upload=upload, preset_file=[file_text, file_name], export=exp, inspector=insp, share=shared,
                    compare=compared, limits=limits, start=start)
        _wire(engine, folder, page)
        explain.wire(engine, page.explain, fig, ctx, settings)
        presenter.wire(demo, page.presenter)
        demo.queue(default_concurrency_limit=4, max_size=limits.queue_size)
    return demo


def _wire(engine: Engine, folder: str, p: Page) -> None:
    """Connect the events of the page `build_demo` laid out."""
    P = p.params
    chatbot, msg, system, status, steps, run = p.chatbot, p.msg, p.system, p.status, p.steps, p.run
    ctx, fig, note, top_n, scale = p.ctx, p.fig, p.note, p.top_n, p.scale
    by_name = dict(zip(controls.NAMES, P))
    capped = dict(limits=p.limits)

    refresh_in, refresh_out = [chatbot, system, top_n, scale, *P], [ctx, fig, note]
    refresh = partial(plot.refresh, engine)
    live_out = [fig, note]
    reply = p.reply
    reply_out = [chatbot, msg, status, steps, reply]
    view = p.inspector.view()  # the step view's outputs by name
    shown = dict(tokens=p.reply_tokens, branches=p.inspector.branches, **view)
    shown_in, shown_out = [reply, top_n, scale], list(shown.values())
    show_reply = keyed(partial(inspector.show_reply, engine), shown)
    hidden = dict(api_visibility="undocumented")
    after = dict(queue=False, show_progress="hidden", **hidden)

    # Chat: each reply, then one forward pass for the new context; the reply's tokens go to the inspector.
    demo = p.demo
    N = controls.NAMES  # the API names every input (api.py): message, history, system, ..., temperature, ...
    send_fn = api.named(sessions.watched(demo, partial(chat.send, engine, **capped), run_at=3),
                        ["message", "history", "system", "run", *N], request=True)
    sent = p.send.click(send_fn, [msg, chatbot, system, run, *P], reply_out, api_name="chat", show_progress="minimal", **CHAT)
    submitted = msg.submit(send_fn, [msg, chatbot, system, run, *P], reply_out,
                           show_progress="minimal", **hidden, **CHAT)
    regenerated = p.regen.click(api.named(sessions.watched(demo, partial(chat.regenerate, engine, **capped), run_at=2),
                                          ["history", "system", "run", *N], request=True),
                                [chatbot, system, run, *P], reply_out, api_name="regenerate", show_progress="minimal", **CHAT)
    demo.unload(sessions.on_leave(engine))
    replies = [sent, submitted, regenerated]
    for ev in replies:
        ev.then(refresh, refresh_in, refresh_out, **hidden, **MODEL)
        ev.then(show_reply, shown_in, shown_out, **after)
    stepping = _wire_inspector(engine, p, view, refresh, refresh_in, refresh_out, capped)
    stopped = p.stop.click(chat.stop, [run], [status], cancels=replies + stepping, queue=False, api_name="stop")
    stopped.then(refresh, refresh_in, refresh_out, **hidden, **MODEL) \
        .then(chat.stopped, [status, steps], [status], queue=False, **hidden)
    stopped.then(show_reply, shown_in, shown_out, **after)
    # Undo and Clear stop a reply in flight first (the page stops listening to it; `chat.halt` waits for it).
    halting = dict(cancels=replies + stepping, queue=False)
    for ev in (p.undo.click(chat.undo, [chatbot, msg, run, reply], reply_out, api_name="undo", **halting, **RAW),
               p.clear.click(chat.clear, [run, reply], reply_out, api_name="clear", **halting)):
        ev.then(refresh, refresh_in, refresh_out, **hidden, **MODEL)
        ev.then(show_reply, shown_in, shown_out, **after)
    system.blur(api.named(refresh, ["history", "system", "top_n", "scale", *N]), refresh_in, refresh_out,
                api_name="refresh_plot", **MODEL)
    # The page opens with an example in the box and its plot drawn; an example button does the same. (Put in the
    # box on load, not as its initial value: the API would take that value as the `message` parameter's default.)
    preview, preview_in = partial(plot.preview, engine), [msg, *refresh_in]
    for ev, prompt in [(btn.click, prompt) for btn, prompt in p.tries]:  # the page's load: sharing.wire (a link, or LANDING)
        ev(lambda prompt=prompt: prompt, None, msg, queue=False, **hidden).then(preview, preview_in, refresh_out, **hidden, **MODEL)

    # The plot follows every control from cached logits (no forward pass, no queue). Each control has its
    # own event with five inputs (itself and the session's settings mirror, not all 25 controls). A
    # slider's `release` (drag ended, its reset button, its number box left: gradio then clamps a typed
    # value without an `input` event) keeps the mirror equal to what the slider shows.
    settings = p.settings
    for name, x in by_name.items():
        moved = x.blur if isinstance(x, gr.Textbox) else x.input
        moved(partial(plot.moved, engine, name), [ctx, top_n, scale, settings, x], live_out, **hidden, **QUIET)
        if isinstance(x, gr.Slider):
            x.release(partial(plot.released, engine, name), [ctx, top_n, scale, settings, x], live_out, **hidden,
                      **QUIET)
        if name in controls.MODE_SWITCHES:
            switch_in, switch_out = [p.mode, settings, x], [p.mode, *P]
            moved(partial(controls.mode_moved, name), switch_in, switch_out, **hidden, **QUIET)
            if isinstance(x, gr.Slider):
                x.release(partial(controls.mode_moved, name, released=True), switch_in, switch_out, **hidden, **QUIET)
    order = by_name["sampler_order"]  # its buttons move a stage, then the plot follows as when it is typed
    order_panel.wire(p.order, order, (partial(plot.moved, engine, "sampler_order"), [ctx, top_n, scale, settings, order], live_out))
    # Top N and the scale redraw the live view (a past step is looked at in one place: its token, in the inspector).
    gr.on([top_n.input, top_n.release, scale.input], partial(plot.redraw, engine), [ctx, top_n, scale, settings],
          [fig, note], api_name="redraw", **QUIET)
    mode_in = [p.mode, *P]

    # Presets, an upload and Reset set every control, then grey what is inactive and redraw the plot once.
    # A preset is chosen by name (raw: `choose` checks it, gradio's dropdown check is not relied on).
    after = dict(after, **RAW)
    preset, store, info, start = p.preset, p.store, p.preset_info, p.start
    loaded = preset.input(partial(presets_panel.choose, folder=folder, start=start), [preset, store], [*P, info],
                          api_name="load_preset", queue=False, **RAW)
    uploaded = p.upload.click(partial(presets_panel.upload, folder=folder, start=start), [*p.preset_file, store],
                              [store, preset, *P, info], js=presets_panel.UPLOAD_JS, queue=False, **hidden)
    reset = p.reset.click(partial(presets_panel.reset, start), None, [*P, info, preset], api_name="reset", queue=False)
    # The redraw after a preset is also the public `/plot` API (every control's value in, the figure out).
    resync = api.named(partial(plot.resync, engine), ["ctx", "top_n", "scale", "settings", *controls.NAMES])
    resync_in = [ctx, top_n, scale, settings, *P]
    for ev, public in ((loaded, dict(api_name="plot", api_visibility="public")), (uploaded, hidden), (reset, hidden)):
        ev.then(controls.mode_updates, mode_in, [p.mode, *P], **after) \
            .then(resync, resync_in, live_out, **dict(after, **public))
    run = engine.loaded
    # In public mode a local folder is named, not given by its server path.
    shown_id = run.model_id if run.model_id == loader.BUNDLED or not p.limits.public else model_name(run.model_id)
    dtype = str(run.dtype).removeprefix("torch.")
    sharing.wire(engine, p, dict(id=shown_id, dtype=dtype), folder)
    p.stop.click(None, None, None, cancels=[ab.wire(engine, p, folder)], queue=False, **hidden)  # Stop ends a compare too
    export_panel.wire(p.export, [chatbot, system, reply, *P], shown_id, dtype)
    # The visitor's presets live in their browser (`store`); nothing from the page is written on the server.
    p.demo.load(partial(presets_panel.listed, folder=folder), [store], [preset], **hidden, queue=False)
    p.save.click(api.named(partial(presets_panel.save, folder=folder), ["preset_name", "store", *controls.NAMES]),
                 [p.preset_name, store, *P], [store, preset, info], api_name="save_preset", queue=False, **RAW)
    p.download.click(presets_panel.download, [p.preset_name, *P], [*p.preset_file, info], queue=False, **hidden, **RAW) \
        .then(None, p.preset_file, None, js=presets_panel.DOWNLOAD_JS, queue=False, **hidden)


def _wire_inspector(engine: Engine, p: Page, view: dict, refresh, refresh_in: list, refresh_out: list, capped: dict) -> list:
    """The token inspector's events; returns the model events (Stop cancels them)."""
    P, reply, run, top_n, scale = p.params, p.reply, p.run, p.top_n, p.scale
    parts = dict(history=p.chatbot, box=p.msg, status=p.status, steps=p.steps, reply=reply, tokens=p.reply_tokens,
                 branches=p.inspector.branches, **view)  # `inspector.OUT`
    out, by_name = list(parts.values()), partial(keyed, parts=parts)  # handlers give {name in OUT: value}
    hidden = dict(api_visibility="undocumented")
    step_in = [p.msg, p.chatbot, p.system, run, reply, top_n, scale, *P]
    step_names = ["message", "history", "system", "run", "reply", "top_n", "scale", *controls.NAMES]
    events = [btn.click(by_name(api.named(partial(inspector.step, engine, count, **capped), step_names)), step_in, out,
                        api_name=name, show_progress="minimal", **MODEL)
              for btn, count, name in ((p.step_btn, 1, "step"), (p.step10_btn, 10, "step10"), (p.run_btn, None, "run_to_end"))]
    at, model = [reply, run, top_n, scale], dict(show_progress="minimal", **hidden, **MODEL)  # the step shown; a model event
    i = p.inspector
    events.append(i.force_btn.click(by_name(partial(inspector.force_text, engine)), [i.force_text, *at], out, **model))
    events.append(i.force_token.input(by_name(partial(inspector.force_token, engine)), [i.force_token, *at], out, **model))
    events.append(i.candidates.select(by_name(inspector.on_candidate(engine)), at, out, **model))
    events.append(i.branch_btn.click(by_name(partial(inspector.branch, engine, **capped)), [*at, *P], out, **model))
    for ev in events:
        ev.then(refresh, refresh_in, refresh_out, **hidden, **MODEL)
    # Kept logits only: no queue, no wait behind a generation.
    i.branches.input(by_name(partial(inspector.switch, engine)), [i.branches, reply, top_n, scale], out, queue=False,
                     show_progress="hidden", **hidden).then(refresh, refresh_in, refresh_out, **hidden, **MODEL)
    opened = dict(reply=reply, tokens=p.reply_tokens, **view)
    p.reply_tokens.inspect_token(keyed(inspector.on_token(engine), opened), [reply, top_n, scale], list(opened.values()),
                                 queue=False, show_progress="hidden", **hidden)
    return events
