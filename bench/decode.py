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
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from playground import loader  # noqa: E402
from playground.engine import Engine  # noqa: E402
from playground.params import build  # noqa: E402

MESSAGES = [{"role": "user", "content": "Write a short story about a lighthouse keeper and a storm."}]


class Stamps:
    """A `generate()` streamer that only notes when each new token arrives (the first call is the prompt)."""

    def __init__(self):
        self.times: list[float] = []
        self.calls = 0

    def put(self, value):
        self.calls += 1
        if self.calls > 1:
            self.times.append(time.perf_counter())

    def end(self):
        pass


def run_engine(engine: Engine, params, prompt: list[int]):
    """Wall seconds, the tokens, and the time each token was ready."""
    times, done = [], None
    start = time.perf_counter()
    for item in engine.stream(MESSAGES, params, top_n=50, prompt=prompt):
        times.append(time.perf_counter())
        done = item
    return times[-1] - start, done.token_ids, times[:-1]


def run_generate(engine: Engine, params, prompt: list[int]):
    kw = engine.generate_kwargs(params, len(prompt))
    ids = torch.tensor([prompt], device=engine.device)
    stamps = Stamps()
    torch.manual_seed(params.seed)
    start = time.perf_counter()
    with torch.inference_mode():
        out = engine.model.generate(ids, attention_mask=torch.ones_like(ids), streamer=stamps, **kw)
    return time.perf_counter() - start, out[0, len(prompt):].tolist(), stamps.times


def step_ms(times: list[float]) -> list[float]:
    """Milliseconds between consecutive tokens: the cost of one decode step (the prompt pass excluded)."""
    return [(b - a) * 1000 for a, b in zip(times, times[1:])]


def quantile(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[round(q * 100) - 1] if len(xs) > 1 else xs[0]


def code_version() -> str:
    """The commit benchmarked, marked dirty when the engine's files differ from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True).stdout
        dirty = subprocess.run(["git", "status", "--porcelain", "playground"], cwd=root, capture_output=True, text=True)
    except OSError:
        return "unknown"
    return head.strip() + (" (playground/ modified)" if dirty.stdout.strip() else "")


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
    print(f"code {code_version()}; {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"params {params.changed()}; prompt {len(prompt)} tokens; {args.rounds} rounds x {args.tokens} tokens")
    warm = params.replace(max_new_tokens=4, min_new_tokens=4)
    run_engine(engine, warm, prompt)
    run_generate(engine, warm, prompt)

    print(f"load average at start {os.getloadavg()[0]:.2f} (other processes share the cores)")
    ratios, steps, same = [], {"engine": [], "generate": []}, 0
    for r in range(args.rounds):
        first, second = (run_engine, run_generate) if r % 2 == 0 else (run_generate, run_engine)
        res = {f.__name__: f(engine, params, prompt) for f in (first, second)}
        (we, toks_e, times_e), (wg, toks_g, times_g) = res["run_engine"], res["run_generate"]
        e, g = len(toks_e) / we, len(toks_g) / wg
        ratios.append(e / g)
        steps["engine"] += step_ms(times_e)
        steps["generate"] += step_ms(times_g)
        same += toks_e == toks_g
        print(f"round {r + 1}: engine {e:6.2f} tok/s  generate {g:6.2f} tok/s  ratio {e / g:.3f}  "
              f"(tokens {len(toks_e)}/{len(toks_g)}, identical: {'yes' if toks_e == toks_g else 'no'})", flush=True)
    print(f"median ratio engine/generate (wall tok/s per round): {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f}); identical tokens in {same}/{args.rounds} rounds")
    q = {k: (quantile(v, 0.1), statistics.median(v)) for k, v in steps.items()}
    for k, (p10, med) in q.items():
        print(f"{k:>8} decode step: p10 {p10:6.2f} ms ({1000 / p10:5.1f} tok/s), median {med:6.2f} ms "
              f"({1000 / med:5.1f} tok/s) over {len(steps[k])} steps")
    print(f"step-time ratio engine/generate (generate ms / engine ms): p10 {q['generate'][0] / q['engine'][0]:.3f}, "
          f"median {q['generate'][1] / q['engine'][1]:.3f}; load average at end {os.getloadavg()[0]:.2f}")
    print(llama_cpp_note())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
