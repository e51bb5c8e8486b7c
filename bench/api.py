"""The OpenAI-compatible API's cost: its overhead against the scheduler called directly, and tokens/s through it.

One process: the real app (page and API on one port, as `app.py` serves it) on a thread, the official
`openai` client on loopback, and the engine's scheduler for the direct calls. Every reply is exactly
`--tokens` long (`min_tokens = max_tokens`), sampled with its own seed.

1. Overhead: `--rounds` rounds, each one direct reply (`engine.decoder` + `scheduler.submit`, read to the
   end) and one API reply (`chat.completions.create`, not streamed) with the same prompt and seed, in
   alternating order; the ratio is API latency / direct latency (median over the rounds, and the
   ratio of the medians). The two give the same text (checked).
2. Throughput: 1 and then 4 clients at once (`--clients`), each asking one reply; aggregate tokens/s
   = all tokens / (first request to last reply).

    python bench/api.py [--tokens 32] [--rounds 5] [--clients 1,4] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

MESSAGES = [{"role": "user", "content": "Write a short story about a lighthouse keeper."}]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=32)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--clients", default="1,4")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    args = p.parse_args()

    import openai
    import torch

    from playground import loader
    from playground.engine import Engine
    from playground.limits import Limits
    from playground.params import build
    from playground.ui.server import Served, build_app
    from tests.browser_util import free_port

    torch.set_num_threads(args.threads)
    engine = Engine(loader.load(dtype="float32"))
    server = Served(*build_app(engine, Limits()), port=free_port()).start()
    client = openai.OpenAI(base_url=server.url + "v1", api_key="unused", max_retries=0, timeout=600)
    model = client.models.list().data[0].id
    settings = dict(temperature=0.8, top_p=0.95, max_tokens=args.tokens)
    extra = {"min_tokens": args.tokens}
    print(f"torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} cpus; load average "
          f"{os.getloadavg()[0]:.2f}; {args.tokens} tokens a reply", flush=True)

    def direct(seed: int) -> str:
        params = build(dict(temperature=0.8, top_p=0.95, max_new_tokens=args.tokens, min_new_tokens=args.tokens, seed=seed))
        job = engine.scheduler.submit(engine.decoder(MESSAGES, params, top_n=0), f"bench-{seed}")
        for _ in job.updates():
            pass
        return job.dec.result().text

    def api(seed: int) -> str:
        reply = client.chat.completions.create(model=model, messages=MESSAGES, seed=seed, extra_body=extra, **settings)
        return reply.choices[0].message.content

    direct(0), api(0)  # warm-up
    ratios, times = [], {"direct": [], "api": []}
    for r in range(args.rounds):
        order = [("direct", direct), ("api", api)] if r % 2 == 0 else [("api", api), ("direct", direct)]
        texts = {}
        for name, fn in order:
            start = time.perf_counter()
            texts[name] = fn(100 + r)
            times[name].append(time.perf_counter() - start)
        ratios.append(times["api"][-1] / times["direct"][-1])
        print(f"round {r + 1}: direct {times['direct'][-1]:.2f} s, api {times['api'][-1]:.2f} s, ratio {ratios[-1]:.3f}, "
              f"same text: {'yes' if texts['direct'] == texts['api'] else 'NO'}", flush=True)
    md, ma = statistics.median(times["direct"]), statistics.median(times["api"])
    print(f"overhead: median ratio {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f}); "
          f"medians direct {md:.2f} s ({args.tokens / md:.1f} tok/s), api {ma:.2f} s ({args.tokens / ma:.1f} tok/s), "
          f"ratio of medians {ma / md:.3f}", flush=True)

    for n in [int(x) for x in args.clients.split(",")]:
        done, barrier = [], threading.Barrier(n)

        def one(i: int, done=done, barrier=barrier):
            barrier.wait()
            done.append(len(api(1000 + i)))

        start = time.perf_counter()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        print(f"{n} client(s): {n * args.tokens} tokens in {wall:.2f} s = {n * args.tokens / wall:.1f} tok/s aggregate "
              f"({args.tokens / wall:.1f} tok/s each); load average {os.getloadavg()[0]:.2f}", flush=True)
    server.close()


if __name__ == "__main__":
    main()
