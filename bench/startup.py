"""Cold start: from `python app.py` to the page answering 200, and where that time goes.

Two measurements, each in fresh processes (the converted model copy cached, as on every start but the first):
- **whole**: `python app.py --port P` as a user starts it, polled until `GET /` answers 200.
- **split**: a child that does what `app.main` does, in its order, timing each phase (wall seconds and this
  process's CPU seconds): the interpreter's start, `import torch`, `import transformers` (and the model class),
  `import gradio`, the app's own modules, the model load, the `Engine`, building the page (`build_app`: the
  Blocks and the API), the server starting, and the first `GET /` (the page rendered).

CPU seconds are the figure to read on a shared machine: wall seconds grow with the load average (printed),
while the work itself does not. On an idle machine the phases run one after another on one core, so the CPU
seconds are about the wall seconds there.

    python bench/startup.py --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASES = ["interpreter", "import torch", "import transformers", "import gradio", "app modules", "model load", "engine",
          "build page", "server start", "first GET /"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user + system) a running process has used, from /proc (None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def env() -> dict:
    return {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), "GRADIO_ANALYTICS_ENABLED": "False",
            "PYTHONPATH": str(ROOT)}


def whole(extra: list[str], timeout: float) -> tuple[float, float | None]:
    """(wall seconds, CPU seconds) from spawning `python app.py` to `GET /` answering 200."""
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), *extra], cwd=ROOT, env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not answers(f"http://127.0.0.1:{port}/"):
            if proc.poll() is not None or time.perf_counter() - start > timeout:
                raise RuntimeError(f"app.py did not serve (exit code {proc.poll()})")
            time.sleep(0.05)
        return time.perf_counter() - start, cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)


def split(extra: list[str], timeout: float) -> dict[str, tuple[float, float]]:
    """Each phase's (wall, CPU) seconds, from a child running app.main's steps (`--child`)."""
    spawned = time.time()
    out = subprocess.run([sys.executable, __file__, "--child", *extra], cwd=ROOT, env=env(), capture_output=True,
                         text=True, timeout=timeout)
    line = next((x for x in out.stdout.splitlines() if x.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"the child failed: {out.stderr[-2000:]}")
    got = json.loads(line)
    got["interpreter"] = (got.pop("t0") - spawned, got.pop("cpu0"))
    return {name: tuple(got[name]) for name in PHASES}


def child(argv: list[str]) -> None:
    """app.main's steps, timed; prints one JSON line {phase: [wall, cpu]} (and t0, cpu0: when it began)."""
    t0, cpu0 = time.time(), time.process_time()
    marks, last = {}, [time.perf_counter(), time.process_time()]

    def mark(name: str) -> None:
        now = [time.perf_counter(), time.process_time()]
        marks[name] = [now[0] - last[0], now[1] - last[1]]
        last[:] = now

    import torch  # noqa: F401

    mark("import torch")
    import transformers  # noqa: F401
    from transformers import LlamaForCausalLM  # noqa: F401

    mark("import transformers")
    import gradio  # noqa: F401

    mark("import gradio")
    import threading

    import app
    from playground import loader
    from playground.engine import Engine
    from playground.fast import wanted
    from playground.ui.server import Served, build_app

    mark("app modules")
    args, model_id, limits = app.configure(["--port", str(free_port()), *argv])
    loaded = loader.load(model_id, args.dtype)
    mark("model load")
    engine = Engine(loaded, fast=wanted(args.fast))
    mark("engine")
    served = Served(*build_app(engine, limits, None), host=args.host, port=args.port)
    mark("build page")
    threading.Thread(target=served.server.run, daemon=True).start()
    while not served.server.started:
        time.sleep(0.01)
    mark("server start")
    assert answers(served.url)
    mark("first GET /")
    print(json.dumps({**marks, "t0": t0, "cpu0": cpu0}), flush=True)
    os._exit(0)  # the server thread is a daemon: no clean shutdown to wait for


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="fresh starts of each kind (default 3)")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args, extra = ap.parse_known_args(argv)  # anything else goes to app.py (e.g. --dtype int8)
    if args.child:
        child(extra)
        return 0
    code = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    print(f"code {code}; {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; {os.cpu_count()} cpus; app.py {' '.join(extra)}")
    print(f"load average at start {os.getloadavg()[0]:.2f} (other processes share the cores)")
    splits, wholes = [], []
    for r in range(args.rounds):
        wholes.append(whole(extra, args.timeout))
        splits.append(split(extra, args.timeout))
        w, c = wholes[-1]
        print(f"round {r + 1}: app.py to 200 in {w:.2f} s wall ({c if c is None else round(c, 2)} s CPU); split "
              f"{sum(x[0] for x in splits[-1].values()):.2f} s wall, {sum(x[1] for x in splits[-1].values()):.2f} s CPU "
              f"(load {os.getloadavg()[0]:.2f})", flush=True)
    print("\n| phase | wall s (median) | CPU s (median) |\n|---|---|---|")
    for name in PHASES:
        print(f"| {name} | {statistics.median(s[name][0] for s in splits):.2f} | "
              f"{statistics.median(s[name][1] for s in splits):.2f} |")
    print(f"| **total** | {statistics.median(sum(x[0] for x in s.values()) for s in splits):.2f} | "
          f"{statistics.median(sum(x[1] for x in s.values()) for s in splits):.2f} |")
    cpus = [c for _, c in wholes if c is not None]
    print(f"\napp.py to 200: median {statistics.median(w for w, _ in wholes):.2f} s wall"
          + (f", {statistics.median(cpus):.2f} s CPU" if cpus else "") + f"; load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
