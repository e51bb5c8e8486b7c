"""Sampling playground: `python app.py` serves the Gradio app on http://127.0.0.1:7860, and on the same
port the OpenAI-compatible API under /v1 (`playground/api.py`).

Flags: --model (hub id or local folder; default: the bundled SmolLM2-135M-Instruct, or its hub id
when the bundled package is absent, as on a Space), --dtype (auto, float32, bfloat16, float16, int8),
--port, --host, --share, --api-token-env VAR (the /v1 API's bearer token is read from that environment
variable; it is never printed; PLAYGROUND_API_TOKEN_ENV), and the caps every visitor shares
(`playground/limits.py`): --max-new-tokens, --max-new-tokens-cap, --max-prompt-tokens, --queue-size, --batch-size,
--public / --no-public, each also set by its PLAYGROUND_* environment variable (the flag wins).
The same file is a Hugging Face Space `app_file`: there `python app.py` runs with no flags,
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT pick the address, and public mode is on (SPACE_ID is set).

On a remote model (`--backend openai`, playground/ui/remote_page.py): `--base-url URL` (the server's API
root, e.g. http://127.0.0.1:8000/v1), `--model NAME` (its model; default: the server's only one),
`--api-key-env VAR` (the server's key is read from that variable, never printed or shown) and
`--server-kind` (auto, openai, vllm, llamacpp, playground). On a Space, the same from PLAYGROUND_BACKEND,
PLAYGROUND_BASE_URL, PLAYGROUND_MODEL, PLAYGROUND_API_KEY_ENV and PLAYGROUND_SERVER_KIND (the flag wins).
No model is loaded and no /v1 API is served then: the page alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import replace

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from playground import loader  # noqa: E402
from playground.limits import Limits  # noqa: E402
from playground.remote import SERVERS  # noqa: E402


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
    p.add_argument("--api-token-env", metavar="VAR", default=os.environ.get("PLAYGROUND_API_TOKEN_ENV"),
                   help="the environment variable holding the bearer token of this server's /v1 API (default: no "
                        "token needed) [PLAYGROUND_API_TOKEN_ENV]")
    p.add_argument("--api-key-env", metavar="VAR", default=os.environ.get("PLAYGROUND_API_KEY_ENV"),
                   help="with --backend openai: the environment variable holding the remote server's key "
                        "[PLAYGROUND_API_KEY_ENV]")
    p.add_argument("--backend", choices=("local", "openai"), default=os.environ.get("PLAYGROUND_BACKEND", "local"),
                   help="local: this machine's engine (exact); openai: an OpenAI-compatible server at --base-url "
                        "[PLAYGROUND_BACKEND]")
    p.add_argument("--base-url", default=os.environ.get("PLAYGROUND_BASE_URL"),
                   help="with --backend openai: the server's API root, e.g. http://127.0.0.1:8000/v1 [PLAYGROUND_BASE_URL]")
    p.add_argument("--server-kind", choices=("auto", *SERVERS), default=os.environ.get("PLAYGROUND_SERVER_KIND", "auto"),
                   help="with --backend openai: which server it is (auto: from its /v1/models) [PLAYGROUND_SERVER_KIND]")
    defaults = Limits()
    for name, (var, text) in Limits.ENV.items():
        flag = "--" + name.replace("_", "-")
        if name == "public":
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=f"{text} [{var}]")
        else:
            p.add_argument(flag, type=int, default=None, metavar="N",
                           help=f"{text} (default {getattr(defaults, name)}) [{var}]")
    args = p.parse_args(argv)
    for flag, var, value in (("--backend", "PLAYGROUND_BACKEND", args.backend),
                             ("--server-kind", "PLAYGROUND_SERVER_KIND", args.server_kind)):
        choices = next(a.choices for a in p._actions if flag in a.option_strings)
        if value not in choices:  # argparse checks the choices of a flag, not of a default from the environment
            p.error(f"{var} must be one of {', '.join(choices)}, but is {value!r}")
    return args


def configure(argv: list[str] | None = None, env: dict[str, str] | None = None) -> tuple[argparse.Namespace, str, Limits]:
    """(flags, the model id to load, the caps) from the flags and the environment; exits on a bad cap."""
    args = parse_args(argv)
    try:
        limits = Limits.from_env(env, **{name: getattr(args, name) for name in Limits.ENV})
    except ValueError as e:
        sys.exit(f"error: {e}")
    batch_given = args.batch_size is not None or (os.environ if env is None else env).get(Limits.ENV["batch_size"][0], "").strip()
    if args.dtype == "int8" and not batch_given and limits.batch_size > 1:
        # int8 quantizes each layer's input with one scale per batch: a reply would depend on who else decodes
        print("int8 weights: one reply at a time (--batch-size 1), so a reply does not depend on the others in a "
              "batch; pass --batch-size N to batch them anyway.", file=sys.stderr)
        limits = replace(limits, batch_size=1)
    return args, args.model or loader.default_model_id(), limits


def main(argv: list[str] | None = None) -> None:
    args, model_id, limits = configure(argv)
    if args.backend == "openai":
        return serve_remote(args, limits)
    api_key = api_token(args)
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


def remote_backend(args: argparse.Namespace):
    """The `openai` backend the flags name (it asks the server for its models); exits with one line when it cannot."""
    from playground.backends import BackendError
    from playground.params import ParamError
    from playground.remote import OpenAIBackend

    if not args.base_url:
        sys.exit("error: `--base-url` is needed with `--backend openai`, but is not given. Use e.g. "
                 "--base-url http://127.0.0.1:8000/v1 (or set PLAYGROUND_BASE_URL).")
    try:
        return OpenAIBackend.connect(args.base_url, args.model or os.environ.get("PLAYGROUND_MODEL") or None,
                                     args.server_kind, args.api_key_env)
    except (BackendError, ParamError) as e:
        sys.exit(f"error: {e}")


def serve_remote(args: argparse.Namespace, limits: Limits) -> None:
    """The page on a remote model: no model loaded here, no /v1 API (playground/ui/remote_page.py)."""
    from playground.ui.remote_page import build_remote_app
    from playground.ui.server import Served

    backend = remote_backend(args)
    print(f"* {backend.describe()}", flush=True)
    served = Served(*build_remote_app(backend, limits), host=args.host, port=args.port)
    served.run(share=args.share)


def compile_when_serving(served, fast, size: int) -> None:
    """Compile the decode step once the app serves (tracing holds the GIL: begun at start, it delayed serving
    from 12 s to 32 s); replies decode eagerly until it is ready, then switch over."""
    while not served.server.started:
        time.sleep(0.2)
    fast.want(size)


def api_token(args: argparse.Namespace, env: dict[str, str] | None = None) -> str | None:
    """The bearer token of the local /v1 API, from the variable `--api-token-env` names (None: no token). Exits when
    only `--api-key-env` is given: it once named this token too, and now names the remote server's key only, so an
    older setup is told the new name instead of serving its API without a token."""
    if args.api_token_env is None and args.api_key_env is not None:
        sys.exit(f"error: `--api-key-env` (PLAYGROUND_API_KEY_ENV) is {args.api_key_env}, but it names the remote "
                 "server's key, for --backend openai only; the /v1 API's bearer token is read from the variable "
                 f"`--api-token-env` (PLAYGROUND_API_TOKEN_ENV) names. Use --api-token-env {args.api_key_env} (or set "
                 f"PLAYGROUND_API_TOKEN_ENV={args.api_key_env}) instead.")
    return api_token_from(args.api_token_env, env)


def api_token_from(var: str | None, env: dict[str, str] | None = None) -> str | None:
    """The API token held by the environment variable `var` (None: no token); exits when it is unset or empty."""
    if var is None:
        return None
    token = (os.environ if env is None else env).get(var, "").strip()
    if not token:
        sys.exit(f"error: `--api-token-env` names {var}, but {var} is unset or empty. Set it to the API's bearer "
                 "token, or leave the flag (and PLAYGROUND_API_TOKEN_ENV) out for an API without a token.")
    return token


if __name__ == "__main__":
    main()
