"""The batch's output layer (playground/batch.py `_head`): oneDNN on a packed copy of the weight (fp32 on CPU),
`weight @ hidden.T` otherwise. Its logits stay within ~1e-5 of a solo step's, and replies decoded in a batch
take their solo tokens, candidates and chain tables (issue 14's throughput, bench/RESULTS.md)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from playground import batch
from playground.params import build
from playground.scheduler import Scheduler


def test_an_unpackable_weight_falls_back_to_the_plain_product():
    assert batch._pack(torch.randn(8, 4, dtype=torch.bfloat16)) is None
    packed = batch._pack(torch.randn(64, 16))
    assert packed is None or packed.shape == (64, 16)  # None on a torch without oneDNN


@pytest.mark.model
def test_the_packed_head_gives_the_solo_logits_tokens_and_records(engine):
    head = batch._head(engine.model)
    assert head is not None and batch._PACKED[engine.model] is not None  # the bundled model in fp32 is packed
    weight = engine.model.get_output_embeddings().weight
    hidden = torch.randn(8, weight.shape[1]) * 3
    with torch.inference_mode():
        solo = torch.cat([F.linear(hidden[i:i + 1], weight) for i in range(8)])
        for rows in (slice(0, 8), slice(2, 5), slice(6, 8)):  # any batch size reads the same packed copy
            got = head(hidden[rows])
            assert got.shape == solo[rows].shape and float((got - solo[rows]).abs().max()) < 1e-4

    cases = [("Name a fruit", dict(seed=1, max_new_tokens=10, min_new_tokens=10)),
             ("Count to five", dict(seed=2, temperature=0.7, top_k=30, top_p=0.9, max_new_tokens=10)),
             ("Say hi", dict(seed=3, do_sample=False, repetition_penalty=1.2, max_new_tokens=8))]

    def decoder(case):
        return engine.decoder([{"role": "user", "content": case[0]}], build(case[1]), top_n=30, report=True, keep_logits=True)

    solos = []
    for case in cases:
        dec = decoder(case)
        while not dec.done:
            dec.step()
        solos.append(dec)
    sched = Scheduler(engine.model, batch_size=3)
    jobs = [sched.submit(decoder(c), user=str(i)) for i, c in enumerate(cases)]
    for job in jobs:
        list(job.updates(poll=0.05))
    sched.close()
    for alone, job in zip(solos, jobs):
        dec = job.dec
        assert dec.token_ids == alone.token_ids and dec.finish == alone.finish
        for k, (x, y) in enumerate(zip(dec.steps, alone.steps)):
            assert float((dec.logit_history[k] - alone.logit_history[k]).abs().max()) < 1e-4
            assert [c.id for c in x.candidates] == [c.id for c in y.candidates]
            assert [(r["stage"], r["kept"], [t for t, _ in r["top_after"]]) for r in x.stages] == \
                [(r["stage"], r["kept"], [t for t, _ in r["top_after"]]) for r in y.stages]
            assert x.prob == pytest.approx(y.prob, abs=1e-4)
