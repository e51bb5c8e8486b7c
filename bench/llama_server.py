"""Decode speed beside llama.cpp's: the playground's engine against a running `llama-server` on the same GGUF.

Both decode the same chat prompt to exactly `--tokens` tokens (llama.cpp: `ignore_eos`; ours:
`min_new_tokens = max_new_tokens`), plain sampling at temperature 1 with a seed, interleaved over `--rounds`
rounds, each going first in turn. Decode speed only, the prompt's pass left out on both sides (llama.cpp's
`timings.predicted_per_second`; ours `Done.tokens_per_second`, the UI's trace on: `top_n=50`). llama.cpp runs the
GGUF's own Q4_1 kernels; the playground dequantizes it to float32 (`--dtype`), so this is the speed gap, not an
equivalence. Prints each round and the median ratio.

    llama-server -m "$GGUF" --port 8089 -t 2 &          # README: "llama.cpp's server (opt-in test)"
    python bench/llama_server.py --url http://127.0.0.1:8089 --tokens 128 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from playground import loader  # noqa: E402
from playground.engine import Engine  # noqa: E402
from playground.params import build  # noqa: E402

ASK = [{"role": "user", "content": "Write a short story about a lighthouse keeper."}]


def llama(url: str, prompt: str, tokens: int, seed: int) -> float:
    r = httpx.post(f"{url}/completion", timeout=600, json={
        "prompt": prompt, "n_predict": tokens, "ignore_eos": True, "seed": seed, "temperature": 1.0, "top_k": 0,
        "top_p": 1.0, "min_p": 0.0, "cache_prompt": False})
    r.raise_for_status()
    t = r.json()["timings"]
    assert t["predicted_n"] == tokens, t
    return t["predicted_per_second"]


def ours(engine: Engine, tokens: int, seed: int) -> float:
    *_, done = engine.stream(ASK, build(max_new_tokens=tokens, min_new_tokens=tokens, seed=seed), top_n=50)
    assert len(done.token_ids) == tokens
    return done.tokens_per_second


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default=os.environ.get("LLAMA_SERVER_URL", "http://127.0.0.1:8089").removesuffix("/v1"))
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dtype", default="float32")
    args = ap.parse_args()
    engine = Engine(loader.load(loader.BUNDLED, args.dtype))
    prompt = engine.tokenizer.apply_chat_template(ASK, tokenize=False, add_generation_prompt=True)
    llama(args.url, prompt, 8, 0), ours(engine, 8, 0)  # warm both
    ratios = []
    for r in range(args.rounds):
        runs = [("llama.cpp", lambda r=r: llama(args.url, prompt, args.tokens, r)), ("ours", lambda r=r: ours(engine, args.tokens, r))]
        got = dict((name, fn()) for name, fn in (runs if r % 2 == 0 else runs[::-1]))
        ratios.append(got["llama.cpp"] / got["ours"])
        print(f"round {r + 1}: llama.cpp {got['llama.cpp']:.1f} tok/s, playground ({args.dtype}) {got['ours']:.1f} tok/s, "
              f"ratio {ratios[-1]:.2f}x; load average {os.getloadavg()[0]:.1f}")
    print(f"median: llama.cpp decodes {statistics.median(ratios):.2f}x the playground's speed")


if __name__ == "__main__":
    main()
