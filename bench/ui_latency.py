"""Slider-to-plot latency: server side (the plot handler called directly) and in headless chromium.

Server side: `plot.live` (the handler every control's `.input` runs: controls -> params, the sampler
chain on the cached logits, `view.from_trace`, the Plotly figure) over many top-k moves on a real
context, median, plus the same split into its parts and gradio's `Plot.postprocess` (the figure to
JSON), which the server also does before it answers.

Browser: the real app served in-process, a real context (one short reply), then for each move a
script in the page waits until the page is idle, types a new top_k into the slider's number box,
fires the `input` event and polls (every animation frame) until the Plotly figure on the page
(`.js-plotly-plot`'s `el.data`) has exactly top_k kept bars, and until Plotly reports the redraw
(`plotly_afterplot`); also when the request left and when the server's answer had arrived. Timed in the page with
`performance.now()`; median over the moves.

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

from playground import loader, view  # noqa: E402
from playground.engine import Engine  # noqa: E402
from playground.ui import controls, plot  # noqa: E402
from playground.ui.figure_view import encode  # noqa: E402

HISTORY = [{"role": "user", "content": "Name three colours."}]
TOP_N = 30
# top_k values for the moves: each differs from the one before and is at most TOP_N, so the figure
# shows exactly top_k kept bars and every move changes it.
KS = [3, 17, 8, 25, 5, 12, 29, 2, 20, 10]

MOVE_JS = """async ([k, timeout]) => {
  // One move on an idle page: type k into top_k's number box, fire `input`, then poll every frame.
  // Returns [ms until the figure's data has k kept bars, ms until Plotly's next afterplot, ms until the
  // request left, ms until the server's answer had arrived], or null on timeout.
  await new Promise(r => requestIdleCallback(r, {timeout: 2000}));
  const el = document.querySelector('#plot .js-plotly-plot');
  if (!el.__timed) { el.on('plotly_afterplot', () => { window.__afterplot = performance.now(); }); el.__timed = true; }
  const box = document.querySelector('#param-top_k input[type=number]');
  const kept = () => { const t = el.data ? el.data.find(d => d.name === 'kept') : null; return t ? t.x.length : -1; };
  performance.clearResourceTimings();
  const t0 = performance.now();
  box.value = String(k);
  box.dispatchEvent(new Event('input', {bubbles: true}));
  let data = null;
  while (true) {
    const now = performance.now();
    if (now - t0 > timeout) return null;
    if (data === null && kept() === k) data = now - t0;
    if (data !== null && window.__afterplot >= t0) break;
    await new Promise(r => requestAnimationFrame(r));
  }
  const answer = performance.getEntriesByType('resource').filter(e => e.name.includes('/run/predict'));
  const last = answer.length ? answer[answer.length - 1] : {startTime: NaN, responseEnd: NaN};
  return [data, window.__afterplot - t0, last.startTime - t0, last.responseEnd - t0];
}"""

def ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.1f} ms (min {min(xs):.1f}, max {max(xs):.1f}, n={len(xs)})"


def server_side(engine: Engine, moves: int) -> dict[str, list[float]]:
    """Times (ms) of `plot.moved` (what a control's event runs) and of its parts over `moves` top-k moves."""
    ctx = plot.context(engine, HISTORY, None)
    engine.next_logits(ctx["ids"])  # the forward pass happens once, when the context changes
    settings = controls.mirror()
    out = {k: [] for k in ("moved (handler)", "to_params", "engine.trace", "view.from_trace", "figure",
                           "encode (JSON)")}
    for n in range(moves + 5):
        k = KS[n % len(KS)]
        t0 = time.perf_counter()
        fig, note, _ = plot.moved(engine, "top_k", ctx, TOP_N, "linear", settings, k)
        t1 = time.perf_counter()
        assert isinstance(fig, str) and f"**{k}** of" in note, note
        # The parts, one by one.
        a = time.perf_counter()
        params = controls.to_params([settings[name] for name in controls.NAMES])
        b = time.perf_counter()
        trace = engine.trace(ctx["ids"], params, logits=engine.cached_logits(ctx["ids"]))
        c = time.perf_counter()
        data = view.from_trace(trace, params, engine.label, TOP_N, title="Next token")
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


def browser_side(engine: Engine, moves: int) -> dict[str, list[float]]:
    from playwright.sync_api import expect, sync_playwright

    from tests import browser_util as bu

    demo, url = bu.serve(engine)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=bu.CHROMIUM, args=bu.CHROMIUM_ARGS)
            page = bu.open_app(browser, url)
            bu.set_number(page, "max_new_tokens", 4)
            bu.send_message(page, HISTORY[0]["content"])
            expect(page.locator("#status")).to_contain_text("tokens/s", timeout=bu.SLOW)
            bu.wait_kept(page, "n > 0")
            times = {k: [] for k in BROWSER}
            for n in range(moves + 3):
                got = page.evaluate(MOVE_JS, [KS[n % len(KS)], bu.SLOW])
                if got is None:
                    raise SystemExit(f"the plot did not show top_k = {KS[n % len(KS)]} within {bu.SLOW} ms")
                if n >= 3:  # warm-up
                    for key, dt in zip(BROWSER, got):
                        times[key].append(dt)
            browser.close()
    finally:
        demo.close()
    return times


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=30, help="slider moves in the browser")
    ap.add_argument("--server-moves", type=int, default=200, help="handler calls on the server side")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    ap.add_argument("--no-browser", action="store_true")
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
        print("browser (headless chromium), from the top_k number box's input event on an idle page:")
        for key, xs in browser_side(engine, args.moves).items():
            print(f"  {key:34s} {ms(xs)}")


if __name__ == "__main__":
    main()
