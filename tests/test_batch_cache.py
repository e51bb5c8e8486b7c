"""The batch's KV cache (playground/batch.py `SlabLayer`): a step writes in place into spare room, rows leave
and new replies take their places, and every reply still decodes its solo tokens; the chain's stages that skip
their defensive copy (sampling.PURE) really leave their input alone."""

from __future__ import annotations

import pytest
import torch
from transformers.cache_utils import DynamicLayer

from playground import sampling
from playground.batch import ROOM, SlabLayer
from playground.params import build
from playground.scheduler import Scheduler, Waiting
from tests.test_scheduler import decoder, drain, same_reply, solo


def test_a_step_writes_in_place_until_the_room_runs_out():
    keys, values = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 5, 4)
    slab, plain = SlabLayer.of(keys, values), DynamicLayer()
    plain.update(keys, values)
    buffer = slab.kbuf
    for step in range(ROOM + 3):
        k, v = torch.randn(2, 3, 1, 4), torch.randn(2, 3, 1, 4)
        got, want = slab.update(k, v), plain.update(k, v)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
        # the same buffer while it has room: no copy of the layer a step; a new one (with room again) once it is full
        assert (slab.kbuf is buffer) == (step < ROOM)
    assert slab.get_seq_length() == 5 + ROOM + 3 and slab.kbuf.shape[2] == 5 + 2 * ROOM


def test_pure_stages_leave_their_input_alone():
    """Every stage that skips the copy (its class in sampling.PURE) returns a new tensor and leaves the scores it got."""
    params = build(temperature=0.7, top_k=40, top_p=0.9, min_p=0.05, typical_p=0.9, epsilon_cutoff=1e-4, eta_cutoff=1e-3,
                   min_new_tokens=5, sampler_order="temperature,top_k,top_p,min_p,typical_p,epsilon,eta")
    stages = sampling.build_stages(params, 3, [0], bias_ids={7: 2.0})
    pure = [s for s in stages if type(s.processor).__name__ in sampling.PURE]
    assert len(pure) == 9  # every class in PURE is checked here
    ids = torch.tensor([[5, 6, 7, 8]])
    for stage in pure:
        scores = torch.randn(1, 49152)
        before = scores.clone()
        out = stage(ids, scores)
        assert torch.equal(scores, before) and out.data_ptr() != scores.data_ptr()


@pytest.mark.model
def test_a_new_reply_takes_the_place_of_one_that_left(engine):
    """Batch of 3: a short reply leaves, a waiting one takes its place (its row joins a running batch whose cache
    is a slab), a long one outgrows the slab's room; each reply's tokens and record are its solo ones."""
    cases = [("Hi", dict(seed=11, max_new_tokens=4, min_new_tokens=4)),
             ("Tell me a long story about a dragon", dict(seed=12, max_new_tokens=ROOM + 10, min_new_tokens=ROOM + 10)),
             ("Count to twenty", dict(seed=13, temperature=0.8, top_k=30, max_new_tokens=20)),
             ("Name a colour", dict(seed=14, top_p=0.9, max_new_tokens=12))]

    solos = [solo(engine, c) for c in cases]
    sched = Scheduler(engine.model, batch_size=3)
    jobs = [sched.submit(decoder(engine, c), user=str(i)) for i, c in enumerate(cases)]
    late = drain(jobs[3])
    assert isinstance(late[0], Waiting)  # it waited for a place
    for job in jobs[:3]:
        drain(job)
    for alone, job in zip(solos, jobs):
        same_reply(job.dec, alone)
    assert len(jobs[1].dec.steps) == ROOM + 10
