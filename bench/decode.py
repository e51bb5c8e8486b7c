"""Decode speed: the playground's traced `Engine.stream` against transformers' `model.generate()`.

Both run the same request (same prompt, same sampler chain from `engine.generate_kwargs`, same seed,
`min_new_tokens = max_new_tokens` so both produce exactly `--tokens` tokens), interleaved in one
process over several rounds, alternating which goes first. The engine runs with its per-step trace
on (`top_n=50`, what the UI asks for). Prints each round and the median ratio engine / generate.

    python bench/decode.py --dtype auto --tokens 64 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from playground import loader  # noqa: E402
from playground.engine import Engine  # noqa: E402
from playground.params import build  # noqa: E402

MESSAGES = [{"role": "user", "content": "Write a short story about a lighthouse keeper and a storm."}]


def run_engine(engine: Engine, params, prompt: list[int]) -> tuple[float, list[int]]:
    start = time.perf_counter()
    *_, done = engine.stream(MESSAGES, params, top_n=50, prompt=prompt)
    return time.perf_counter() - start, done.token_ids


def run_generate(engine: Engine, params, prompt: list[int]) -> tuple[float, list[int]]:
    kw = engine.generate_kwargs(params, len(prompt))
    ids = torch.tensor([prompt], device=engine.device)
    torch.manual_seed(params.seed)
    start = time.perf_counter()
    with torch.inference_mode():
        out = engine.model.generate(ids, attention_mask=torch.ones_like(ids), **kw)
    return time.perf_counter() - start, out[0, len(prompt):].tolist()


def llama_cpp_note() -> str:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return "llama.cpp comparison skipped: llama_cpp (llama-cpp-python) is not installed."
    return "llama_cpp is installed, but this benchmark does not drive it yet (see bench/RESULTS.md)."


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16"))
    ap.add_argument("--tokens", type=int, default=64, help="tokens per run (default 64)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds, each one engine run and one generate run (default 5)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default=None, help="model id or folder (default: the bundled SmolLM2-135M-Instruct)")
    args = ap.parse_args(argv)

    loaded = loader.load(args.model, dtype=args.dtype)
    engine = Engine(loaded)
    params = build(temperature=0.8, top_k=40, top_p=0.95, max_new_tokens=args.tokens, min_new_tokens=args.tokens,
                   seed=args.seed)
    prompt = engine.prompt_ids(MESSAGES)
    print(f"model {loaded.model_id}, {str(loaded.dtype).removeprefix('torch.')}, {loaded.device}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cpus, {platform.machine()}")
    print(f"params {params.changed()}; prompt {len(prompt)} tokens; {args.rounds} rounds x {args.tokens} tokens")
    warm = params.replace(max_new_tokens=4, min_new_tokens=4)
    run_engine(engine, warm, prompt)
    run_generate(engine, warm, prompt)

    ratios, e_rates, g_rates, same = [], [], [], 0
    for r in range(args.rounds):
        first, second = (run_engine, run_generate) if r % 2 == 0 else (run_generate, run_engine)
        results = {f.__name__: f(engine, params, prompt) for f in (first, second)}
        (te, toks_e), (tg, toks_g) = results["run_engine"], results["run_generate"]
        er, gr = len(toks_e) / te, len(toks_g) / tg
        e_rates.append(er)
        g_rates.append(gr)
        ratios.append(er / gr)
        same += toks_e == toks_g
        print(f"round {r + 1}: engine {er:6.2f} tok/s ({len(toks_e)} tokens)  generate {gr:6.2f} tok/s "
              f"({len(toks_g)} tokens)  ratio {er / gr:.3f}  same tokens: {'yes' if toks_e == toks_g else 'no'}",
              flush=True)
    print(f"median: engine {statistics.median(e_rates):.2f} tok/s, generate {statistics.median(g_rates):.2f} tok/s, "
          f"ratio engine/generate {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f}); "
          f"identical tokens in {same}/{args.rounds} rounds")
    print(llama_cpp_note())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
