"""One FastAPI app on one port: the Gradio page at `/` and the OpenAI-compatible API at `/v1` (`playground/api.py`).

`build_app` mounts the page with `gr.mount_gradio_app`, carrying over everything `demo.launch(**LAUNCH)`
would set (theme, css, no run history, the thread count); `Served` runs it with uvicorn, in the
foreground (`app.py`) or on a thread (tests, benchmarks), and `--share` opens gradio's tunnel to it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import gradio as gr
import uvicorn
from fastapi import FastAPI

from .. import api, presets
from ..engine import Engine
from ..limits import Limits
from .layout import build_demo
from .page_parts import LAUNCH


def build_app(engine: Engine, limits: Limits | None = None, api_key: str | None = None,
              presets_folder: str | Path = presets.PRESETS_DIR) -> tuple[FastAPI, gr.Blocks]:
    """(the app, the page's Blocks): the API router first, then the page mounted at `/`."""
    limits = limits or Limits()
    demo = build_demo(engine, presets_folder=presets_folder, limits=limits)
    return mount(demo, api.router(engine, limits, api_key=api_key)), demo


def mount(demo: gr.Blocks, router=None, css: str = "") -> FastAPI:
    """A FastAPI app serving `demo` at `/` as `demo.launch(**LAUNCH)` would (plus `css`), with `router` (the API) before it."""
    launch = dict(LAUNCH, css=LAUNCH["css"] + css)
    demo.max_threads = launch.pop("max_threads")  # what launch() would set; the queue's workers follow it
    demo._queue.max_thread_count = demo.max_threads
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)  # the page keeps its own API docs
    if router is not None:
        app.include_router(router)
    gr.mount_gradio_app(app, demo, path="/", show_error=True, **launch)
    return app


class Served:
    """The app served by uvicorn on host:port; `start()` on a thread, `run()` in the foreground."""

    def __init__(self, app: FastAPI, demo: gr.Blocks | None, host: str = "127.0.0.1", port: int = 7860):
        self.app, self.demo, self.host, self.port = app, demo, host, port
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self, timeout: float = 60) -> Served:
        self.thread = threading.Thread(target=self.server.run, name="playground-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {self.host}:{self.port} (is the port taken?)")
            time.sleep(0.01)
        return self

    def share(self) -> str:
        """A public gradio.live link to this server (the page and the API), as `launch(share=True)` opens."""
        from gradio import networking

        url = networking.setup_tunnel(self.host, self.port, self.demo.share_token, None, None)
        return "https://" + url.split("://", 1)[-1]

    def run(self, share: bool = False) -> None:
        served_api = any(getattr(r, "path", "").startswith("/v1/") for r in self.app.routes)  # not on a remote backend
        print(f"* Running on {self.url}" + (f" (the OpenAI-compatible API at {self.url}v1)" if served_api else ""), flush=True)
        if not share:
            self.server.run()
            return
        self.start()
        try:
            print(f"* Running on public URL: {self.share()}", flush=True)
        except Exception as e:  # no tunnel (offline): the local server goes on
            print(f"* Could not open a share link: {e}", flush=True)
        try:
            while self.thread.is_alive():
                self.thread.join(1)
        except KeyboardInterrupt:
            self.close()

    def close(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)
        if self.demo is not None:
            self.demo.close()
