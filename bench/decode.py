"""Decode speed: the playground's traced `Engine.stream`, eager and fast path, against `model.generate()`.

Three decoders: the engine eager (`Engine(loaded)`), the engine's fast path (`Engine(loaded, fast=True)`:
static KV cache and compiled step, `playground/fast.py`; its compile time is printed) and transformers'
`generate()`. All run the same request (same prompt, same sampler chain from `engine.generate_kwargs`, same seed,
`min_new_tokens = max_new_tokens` so both produce exactly `--tokens` tokens), interleaved in one
process over several rounds, each going first in turn. The engine runs with its per-step trace
on (`top_n=50`, what the UI asks for). Prints each round, the median ratios to generate(), how often
the tokens were identical, and where an engine step's time goes (forward pass, chain + record).

    python bench/decode.py --dtype float32,bfloat16 --tokens 64 --rounds 5

`--int8` measures int8 weights instead (`--dtype int8`, playground/loader.quantize_int8): the engine and
`generate()` on the float32 model and on its int8 copy, four decoders interleaved; the ratios to float32,
identical tokens (int8 engine = int8 generate(), and int8 = float32), and how far int8's next-token
distribution is from float32's along the float32 reply (KL per step, top-1 agreement).

    python bench/decode.py --int8 --tokens 64 --rounds 4
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from functools import partial
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


def yes(flag: bool) -> str:
    return "yes" if flag else "no"


def run_parts(engine: Engine, params, prompt: list[int]):
    """Per step: milliseconds in the forward pass (`next_logits`) and in the chain + record (`advance`)."""
    dec = engine.decoder([], params, top_n=50, prompt=prompt)
    fwd, adv = [], []
    while not dec.done:
        a = time.perf_counter()
        with torch.inference_mode():
            dec.next_logits()
        b = time.perf_counter()
        dec.advance()
        fwd.append((b - a) * 1000)
        adv.append((time.perf_counter() - b) * 1000)
    return fwd[1:], adv[1:]  # the prompt pass excluded


def request(args):
    """The one request every decoder runs: exactly `--tokens` tokens, a fixed seed."""
    return build(temperature=0.8, top_k=40, top_p=0.95, max_new_tokens=args.tokens, min_new_tokens=args.tokens,
                 seed=args.seed)


def bench_dtype(args, dtype: str) -> dict:
    loaded = loader.load(args.model, dtype=dtype)
    eager, quick = Engine(loaded), Engine(loaded, fast="any")  # bf16 too, to measure it
    params = request(args)
    prompt = eager.prompt_ids(MESSAGES)
    print(f"\nmodel {loaded.model_id}, {str(loaded.dtype).removeprefix('torch.')}, {loaded.device}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads ({torch.get_num_interop_threads()} interop), "
          f"{os.cpu_count()} cpus, {platform.machine()}")
    print(f"code {code_version()}; {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"params {params.changed()}; prompt {len(prompt)} tokens; {args.rounds} rounds x {args.tokens} tokens")
    start = time.perf_counter()
    ok = quick.fast.wait(quick.fast.size_for(len(prompt) + args.tokens))
    print(f"fast path: {'ready' if ok else 'OFF (' + str(quick.fast.reason) + ')'}; compile (or load from "
          f"{os.environ.get('TORCHINDUCTOR_CACHE_DIR')}) took {time.perf_counter() - start:.1f} s")
    runners = {"eager": lambda: run_engine(eager, params, prompt), "fast": lambda: run_engine(quick, params, prompt),
               "generate": lambda: run_generate(eager, params, prompt)}
    warm = params.replace(max_new_tokens=4, min_new_tokens=4)
    run_engine(eager, warm, prompt), run_engine(quick, warm, prompt), run_generate(eager, warm, prompt)
    print(f"load average at start {os.getloadavg()[0]:.2f} (other processes share the cores)")
    names = list(runners)
    rates = {n: [] for n in names}
    steps = {n: [] for n in names}
    same = {"fast=eager": 0, "eager=generate": 0}
    for r in range(args.rounds):
        order = names[r % 3:] + names[:r % 3]  # each goes first in turn
        res = {n: runners[n]() for n in order}
        toks = {n: res[n][1] for n in names}
        for n in names:
            rates[n].append(len(res[n][1]) / res[n][0])
            steps[n] += step_ms(res[n][2])
        same["fast=eager"] += toks["fast"] == toks["eager"]
        same["eager=generate"] += toks["eager"] == toks["generate"]
        print(f"round {r + 1}: " + "  ".join(f"{n} {rates[n][-1]:6.2f} tok/s" for n in names) +
              f"  fast/generate {rates['fast'][-1] / rates['generate'][-1]:.3f}  eager/generate "
              f"{rates['eager'][-1] / rates['generate'][-1]:.3f}  (identical: fast=eager "
              f"{yes(toks['fast'] == toks['eager'])}, eager=generate {yes(toks['eager'] == toks['generate'])})",
              flush=True)
    ratio = {k: statistics.median(a / b for a, b in zip(rates[k], rates["generate"])) for k in ("fast", "eager")}
    print(f"median per-round ratio: fast/generate {ratio['fast']:.3f}, eager/generate {ratio['eager']:.3f}; identical "
          f"tokens: fast=eager in {same['fast=eager']}/{args.rounds} rounds, eager=generate in {same['eager=generate']}/{args.rounds}")
    q = {k: (quantile(v, 0.1), statistics.median(v)) for k, v in steps.items()}
    for k, (p10, med) in q.items():
        print(f"{k:>8} decode step: p10 {p10:6.2f} ms ({1000 / p10:5.1f} tok/s), median {med:6.2f} ms "
              f"({1000 / med:5.1f} tok/s) over {len(steps[k])} steps")
    print(f"step-time ratio vs generate (generate ms / ms): fast p10 {q['generate'][0] / q['fast'][0]:.3f}, median "
          f"{q['generate'][1] / q['fast'][1]:.3f}; eager p10 {q['generate'][0] / q['eager'][0]:.3f}, median "
          f"{q['generate'][1] / q['eager'][1]:.3f}")
    for name, eng in (("eager", eager), ("fast", quick)):
        fwd, adv = run_parts(eng, params, prompt)
        print(f"{name:>8} step parts (median): forward {statistics.median(fwd):6.2f} ms, chain + record "
              f"{statistics.median(adv):6.2f} ms")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    return {"fast": ratio["fast"], "eager": ratio["eager"], "same": same}


def interleave(runners: dict, rounds: int):
    """Each runner once a round, each going first in turn: tok/s per round, step ms, tokens per round."""
    names = list(runners)
    rates, steps, toks, cpu = {n: [] for n in names}, {n: [] for n in names}, [], {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        res = {}
        for n in order:
            c = time.process_time()
            res[n] = runners[n]()
            cpu[n].append((time.process_time() - c) * 1000 / len(res[n][1]))
        for n in names:
            rates[n].append(len(res[n][1]) / res[n][0])
            steps[n] += step_ms(res[n][2])
        toks.append({n: res[n][1] for n in names})
        print(f"round {r + 1}: " + "  ".join(f"{n} {rates[n][-1]:6.2f} tok/s ({cpu[n][-1]:5.1f} CPU ms/token)" for n in names),
              flush=True)
    print("CPU ms per token (median; this process's CPU time, all its threads, less swayed by the load than wall time): "
          + ", ".join(f"{n} {statistics.median(v):.1f}" for n, v in cpu.items()))
    return rates, steps, toks


def drift(a: Engine, b: Engine, prompt: list[int], reply: list[int]) -> str:
    """How far b's next-token distribution is from a's along `reply` (a's tokens), each stepping as the engine does:
    the prompt in one pass, then one token at a time on the KV cache."""
    def logits(e: Engine) -> torch.Tensor:
        with torch.inference_mode():
            out = e.model(torch.tensor([prompt]), use_cache=True)
            rows = [out.logits[0, -1]]
            for t in reply[:-1]:
                out = e.model(torch.tensor([[t]]), past_key_values=out.past_key_values, use_cache=True)
                rows.append(out.logits[0, -1])
        return torch.stack(rows).float()
    pa, pb = logits(a).log_softmax(-1), logits(b).log_softmax(-1)
    kl = (pa.exp() * (pa - pb)).sum(-1)
    top1 = (pa.argmax(-1) == pb.argmax(-1)).float().mean()
    return (f"KL(fp32 || int8) per step mean {kl.mean():.4f}, max {kl.max():.4f} nats; top-1 agreement {top1:.2f} "
            f"over {len(reply)} steps")


def bench_int8(args) -> None:
    """float32 against int8 weights: the engine and generate() on each, interleaved."""
    f32, i8 = Engine(loader.load(args.model, dtype="float32")), Engine(loader.load(args.model, dtype="int8"))
    params = request(args)
    prompt = f32.prompt_ids(MESSAGES)
    print(f"\nmodel {f32.loaded.model_id}, float32 and int8 (load {i8.loaded.load_seconds:.1f} s with quantizing); torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cpus; code {code_version()}; "
          f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"params {params.changed()}; prompt {len(prompt)} tokens; {args.rounds} rounds x {args.tokens} tokens")
    runners = {"fp32 engine": lambda: run_engine(f32, params, prompt), "int8 engine": lambda: run_engine(i8, params, prompt),
               "fp32 generate": lambda: run_generate(f32, params, prompt), "int8 generate": lambda: run_generate(i8, params, prompt)}
    warm = params.replace(max_new_tokens=4, min_new_tokens=4)
    for e in (f32, i8):
        run_engine(e, warm, prompt), run_generate(e, warm, prompt)
    print(f"load average at start {os.getloadavg()[0]:.2f} (other processes share the cores)")
    rates, steps, toks = interleave(runners, args.rounds)
    med = lambda a, b: statistics.median(x / y for x, y in zip(rates[a], rates[b]))  # noqa: E731
    print(f"median per-round ratio: int8 engine / fp32 engine {med('int8 engine', 'fp32 engine'):.3f}, int8 engine / "
          f"int8 generate {med('int8 engine', 'int8 generate'):.3f}, int8 engine / fp32 generate "
          f"{med('int8 engine', 'fp32 generate'):.3f}, fp32 engine / fp32 generate {med('fp32 engine', 'fp32 generate'):.3f}")
    same = lambda a, b: sum(t[a] == t[b] for t in toks)  # noqa: E731
    print(f"identical tokens: int8 engine = int8 generate in {same('int8 engine', 'int8 generate')}/{args.rounds}, "
          f"fp32 engine = fp32 generate {same('fp32 engine', 'fp32 generate')}/{args.rounds}, "
          f"int8 = fp32 {same('int8 engine', 'fp32 engine')}/{args.rounds}")
    for k, v in steps.items():
        print(f"{k:>14} decode step: p10 {quantile(v, 0.1):6.2f} ms, median {statistics.median(v):6.2f} ms "
              f"({1000 / statistics.median(v):5.1f} tok/s) over {len(v)} steps")
    print(drift(f32, i8, prompt, toks[0]["fp32 engine"]))
    print(f"load average at end {os.getloadavg()[0]:.2f}")


def bench_threads(args) -> None:
    """The engine (fp32 and int8) on each thread count of `--compare-threads`, interleaved in one process."""
    counts = [int(t) for t in args.compare_threads.split(",")]
    engines = {"fp32": Engine(loader.load(args.model, dtype="float32")), "int8": Engine(loader.load(args.model, dtype="int8"))}
    params = request(args)
    prompt = engines["fp32"].prompt_ids(MESSAGES)

    def on(threads: int, engine: Engine):
        torch.set_num_threads(threads)
        return run_engine(engine, params, prompt)

    runners = {f"{d} {t}t": partial(on, t, e) for d, e in engines.items() for t in counts}
    print(f"\nthreads {counts}, interop {torch.get_num_interop_threads()}; {os.cpu_count()} cpus; code {code_version()}; "
          f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}; {args.rounds} rounds x {args.tokens} tokens; "
          f"load average at start {os.getloadavg()[0]:.2f}")
    rates, steps, _ = interleave(runners, args.rounds)
    for d in engines:
        ratio = lambda t, d=d: statistics.median(x / y for x, y in zip(rates[f"{d} {t}t"], rates[f"{d} {counts[0]}t"]))  # noqa: E731
        print(f"{d}: " + ", ".join(f"{t} threads / {counts[0]}: {ratio(t):.3f} (step median "
                                   f"{statistics.median(steps[f'{d} {t}t']):.1f} ms)" for t in counts))
    print(f"load average at end {os.getloadavg()[0]:.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="float32,bfloat16", help="comma-separated: float32, bfloat16, auto")
    ap.add_argument("--tokens", type=int, default=64, help="tokens per run (default 64)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds, each one run of every decoder (default 5)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's, one per core)")
    ap.add_argument("--model", default=None, help="model id or folder (default: the bundled SmolLM2-135M-Instruct)")
    ap.add_argument("--int8", action="store_true", help="float32 against int8 weights (engine and generate() on each)")
    ap.add_argument("--compare-threads", metavar="N,M", help="the engine (fp32, int8) on these thread counts, interleaved")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.int8 or args.compare_threads:
        bench_threads(args) if args.compare_threads else bench_int8(args)
        return 0
    results = {dt: bench_dtype(args, dt) for dt in args.dtype.split(",")}
    print()
    for dt, r in results.items():
        print(f"{dt}: fast/generate {r['fast']:.3f}, eager/generate {r['eager']:.3f}, identical fast=eager "
              f"{r['same']['fast=eager']}/{args.rounds}")
    print(llama_cpp_note())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
