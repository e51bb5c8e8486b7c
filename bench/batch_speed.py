"""Batched decoding in process (no HTTP, no gradio): tokens/s of the scheduler with 1, 4, 8, 16 replies at once.

Each reply: its own prompt and seed, 32 tokens (min_new_tokens = max_new_tokens), recorded as the app
records it (`report=True`, 100 candidates a step, the latest 32 steps' logits kept). Prints tok/s, the
ratio to one reply, and the mean batched step time.

    python bench/batch_speed.py [--dtype float32] [--sizes 1,4,8,16] [--tokens 32]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from playground import loader  # noqa: E402
from playground.engine import Engine  # noqa: E402
from playground.params import build  # noqa: E402
from playground.scheduler import Scheduler  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--sizes", default="1,4,8,16")
    ap.add_argument("--tokens", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("PLAYGROUND_THREADS", "2")))
    engine = Engine(loader.load(dtype=args.dtype))
    print(f"{args.dtype}, {args.tokens} tokens a reply\n\n| replies | tok/s | vs 1 | step ms |\n|---|---|---|---|")
    one = None
    for size in (int(x) for x in args.sizes.split(",")):
        sched = Scheduler(engine.model, batch_size=size, quantum=10_000)
        start = time.perf_counter()
        settings = dict(max_new_tokens=args.tokens, min_new_tokens=args.tokens)
        jobs = [sched.submit(engine.decoder([{"role": "user", "content": f"Tell me about the number {i}."}],
                                            build(seed=i, **settings), top_n=100, report=True, keep_logits=32), user=str(i))
                for i in range(size)]
        for job in jobs:
            for _ in job.updates(poll=0.02):
                pass
        rate = size * args.tokens / (time.perf_counter() - start)
        one = one or rate
        print(f"| {size} | {rate:.1f} | {rate / one:.2f}x | {sched.step_seconds * 1000:.0f} |")
        sched.close()


if __name__ == "__main__":
    main()
