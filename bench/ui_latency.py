"""Slider-to-plot latency: server side (the plot handler called directly) and in headless chromium.

Server side: `plot.moved` (the handler a control's `.input` runs: the settings mirror -> params, the
sampler chain on the cached logits, `plotdata.from_trace`, the figure, its JSON) over many top-k moves on
a real context, median, plus the same split into its parts.

Browser: the real app served in-process, a real context (one short reply), then for each move a
script in the page waits until the page is idle, types a new value into a slider's number box, fires
the `input` event and polls (every animation frame) until the Plotly figure on the page
(`.js-plotly-plot`'s `el.data`) has exactly top_k kept bars, and until Plotly reports the redraw
(`plotly_afterplot`); also when the request left and when the server's answer had arrived. Timed in
the page with `performance.now()`; median over the moves. Scenarios: top-k moves after one reply,
temperature moves, top-k moves after a longer chat; then clicks on the last reply's tokens (the
token inspector opening that step: its plot, chain table, candidates and two side charts).

Baseline, in the same process and browser, its moves interleaved with the app's first scenario: the
stock gradio way this app used before, a page with the 25 controls, a `gr.Plot` and one event taking
every control as input (same handler, same context, run history on as gradio's default). The ratio
baseline / app of the median redraw time is the figure that does not depend on the machine's load.

    python bench/ui_latency.py --moves 30 --server-moves 200 [--threads 1] [--no-browser]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import torch  # noqa: E402

from playground import loader, plotdata  # noqa: E402
from playground.engine import Engine  # noqa: E402
from playground.ui import controls, plot  # noqa: E402
from playground.ui.figure_view import encode  # noqa: E402

HISTORY = [{"role": "user", "content": "Name three colours."}]
TOP_N = 30
# top_k values for the moves: each differs from the one before and is at most TOP_N, so the figure
# shows exactly top_k kept bars and every move changes it.
KS = [3, 17, 8, 25, 5, 12, 29, 2, 20, 10]

TEMPS = [0.3, 1.2, 0.7, 1.5, 0.9, 0.5, 1.1]  # temperature moves: each changes the figure, none is greedy
LONG_CHAT = ["Tell me about the sea.", "And about mountains?", "Which is older?", "Write a short poem about both.",
             "Now one about rivers."]

MOVE_JS = """async ([name, value, kept_want, timeout]) => {
  // One move on an idle page: type `value` into `name`'s number box, fire `input`, then poll every frame.
  // Returns [ms until the figure's data has `kept_want` kept bars (null: not checked), ms until Plotly's
  // last afterplot (the redraw done), ms until the request left, ms until the server's answer had arrived], or null on timeout.
  await new Promise(r => requestIdleCallback(r, {timeout: 2000}));
  const el = document.querySelector('#plot .js-plotly-plot');
  if (!el.__timed) { el.on('plotly_afterplot', () => { window.__afterplot = performance.now(); }); el.__timed = true; }
  const box = document.querySelector(`#param-${name} input[type=number]`);
  const kept = () => { const t = el.data ? el.data.find(d => d.name === 'kept') : null; return t ? t.x.length : -1; };
  performance.clearResourceTimings();
  const t0 = performance.now();
  box.value = String(value);
  box.dispatchEvent(new Event('input', {bubbles: true}));
  let data = null;
  while (true) {
    const now = performance.now();
    if (now - t0 > timeout) return null;
    if (data === null && kept_want !== null && kept() === kept_want) data = now - t0;
    if ((kept_want === null || data !== null) && window.__afterplot >= t0) break;
    await new Promise(r => requestAnimationFrame(r));
  }
  // Settle: a page that redraws more than once per update (gr.Plot) is done at its last afterplot.
  await new Promise(r => requestIdleCallback(r, {timeout: 1000}));
  const answer = performance.getEntriesByType('resource').filter(e => e.name.includes('/run/predict'));
  // the move's own request is the first: later ones are follow-ups (the explain panel's, after the figure changed)
  const first = answer.length ? answer[0] : {startTime: NaN, responseEnd: NaN};
  return [data, window.__afterplot - t0, first.startTime - t0, first.responseEnd - t0];
}"""


CLICK_JS = """async ([k, timeout]) => {
  // Click token k of the reply on an idle page; ms until the inspector's plot is redrawn for step k,
  // and until the page is idle again (tables and the other two charts done), or null on timeout.
  await new Promise(r => requestIdleCallback(r, {timeout: 2000}));
  const el = document.querySelector('#inspect-plot .figure-plot');
  if (!el.__timed) { el.on('plotly_afterplot', () => { window.__inspected = performance.now(); }); el.__timed = true; }
  const t0 = performance.now();
  document.querySelector(`#reply-tokens span[data-step="${k}"]`).click();
  const says = new RegExp(`Step ${k + 1}(?![0-9])`);  // data-step is 0-based; the page numbers steps from 1
  while (!(window.__inspected > t0) || !says.test(document.querySelector('#inspect-info').innerText)) {
    if (performance.now() - t0 > timeout) return null;
    await new Promise(r => requestAnimationFrame(r));
  }
  await new Promise(r => requestIdleCallback(r, {timeout: 1000}));
  return [window.__inspected - t0, performance.now() - t0];
}"""
CLICKS = [3, 7, 2, 9, 5, 11, 4, 8, 6, 10, 12, 13]


def token_clicks(page, timeout: int) -> dict[str, list[float]]:
    """Clicks on the reply's tokens (the first one opens the inspector; 2 more warm up)."""
    page.locator('#reply-tokens span[data-step="1"]').click()
    page.wait_for_function("() => /Step 2\\b/.test(document.querySelector('#inspect-info').innerText)", timeout=timeout)
    out = {"inspector plot drawn": [], "page idle again": []}
    count = page.locator("#reply-tokens span[data-step]").count()
    clicks = [k for k in [14, 15] + CLICKS if k < count]  # the reply may have ended early (an end-of-text token)
    if len(clicks) < 5:
        raise SystemExit(f"the reply has {count} tokens, too few to click: raise its min_new_tokens")
    for n, k in enumerate(clicks):
        got = page.evaluate(CLICK_JS, [k, timeout])
        if got is None:
            raise SystemExit(f"clicking token {k} did not open its step within {timeout} ms")
        if n >= 2:
            out["inspector plot drawn"].append(got[0])
            out["page idle again"].append(got[1])
    return out


def ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.1f} ms (min {min(xs):.1f}, max {max(xs):.1f}, n={len(xs)})"


def server_side(engine: Engine, moves: int) -> dict[str, list[float]]:
    """Times (ms) of `plot.moved` (what a control's event runs) and of its parts over `moves` top-k moves."""
    ctx = plot.context(engine, HISTORY, None)
    engine.next_logits(ctx["ids"])  # the forward pass happens once, when the context changes
    settings = controls.mirror()
    out = {k: [] for k in ("moved (handler)", "to_params", "engine.trace", "plotdata.from_trace", "figure",
                           "encode (JSON)")}
    for n in range(moves + 5):
        k = KS[n % len(KS)]
        t0 = time.perf_counter()
        fig, note = plot.moved(engine, "top_k", ctx, TOP_N, "linear", settings, k)
        t1 = time.perf_counter()
        assert isinstance(fig, str) and f"**{k}** of" in note, note
        # The parts, one by one.
        a = time.perf_counter()
        params = controls.to_params(controls.values_of(settings))
        b = time.perf_counter()
        trace = engine.trace(ctx["ids"], params, logits=engine.cached_logits(ctx["ids"]))
        c = time.perf_counter()
        data = plotdata.from_trace(trace, params, engine.label, TOP_N, title="Next token")
        d = time.perf_counter()
        fig = plot.figure(data)
        e = time.perf_counter()
        encode(fig)
        f = time.perf_counter()
        if n < 5:
            continue  # warm-up
        for key, dt in zip(out, (t1 - t0, b - a, c - b, d - c, e - d, f - e)):
            out[key].append(dt * 1000)
    return out


BROWSER = ("figure data shows the new kept set", "Plotly drawn (afterplot)", "request sent", "server answer received")


def moves_on(pages: list, name: str, values: list, kept: bool, moves: int, timeout: int) -> list[dict]:
    """`moves` moves of control `name` through `values` on each page in turn (3 warm-up moves first);
    per page, the times per part."""
    times = [{k: [] for k in BROWSER if kept or k != BROWSER[0]} for _ in pages]
    for n in range(moves + 3):
        v = values[n % len(values)]
        for page, out in zip(pages, times):
            got = page.evaluate(MOVE_JS, [name, v, v if kept else None, timeout])
            if got is None:
                raise SystemExit(f"the plot did not follow {name} = {v} within {timeout} ms")
            if n >= 3:
                for key, dt in zip(BROWSER, got):
                    if key in out:
                        out[key].append(dt)
            if len(pages) > 1:
                page.wait_for_timeout(300)  # the other pages share the 2 cores: let this one go idle first
    return times


