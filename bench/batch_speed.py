"""Batched decoding in process (no HTTP, no gradio): tokens/s of the scheduler with 1, 4, 8, 16 replies at once.

Each reply: its own prompt and seed, 32 tokens (min_new_tokens = max_new_tokens), recorded as the app
records it (`report=True`, 100 candidates a step, the latest 32 steps' logits kept). Prints tok/s, the
ratio to one reply, and the mean batched step time; also tokens per second of the process's CPU time and
its ratio (with `--threads 1` the decode's cost on one core, which other processes on the machine disturb
far less than the wall time).

`--split`: instead, one batch per size driven step by step (no scheduler thread), and the time of a
step split into the forward pass and each reply's chain (`sampling.run`), draw (`pick.choose`, the
multinomial) and record (`Decoder._record`: the top candidates, the chain table, the labels), the rest
of `advance` (stop strings, ids) as "other". Times are the thread's CPU time with `--threads 1` (robust
to other processes on the cores), wall time otherwise.

    python bench/batch_speed.py [--dtype float32] [--sizes 1,4,8,16] [--tokens 32] [--threads 2] [--split]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from playground import decoder as decoding  # noqa: E402
from playground import loader, sampling  # noqa: E402
from playground.batch import Batch  # noqa: E402
from playground.engine import Engine  # noqa: E402
from playground.params import build  # noqa: E402
from playground.scheduler import Job, Scheduler  # noqa: E402


def replies(engine, size: int, tokens: int) -> list:
    settings = dict(max_new_tokens=tokens, min_new_tokens=tokens)
    return [engine.decoder([{"role": "user", "content": f"Tell me about the number {i}."}], build(seed=i, **settings),
                           top_n=100, report=True, keep_logits=32) for i in range(size)]


def split(engine, sizes: list[int], tokens: int, clock) -> None:
    """Per batched step: the forward pass, then the replies' chain, draw, record and the rest of `advance`, in ms."""
    spent = dict(chain=0.0, draw=0.0, record=0.0)

    def timed(name, fn):
        def run(*a, **kw):
            start = clock()
            try:
                return fn(*a, **kw)
            finally:
                spent[name] += clock() - start
        return run

    decoding.sampling.run = timed("chain", sampling.run)
    decoding.Decoder._record = timed("record", decoding.Decoder._record)
    for pick in (sampling.SamplePick, sampling.GreedyPick):
        pick.choose = timed("draw", pick.choose)
    print("| replies | forward | chain | draw | record | other | step | a reply's own |\n" + "|---" * 8 + "|")
    for size in sizes:
        batch, decs = Batch(engine.model), replies(engine, size, tokens)
        forward = advance = 0.0
        with torch.inference_mode():
            for dec in decs:
                dec.next_logits()
                batch.join(Job(dec, str(id(dec))))
            for step in range(tokens - 1):
                if step == 3:  # warmed up: count from here
                    forward, advance, spent.update(chain=0.0, draw=0.0, record=0.0)
                start = clock()
                for dec in decs:
                    dec.advance()
                middle = clock()
                batch.forward()
                forward, advance = forward + clock() - middle, advance + middle - start
        n = tokens - 4
        ms = {k: v / n * 1000 for k, v in dict(forward=forward, **spent, other=advance - sum(spent.values())).items()}
        print(f"| {size} | " + " | ".join(f"{v:.1f}" for v in ms.values()) +
              f" | {(forward + advance) / n * 1000:.1f} | {(advance / n / size) * 1000:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--sizes", default="1,4,8,16")
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("PLAYGROUND_THREADS", "2")))
    ap.add_argument("--split", action="store_true", help="split a batched step's time (see the docstring)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    engine = Engine(loader.load(dtype=args.dtype))
    if args.split:
        clock = time.thread_time if args.threads == 1 else time.perf_counter
        print(f"{args.dtype}, {args.threads} thread(s), {'CPU' if args.threads == 1 else 'wall'} ms per batched step\n")
        return split(engine, [int(x) for x in args.sizes.split(",")], args.tokens, clock)
    print(f"{args.dtype}, {args.threads} thread(s), {args.tokens} tokens a reply\n\n"
          "| replies | tok/s | vs 1 | step ms | tok per CPU-s | vs 1 |\n" + "|---" * 6 + "|")
    one = one_cpu = None
    for size in (int(x) for x in args.sizes.split(",")):
        sched = Scheduler(engine.model, batch_size=size, quantum=10_000)
        start, cpu = time.perf_counter(), time.process_time()
        jobs = [sched.submit(dec, user=str(i)) for i, dec in enumerate(replies(engine, size, args.tokens))]
        for job in jobs:
            for _ in job.updates(poll=0.02):
                pass
        rate, per_cpu = size * args.tokens / (time.perf_counter() - start), size * args.tokens / (time.process_time() - cpu)
        one, one_cpu = one or rate, one_cpu or per_cpu
        print(f"| {size} | {rate:.1f} | {rate / one:.2f}x | {sched.step_seconds * 1000:.0f} | {per_cpu:.1f} | "
              f"{per_cpu / one_cpu:.2f}x |")
        sched.close()


if __name__ == "__main__":
    main()
