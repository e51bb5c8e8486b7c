"""The batch's output layer (playground/batch.py `_head`): oneDNN on a packed copy of the weight (fp32 on CPU),
`weight @ hidden.T` otherwise. Its logits stay within ~1e-5 of a solo step's, and replies decoded in a batch
take their solo tokens, candidates and chain tables (issue 14's throughput, bench/RESULTS.md)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from playground import batch
from playground.scheduler import Scheduler
from tests.test_scheduler import decoder, drain, same_reply, solo


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
        plain = torch.cat([F.linear(hidden[i:i + 1], weight) for i in range(8)])
        for rows in (slice(0, 8), slice(2, 5), slice(6, 8)):  # any batch size reads the same packed copy
            got = head(hidden[rows])
            assert got.shape == plain[rows].shape and float((got - plain[rows]).abs().max()) < 1e-4

    cases = [("Name a fruit", dict(seed=1, max_new_tokens=10, min_new_tokens=10)),
             ("Count to five", dict(seed=2, temperature=0.7, top_k=30, top_p=0.9, max_new_tokens=10)),
             ("Say hi", dict(seed=3, do_sample=False, repetition_penalty=1.2, max_new_tokens=8))]
    kw = dict(report=True, keep_logits=True)
    solos = [solo(engine, case, **kw) for case in cases]
    sched = Scheduler(engine.model, batch_size=3)
    jobs = [sched.submit(decoder(engine, c, **kw), user=str(i)) for i, c in enumerate(cases)]
    for job in jobs:
        drain(job)
    sched.close()
    for alone, job in zip(solos, jobs):
        same_reply(job.dec, alone)
        for k, (x, y) in enumerate(zip(job.dec.steps, alone.steps)):
            assert float((job.dec.logit_history[k] - alone.logit_history[k]).abs().max()) < 1e-4
            assert [(r["stage"], r["kept"], [t for t, _ in r["top_after"]]) for r in x.stages] == \
                [(r["stage"], r["kept"], [t for t, _ in r["top_after"]]) for r in y.stages]
