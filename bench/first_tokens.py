"""Time to first token in process (no HTTP, no gradio): N replies submitted to the scheduler together.

Each reply: bench/load.py's prompt for its user, 32 tokens (min_new_tokens = max_new_tokens), recorded as
the app records it (`report=True`, 100 candidates a step, the latest 32 steps' logits kept). All N are
queued before the scheduler's loop may admit any (they are admitted together, as a room's Sends are when
they arrive during a step). For each reply: the scheduler thread's CPU time and the wall time from the
loop's start to its first token being sent; then p50/p95, when the last reply ended, tokens per CPU
second, and every reply's first-token CPU time. With `--threads 1` CPU time is the decode's cost on one
core, which other processes on the machine disturb far less than the wall time. A warm-up round first.

    python bench/first_tokens.py [--users 16] [--tokens 32] [--threads 1] [--rounds 2] [--prefill-tokens N]

`--prefill-tokens` sets `playground.batch.PREFILL_TOKENS` (0: every prompt runs alone; large: one pass).
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from bench.load import percentile, prompt  # noqa: E402
from playground import batch, loader  # noqa: E402
from playground.engine import Engine  # noqa: E402
from playground.params import build  # noqa: E402
from playground.records import Step  # noqa: E402
from playground.scheduler import Scheduler  # noqa: E402


class Timed(queue.SimpleQueue):
    """A job's event queue that notes (thread CPU time, wall time) when its first token and its end are put."""

    def __init__(self):
        self.first = self.end = None

    def put(self, item, block=True, timeout=None):
        if (isinstance(item, Step) and item.step == 0) or item is None:
            at = (time.thread_time(), time.perf_counter())
            self.first, self.end = (at, self.end) if item is not None else (self.first, at)
        super().put(item, block, timeout)


def one_round(engine: Engine, users: int, tokens: int) -> dict:
    sched, start = Scheduler(engine.model, batch_size=16), []
    loop = sched._loop
    sched._loop = lambda: (start.append((time.thread_time(), time.perf_counter())), loop())
    settings = dict(max_new_tokens=tokens, min_new_tokens=tokens)
    decs = [engine.decoder([{"role": "user", "content": prompt(i)}], build(seed=i, **settings), top_n=100, report=True,
                           keep_logits=32) for i in range(users)]
    with sched.cond:  # the loop admits nothing until every reply waits
        jobs = [sched.submit(dec, user=str(i)) for i, dec in enumerate(decs)]
        for job in jobs:
            job.events = Timed()
    for job in jobs:
        for _ in job.updates(poll=0.02):
            pass
    sched.close()
    cpu0, wall0 = start[0]
    cpu = [j.events.first[0] - cpu0 for j in jobs]
    wall = [j.events.first[1] - wall0 for j in jobs]
    end_cpu = max(j.events.end[0] for j in jobs) - cpu0
    return dict(cpu=cpu, wall=wall, end_cpu=end_cpu, end_wall=max(j.events.end[1] for j in jobs) - wall0,
                tok_cpu=sum(len(j.dec.steps) for j in jobs) / end_cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--prefill-tokens", type=int, default=None)
    ap.add_argument("--dtype", default="float32")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.prefill_tokens is not None:
        batch.PREFILL_TOKENS = args.prefill_tokens
    engine = Engine(loader.load(dtype=args.dtype))
    one_round(engine, 2, 2)  # warm-up
    print(f"{args.users} replies at once, {args.tokens} tokens each, {args.threads} thread(s), PREFILL_TOKENS {batch.PREFILL_TOKENS}")
    print("| round | TTFT p50 CPU / wall | TTFT p95 CPU / wall | all ended CPU / wall | tok per CPU-s | first tokens (CPU s) |")
    print("|---|---|---|---|---|---|")
    for k in range(args.rounds):
        r = one_round(engine, args.users, args.tokens)
        p = lambda xs, q: f"{percentile(xs, q):.2f}"  # noqa: E731
        print(f"| {k + 1} | {p(r['cpu'], 50)} / {p(r['wall'], 50)} s | {p(r['cpu'], 95)} / {p(r['wall'], 95)} s | "
              f"{r['end_cpu']:.1f} / {r['end_wall']:.1f} s | {r['tok_cpu']:.1f} | {', '.join(f'{c:.2f}' for c in r['cpu'])} |",
              flush=True)


if __name__ == "__main__":
    main()
