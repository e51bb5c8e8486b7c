"""Sampling playground: `python app.py` serves the Gradio app on http://127.0.0.1:7860, and on the same
port the OpenAI-compatible API under /v1 (`playground/api.py`).

Flags: --model (hub id or local folder; default: the bundled SmolLM2-135M-Instruct, or its hub id
when the bundled package is absent, as on a Space), --dtype (auto, float32, bfloat16, float16, int8),
--port, --host, --share, --api-key-env VAR (the API's bearer token is read from that environment
variable; it is never printed), and the caps every visitor shares (`playground/limits.py`):
--max-new-tokens, --max-new-tokens-cap, --max-prompt-tokens, --queue-size, --batch-size,
--public / --no-public, each also set by its PLAYGROUND_* environment variable (the flag wins).
The same file is a Hugging Face Space `app_file`: there `python app.py` runs with no flags,
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT pick the address, and public mode is on (SPACE_ID is set).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from playground import loader  # noqa: E402
from playground.limits import Limits  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Serve the sampling playground.")
    p.add_argument("--model", default=None,
                   help="hub id or local folder (default: PLAYGROUND_MODEL, else the bundled SmolLM2-135M-Instruct, "
                        f"else {loader.HUB_FALLBACK})")
    p.add_argument("--dtype", default=None, help="auto (default), float32, bfloat16, float16 or int8 (int8 weights, CPU only)")
    p.add_argument("--fast", action=argparse.BooleanOptionalAction, default=None,
                   help="decode through the compiled step, compiled in the background once serving (default off: it did "
                        "not pay on a 2-core CPU, bench/RESULTS.md) [PLAYGROUND_FAST=1]")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    p.add_argument("--api-key-env", metavar="VAR", default=None,
                   help="the environment variable holding the API's bearer token (default: no token needed)")
    defaults = Limits()
    for name, (var, text) in Limits.ENV.items():
        flag = "--" + name.replace("_", "-")
        if name == "public":
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=f"{text} [{var}]")
        else:
            p.add_argument(flag, type=int, default=None, metavar="N",
                           help=f"{text} (default {getattr(defaults, name)}) [{var}]")
    return p.parse_args(argv)


def configure(argv: list[str] | None = None, env: dict[str, str] | None = None) -> tuple[argparse.Namespace, str, Limits]:
    """(flags, the model id to load, the caps) from the flags and the environment; exits on a bad cap."""
    args = parse_args(argv)
    try:
        limits = Limits.from_env(env, **{name: getattr(args, name) for name in Limits.ENV})
    except ValueError as e:
        sys.exit(f"error: {e}")
    return args, args.model or loader.default_model_id(), limits


def main(argv: list[str] | None = None) -> None:
    args, model_id, limits = configure(argv)
    api_key = api_key_from(args.api_key_env)
    from playground.engine import Engine
    from playground.fast import SIZES, wanted
    from playground.ui.server import Served, build_app

    try:
        engine = Engine(loader.load(model_id, args.dtype), fast=wanted(args.fast))
    except loader.ModelLoadError as e:
        sys.exit(f"error: {e}")
    served = Served(*build_app(engine, limits, api_key), host=args.host, port=args.port)
    if engine.fast is not None and engine.fast.on:
        threading.Thread(target=compile_when_serving, args=(served, engine.fast, SIZES[0]), daemon=True).start()
    served.run(share=args.share)


def compile_when_serving(served, fast, size: int) -> None:
    """Compile the decode step once the app serves (tracing holds the GIL: begun at start, it delayed serving
    from 12 s to 32 s); replies decode eagerly until it is ready, then switch over."""
    while not served.server.started:
        time.sleep(0.2)
    fast.want(size)


def api_key_from(var: str | None, env: dict[str, str] | None = None) -> str | None:
    """The API key held by the environment variable `var` (None: no key); exits when it is unset or empty."""
    if var is None:
        return None
    key = (os.environ if env is None else env).get(var, "").strip()
    if not key:
        sys.exit(f"error: `--api-key-env` names {var}, but {var} is unset or empty. Set it to the API key, "
                 "or leave the flag out for an API without a key.")
    return key


if __name__ == "__main__":
    main()
