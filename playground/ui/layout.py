"""The page: `build_demo(engine)` lays out chat, plot, presets and parameter controls and wires the events.

Events that run the model (send, regenerate, context refresh) share `concurrency_id="model"` with a
limit of 1, so one model serves every user in turn. Plot updates from cached logits, the mode-dependent
greying of controls and Stop use `queue=False` and never wait behind a generation.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import gradio as gr

from .. import loader, presets
from ..engine import Engine
from . import chat, controls, plot, presets_panel

# Raw control values (no gradio range check): `controls.to_params` names the field in its message.
RAW = dict(preprocess=False)
MODEL = dict(concurrency_id="model", concurrency_limit=1, **RAW)
QUIET = dict(queue=False, trigger_mode="always_last", show_progress="hidden", **RAW)
QUEUE_SIZE = 16
CSS = """
#chat .message-content span.md { white-space: pre-wrap; }
#status, #plot-note, #preset-info { min-height: 1.5em; }
"""
INTRO = """# Sampling playground
Chat with **{model}** ({dtype}, {device}) and watch what every generation parameter does to the next token.
The plot shows the first token of the assistant's next reply (after a reply: that reply's first token);
move any slider and it follows at once, from logits already computed."""
BUSY = (f"One model serves every visitor: replies run one at a time, at most {QUEUE_SIZE} wait. When the queue is "
        "full the page says so; try again in a moment.")


def build_demo(engine: Engine, presets_folder: str | Path = presets.PRESETS_DIR,
               queue_size: int = QUEUE_SIZE) -> gr.Blocks:
    """The whole app for one engine; call `.launch(theme=..., css=CSS)` on the result (see app.py)."""
    folder = str(presets_folder)
    loaded = engine.loaded
    with gr.Blocks(title="Sampling playground") as demo:
        name = "SmolLM2-135M-Instruct (bundled)" if loaded.model_id == loader.BUNDLED else loaded.model_id
        gr.Markdown(INTRO.format(model=name, dtype=str(loaded.dtype).removeprefix("torch."),
                                 device=loaded.device))
        ctx, steps, run, mode = gr.State(None), gr.State([]), gr.State({}), gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=360):
                system = gr.Textbox(label="System prompt", lines=2, elem_id="system",
                                    placeholder="Optional, e.g. You are a concise assistant.")
                chatbot = gr.Chatbot(elem_id="chat", label="Chat", height=440, render_markdown=False,
                                     sanitize_html=True, feedback_options=None, buttons=["copy"])
                status = gr.Markdown("", elem_id="status")
                msg = gr.Textbox(label="Message", lines=2, elem_id="msg", placeholder="Type a message, press Send")
                with gr.Row():
                    send = gr.Button("Send", variant="primary", elem_id="send")
                    stop = gr.Button("Stop", variant="stop", elem_id="stop")
                with gr.Row():
                    regen = gr.Button("Regenerate", size="sm", elem_id="regenerate")
                    undo = gr.Button("Undo last turn", size="sm", elem_id="undo")
                    clear = gr.Button("Clear", size="sm", elem_id="clear")
                gr.Markdown(BUSY, elem_id="busy-hint")
            with gr.Column(scale=3, min_width=480):
                fig = gr.Plot(elem_id="plot", label="Next-token distribution")
                note = gr.Markdown("", elem_id="plot-note")
                with gr.Row():
                    top_n = gr.Slider(5, 100, value=30, step=1, label="Tokens shown (top N)", elem_id="top-n", scale=2)
                    scale = gr.Radio(["linear", "log"], value="linear", label="Scale", elem_id="scale", scale=1)
                step = gr.Slider(0, 1, value=0, step=1, label=plot.STEP_LABEL, interactive=False, elem_id="step")
                with gr.Row():
                    preset = gr.Dropdown(presets_panel.choices(folder), value=None, label="Preset", elem_id="preset",
                                         scale=3)
                    reset = gr.Button("Reset to defaults", elem_id="reset", scale=1)
                preset_info = gr.Markdown("", elem_id="preset-info")
                with gr.Row():
                    preset_name = gr.Textbox(label="Save current settings as", elem_id="preset-name", scale=3,
                                             placeholder="my-preset")
                    save = gr.Button("Save as preset", elem_id="save-preset", scale=1)
                params = list(controls.build_controls().values())
        ui = dict(demo=demo, ctx=ctx, steps=steps, run=run, mode=mode, system=system, chatbot=chatbot, status=status,
                  msg=msg, send=send, stop=stop, regen=regen, undo=undo, clear=clear, fig=fig, note=note, top_n=top_n,
                  scale=scale, step=step, preset=preset, reset=reset, preset_info=preset_info,
                  preset_name=preset_name, save=save, params=params)
        _wire(engine, folder, ui)
        demo.queue(default_concurrency_limit=4, max_size=queue_size)
    return demo


def _wire(engine: Engine, folder: str, c: dict) -> None:
    """Connect the events; `c` holds the components by their names in `build_demo`."""
    P = c["params"]
    chatbot, msg, system, status, steps, run = c["chatbot"], c["msg"], c["system"], c["status"], c["steps"], c["run"]
    ctx, fig, note, step, top_n, scale = c["ctx"], c["fig"], c["note"], c["step"], c["top_n"], c["scale"]
    by_name = dict(zip(controls.NAMES, P))

    refresh_in, refresh_out = [chatbot, system, steps, top_n, scale, *P], [ctx, fig, note, step]
    refresh = partial(plot.refresh, engine)
    live_in, live_out = [ctx, top_n, scale, *P], [fig, note, step]
    reply_out = [chatbot, msg, status, steps]
    hidden = dict(api_visibility="undocumented")

    # Chat: each reply, then one forward pass for the new context.
    sent = c["send"].click(partial(chat.send, engine), [msg, chatbot, system, run, *P], reply_out, api_name="chat",
                           show_progress="minimal", **MODEL)
    submitted = msg.submit(partial(chat.send, engine), [msg, chatbot, system, run, *P], reply_out,
                           show_progress="minimal", **hidden, **MODEL)
    regenerated = c["regen"].click(partial(chat.regenerate, engine), [chatbot, system, run, *P], reply_out,
                                   api_name="regenerate", show_progress="minimal", **MODEL)
    replies = [sent, submitted, regenerated]
    for ev in replies:
        ev.then(refresh, refresh_in, refresh_out, **hidden, **MODEL)
    c["stop"].click(chat.stop, [run], [status], cancels=replies, queue=False, api_name="stop") \
        .then(refresh, refresh_in, refresh_out, **hidden, **MODEL) \
        .then(chat.stopped, [status, steps], [status], queue=False, **hidden)
    c["undo"].click(chat.undo, [chatbot, msg], reply_out, queue=False, api_name="undo", **RAW) \
        .then(refresh, refresh_in, refresh_out, **hidden, **MODEL)
    c["clear"].click(chat.clear, None, reply_out, queue=False, api_name="clear") \
        .then(refresh, refresh_in, refresh_out, **hidden, **MODEL)
    system.blur(refresh, refresh_in, refresh_out, api_name="refresh_plot", **MODEL)
    c["demo"].load(refresh, refresh_in, refresh_out, **hidden, **MODEL)

    # The plot follows every control from cached logits (no forward pass, no queue).
    live = partial(plot.live, engine)
    instant = [x.input for x in P if not isinstance(x, gr.Textbox)] + [x.blur for x in P if isinstance(x, gr.Textbox)]
    gr.on(instant, live, live_in, live_out, api_name="plot", **QUIET)
    show_in = [ctx, steps, step, top_n, scale, *P]
    gr.on([step.input, top_n.input, scale.input], partial(plot.show, engine), show_in, [fig, note],
          api_name="show_step", **QUIET)
    mode_in = [c["mode"], *P]
    switches = [by_name[n].input for n in controls.MODE_SWITCHES]
    gr.on(switches, controls.mode_updates, mode_in, [c["mode"], *P], **hidden, **QUIET)

    # Presets and Reset set every control, then grey what is inactive and redraw the plot once.
    after = dict(queue=False, show_progress="hidden", **hidden, **RAW)
    loaded = c["preset"].input(partial(presets_panel.choose, folder=folder), [c["preset"]], [*P, c["preset_info"]],
                               api_name="load_preset", queue=False)
    reset = c["reset"].click(presets_panel.reset, None, [*P, c["preset_info"], c["preset"]], api_name="reset",
                             queue=False)
    for ev in (loaded, reset):
        ev.then(controls.mode_updates, mode_in, [c["mode"], *P], **after).then(live, live_in, live_out, **after)
    c["save"].click(partial(presets_panel.save, folder), [c["preset_name"], *P], [c["preset"], c["preset_info"]],
                    api_name="save_preset", queue=False, **RAW)