def baseline_demo(engine: Engine) -> gr.Blocks:
    """The stock way (see the module's docstring): every control an input of one event, a gr.Plot."""
    import plotly.graph_objects as go

    ctx = plot.context(engine, HISTORY, None)
    engine.next_logits(ctx["ids"])

    def draw(*values):
        data = plot.live_data(engine, ctx, TOP_N, values)
        return go.Figure(plot.figure(data), _validate=False)

    with gr.Blocks() as demo:
        fig = gr.Plot(elem_id="plot")
        P = list(controls.build_controls().values())
        gr.on([x.input for x in P], draw, P, fig, queue=False, trigger_mode="always_last", show_progress="hidden",
              preprocess=False)
        demo.load(draw, P, fig, preprocess=False)
    return demo


def browser_side(engine: Engine, moves: int, long_chat: bool = True) -> dict[str, dict[str, list[float]]]:
    """Scenario -> part -> times: top-k moves and temperature moves after one short reply, then top-k
    moves again after a longer chat (gradio's page does more per event as the page holds more)."""
    from playwright.sync_api import expect, sync_playwright

    from tests import browser_util as bu

    demo, url = bu.serve(engine)
    base = baseline_demo(engine)
    base_port = bu.free_port()
    base.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=base_port, quiet=True, theme=gr.themes.Soft())
    out = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=bu.CHROMIUM, args=bu.CHROMIUM_ARGS)
            page = bu.open_app(browser, url)
            bu.set_number(page, "max_new_tokens", 4)
            bu.send_message(page, HISTORY[0]["content"])
            expect(page.locator("#status")).to_contain_text("tokens/s", timeout=bu.SLOW)
            bu.wait_kept(page, "n > 0")
            base_page = browser.new_context(viewport=bu.VIEWPORT).new_page()
            base_page.goto(f"http://127.0.0.1:{base_port}/")
            base_page.wait_for_function(f"() => ({bu.KEPT_JS})() > 0", timeout=bu.SLOW)
            ours, stock = moves_on([page, base_page], "top_k", KS, True, moves, bu.SLOW)
            out["top_k moves, after one short reply"] = ours
            out["baseline: gr.Plot, one event with every control as input"] = stock
            out["temperature moves (two events: plot and mode)"] = moves_on([page], "temperature", TEMPS, False,
                                                                            moves, bu.SLOW)[0]
            bu.set_number(page, "temperature", 1)
            if long_chat:
                bu.set_number(page, "max_new_tokens", 48)
                bu.set_number(page, "min_new_tokens", 20)  # the clicked reply has at least 20 tokens to click
                for i, text in enumerate(LONG_CHAT, 2):
                    bu.send_message(page, text)
                    expect(bu.bot_messages(page)).to_have_count(i, timeout=bu.SLOW)
                    expect(page.locator("#status")).to_contain_text("tokens/s", timeout=bu.SLOW)
                page.wait_for_timeout(2000)  # the reply's refresh and inspector updates settle
                out[f"top_k moves, after {len(LONG_CHAT) + 1} replies"] = moves_on([page], "top_k", KS, True, moves,
                                                                                    bu.SLOW)[0]
                out["token clicks: the inspector opens a step of the 48-token reply"] = token_clicks(page, bu.SLOW)
            browser.close()
    finally:
        demo.close()
        base.close()
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=30, help="slider moves in the browser")
    ap.add_argument("--server-moves", type=int, default=200, help="handler calls on the server side")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--short", action="store_true", help="skip the long-chat scenario")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    engine = Engine(loader.load(dtype=args.dtype))
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), gradio {gr.__version__}; load average "
          f"{os.getloadavg()[0]:.1f}")
    server = server_side(engine, args.server_moves)
    print(f"server side, top-k moves on a cached context (top {TOP_N} shown):")
    for key, xs in server.items():
        print(f"  {key:26s} {ms(xs)}")
    if not args.no_browser:
        print("browser (headless chromium), from a number box's input event on an idle page:")
        scenarios = browser_side(engine, args.moves, not args.short)
        for scenario, parts in scenarios.items():
            print(f" {scenario}:")
            for key, xs in parts.items():
                print(f"  {key:34s} {ms(xs)}")
        drawn = [statistics.median(parts[BROWSER[1]]) for parts in list(scenarios.values())[:2]]
        print(f"ratio baseline / app, median redraw (afterplot), interleaved top-k moves: {drawn[1] / drawn[0]:.2f}")


if __name__ == "__main__":
    main()
