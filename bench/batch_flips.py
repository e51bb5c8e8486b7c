"""How often a batched reply differs from the same reply decoded alone (issue 14: near-tie flips).

A batched forward pass is not bit-identical to a solo one (a matrix product over 8 rows adds in another
order than over 1), so a reply whose sampled draw or argmax sits on a near-tie could take the other
token. This runs random parameter sets (the equivalence tests' `draw`, with stop strings added) solo and
in batches of `--batch`, in fp32 and bf16, and reports the replies that are identical, the ones that
part, the step where they part and the gap between the two tokens' probabilities there.

    python bench/batch_flips.py [--cases 48] [--tokens 48] [--batch 8] [--dtypes float32,bfloat16]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from playground import loader  # noqa: E402
from playground.engine import Engine  # noqa: E402
from playground.params import build  # noqa: E402
from playground.scheduler import Scheduler  # noqa: E402
from tests.test_equivalence import PROMPTS, draw  # noqa: E402


def cases(n: int, tokens: int, vocab: int) -> list[tuple[list[dict], dict]]:
    rng = random.Random(14)
    out = []
    for i in range(n):
        settings = draw(rng, vocab)
        settings.update(max_new_tokens=tokens, seed=1000 + i)
        settings["min_new_tokens"] = min(settings.get("min_new_tokens", 0), tokens)
        if rng.random() < 0.3:
            settings["stop"] = [rng.choice(["\n", ".", " the"])]
        out.append((PROMPTS[i % len(PROMPTS)], settings))
    return out


def run(engine: Engine, todo, batch: int) -> tuple[list, list, float, float]:
    def decoder(case):
        return engine.decoder(case[0], build(case[1]), top_n=20)

    start = time.perf_counter()
    solos = []
    for case in todo:
        dec = decoder(case)
        while not dec.done:
            dec.step()
        solos.append(dec)
    solo_s = time.perf_counter() - start
    sched = Scheduler(engine.model, batch_size=batch)
    start = time.perf_counter()
    jobs = [sched.submit(decoder(c), user=str(i)) for i, c in enumerate(todo)]
    for job in jobs:
        for _ in job.updates(poll=0.02):
            pass
    batch_s = time.perf_counter() - start
    sched.close()
    return solos, [j.dec for j in jobs], solo_s, batch_s


def parting(a, b) -> tuple[int, float] | None:
    """(step, |p_a - p_b| of the two chosen tokens under the solo record) where two replies part, or None."""
    for k, (x, y) in enumerate(zip(a.steps, b.steps)):
        if x.token_id != y.token_id:
            probs = {c.id: c.prob_final for c in x.candidates}
            return k, abs(probs.get(x.token_id, 0.0) - probs.get(y.token_id, 0.0))
    if len(a.steps) != len(b.steps):
        return min(len(a.steps), len(b.steps)), 0.0
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=48)
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--dtypes", default="float32,bfloat16")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("PLAYGROUND_THREADS", "2")))
    print("| dtype | replies | identical | parted | tokens | solo tok/s | batched tok/s | where they part (step: prob gap) |")
    print("|---|---|---|---|---|---|---|---|")
    for dtype in args.dtypes.split(","):
        engine = Engine(loader.load(dtype=dtype))
        todo = cases(args.cases, args.tokens, engine.vocab)
        solos, batched, solo_s, batch_s = run(engine, todo, args.batch)
        parts = [parting(a, b) for a, b in zip(solos, batched)]
        tokens = sum(len(d.steps) for d in solos)
        where = ", ".join(f"{k}: {gap:.2g}" for k, gap in (p for p in parts if p)) or "-"
        print(f"| {dtype} | {len(todo)} | {parts.count(None)} | {len(todo) - parts.count(None)} | {tokens} | "
              f"{tokens / solo_s:.1f} | {sum(len(d.steps) for d in batched) / batch_s:.1f} | {where} |")


if __name__ == "__main__":
    main()
