"""Sampling playground: `python app.py` serves the Gradio app on http://127.0.0.1:7860.

Flags: --model (hub id or local folder; default: the bundled SmolLM2-135M-Instruct), --dtype
(auto, float32, bfloat16, float16), --port, --host, --share. The same file is a Hugging Face Space
`app_file`: there `python app.py` runs with no flags, and GRADIO_SERVER_NAME / GRADIO_SERVER_PORT
(which gradio reads itself) pick the address.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from playground import loader  # noqa: E402
from playground.engine import Engine  # noqa: E402
from playground.ui.layout import LAUNCH, build_demo  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Serve the sampling playground.")
    p.add_argument("--model", default=None, help="hub id or local folder (default: the bundled SmolLM2-135M-Instruct)")
    p.add_argument("--dtype", default=None, help="auto (default), float32, bfloat16 or float16")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        engine = Engine(loader.load(args.model, args.dtype))
    except loader.ModelLoadError as e:
        sys.exit(f"error: {e}")
    demo = build_demo(engine)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, **LAUNCH)


if __name__ == "__main__":
    main()
