"""Batched decoding for many replies at once: one forward pass per step over every active reply.

The app's replies go through one `Scheduler`. A reply (a `Decoder`) is submitted as a `Job`, and one
background thread runs this loop:
 1. Admit waiting jobs into the free places of the batch, users in turn (first come, first served,
    one reply in flight per user). Their prompts run a few at a time (one reply alone: exactly as a solo
    decode; several new ones: one left-padded pass, `Batch.prefill`), and each reply takes its first
    step on its first logits at once, its first token sent before the next prompts run: with many
    replies arriving together, the first ones need not wait for all the prompts. Then their KV caches
    join the batch's together, left-padded to a common length (one copy for all).
 2. Every other active reply takes its step on its own logits: its own chain, generator, stop strings
    and record (`Decoder.advance`), exactly as when decoding alone.
 3. Replies that ended or were cancelled leave; a reply that had its turn (`quantum` steps) while
    others wait gives its place up and queues again, its cache leaving the batch with it.
 4. One batched forward pass over the last token of every remaining reply (an attention mask over the
    padding, each row at its own position) gives each reply its next logits.

A batched forward (a step, or a padded prompt pass) is not bit-identical to a solo one (a product over 8
rows adds in another order than over 1): logits differ by about 1e-5 (a prompt pass: up to ~7e-5), which
can flip a near-tie (bench/RESULTS.md measures how often).
A reply's record is what it sampled from, always.
"""

from __future__ import annotations

import atexit
import ctypes
import heapq
import itertools
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from . import fast
from .batch import Batch
from .decoder import Decoder
from .records import Step

TRIM_EVERY = 128  # batched steps between two give_back_memory() calls while replies keep leaving


def give_back_memory() -> None:
    """Hand the memory freed tensors left in glibc's arenas back to the system (`malloc_trim`).

    Every step grows each KV cache by concatenation, so a batch frees many large blocks; glibc keeps
    them for reuse, and the server's resident memory held ~730 MB of them after 32 sessions of 200
    tokens (2039 MB before the trim, 1307 MB after, measured in process). Elsewhere than glibc: nothing."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class QueueFull(RuntimeError):
    """More replies wait than the instance's `queue_size` cap allows."""


@dataclass
class Waiting:
    """A queued job's place: `ahead` jobs before it, and an estimate of the wait from the measured step rate."""

    ahead: int
    seconds: float | None


@dataclass(eq=False)
class Job:
    dec: Decoder
    user: str
    cancel: threading.Event = field(default_factory=threading.Event)
    events: queue.SimpleQueue = field(default_factory=queue.SimpleQueue, repr=False)
    turn: int = 0  # steps taken since it last got a place in the batch
    error: BaseException | None = None
    left: threading.Event = field(default_factory=threading.Event, repr=False)  # set once it left for good
    told: tuple[int, float] = (-1, 0.0)  # the last place sent to the caller, and when
    seq: int = 0  # the order of submission

    @property
    def finished(self) -> bool:
        """It left the scheduler for good (ended, cancelled or failed)."""
        return self.left.is_set()

    def updates(self, poll: float = 0.5) -> Iterator[Step | Waiting]:
        """Each `Step` as it is decoded (and `Waiting` while queued) until the job leaves; raises its error."""
        while True:
            try:
                item = self.events.get(timeout=poll)
            except queue.Empty:
                continue
            if item is None:
                if self.error is not None:
                    raise self.error
                return
            yield item

    def latest(self, poll: float = 0.5) -> Iterator[Step | Waiting]:
        """Like `updates`, but a reader that fell behind gets only the newest of what piled up (a Step
        over a Waiting): a page needs the reply as it is now, not every token's redraw."""
        items = self.updates(poll)
        for item in items:
            newer = [item]
            while True:
                try:
                    more = self.events.get_nowait()
                except queue.Empty:
                    break
                if more is None:  # the end: hand it back for `updates` to finish on
                    self.events.put(None)
                    break
                newer.append(more)
            steps = [x for x in newer if isinstance(x, Step)]
            yield steps[-1] if steps else newer[-1]


class Scheduler:
    """Decodes every submitted reply in one batch on one thread; see the module docstring."""

    def __init__(self, model, batch_size: int = 16, queue_size: int = 64, quantum: int = 32):
        self.batch_size, self.queue_size, self.quantum = batch_size, queue_size, quantum
        self.batch = Batch(model)
        self.waiting: deque[Job] = deque()
        self.cond = threading.Condition()
        self.step_seconds = 0.05  # a running mean of one batched step, for the wait estimate
        self.forwards = 0  # batched forward passes run (tests count them)
        self.submitted = 0
        self._thread: threading.Thread | None = None
        self._closing = False
        self._trimmed = 0  # `forwards` at the last give_back_memory()
        atexit.register(self.close)

    # --- the callers' side -------------------------------------------------------------------------
    def submit(self, dec: Decoder, user: str = "", cancel: threading.Event | None = None) -> Job:
        """Queue a reply; raises QueueFull when `queue_size` replies already wait."""
        job = Job(dec, user, cancel or threading.Event())
        with self.cond:
            self.submitted += 1
            job.seq = self.submitted
            if len(self.waiting) >= self.queue_size:
                raise QueueFull(f"the queue is full: {len(self.waiting)} replies are waiting, the most this instance "
                                f"allows (its queue_size cap). Try again in a moment.")
            self.waiting.append(job)
            self._tell_place(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="playground-scheduler", daemon=True)
                self._thread.start()
            self.cond.notify_all()
        return job

    def resize(self, batch_size: int, queue_size: int) -> None:
        """New caps (the instance's `Limits`); replies already in the batch finish where they are."""
        with self.cond:
            self.batch_size, self.queue_size = batch_size, queue_size
            self.cond.notify_all()

    def cancel_user(self, user: str) -> int:
        """Cancel every reply of `user` (waiting or in the batch); they leave at the next step. Returns how many."""
        with self.cond:
            jobs = [j for j in [*self.waiting, *self.batch.jobs] if j.user == user]
            for job in jobs:
                job.cancel.set()
            self.cond.notify_all()
        return len(jobs)

    @property
    def active(self) -> int:
        return len(self.batch.jobs)

    def _place(self, job: Job) -> Waiting:
        """How many jobs are ahead of `job`, and about how long until it starts: the places of the batch
        turning over (a reply leaves when it ends or its turn is over) at the measured step time."""
        ahead = list(itertools.takewhile(lambda j: j is not job, self.waiting))
        turn = lambda j: min(j.dec.budget - len(j.dec.steps), max(self.quantum - j.turn, 1))  # noqa: E731
        places = [0] * (self.batch_size - len(self.batch.jobs)) + [turn(j) for j in self.batch.jobs]
        heapq.heapify(places)
        for other in ahead:
            heapq.heappush(places, heapq.heappop(places) + turn(other))
        return Waiting(len(ahead), places[0] * self.step_seconds)

    # --- the loop ------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the loop after its current step (at exit: a torch op cut off by the interpreter aborts it)."""
        with self.cond:
            self._closing = True
            self.cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            with self.cond:
                while not self.waiting and not self.batch.jobs and not self._closing:
                    self.cond.wait()
                if self._closing:
                    return
                admit = self._admissions()
            start = time.perf_counter()
            try:
                with torch.inference_mode():
                    self._step(admit)
            except Exception as e:  # the model failed: every reply in the batch (or on its way in) ends with the error
                with self.cond:
                    for job in [*self.batch.jobs, *admit]:
                        if not job.finished and job not in self.waiting:
                            self._finish(job, e)
                self.batch.keep([], [])
                continue
            if self.batch.jobs:
                self.step_seconds = 0.8 * self.step_seconds + 0.2 * (time.perf_counter() - start)

    def _admissions(self) -> list[Job]:
        """Cancelled waiting jobs leave; then, users in turn, the jobs that get a free place."""
        for job in [j for j in self.waiting if j.cancel.is_set()]:
            self.waiting.remove(job)
            self._finish(job)
        busy = {j.user for j in self.batch.jobs}
        first = {}  # each user's earliest reply: only it may start (one in flight per user, in their order)
        for job in self.waiting:
            first[job.user] = min(first.get(job.user, job.seq), job.seq)
        admit = []
        for job in list(self.waiting):
            if len(self.batch.jobs) + len(admit) >= self.batch_size:
                break
            if job.user in busy or job.seq != first[job.user]:  # a second reply waits behind the first
                continue
            busy.add(job.user)
            admit.append(job)
            self.waiting.remove(job)
        for job in self.waiting:
            self._tell_place(job)
        return admit

    def _tell_place(self, job: Job) -> None:
        """Send a queued job its place when it changed, or at most once a second."""
        place, now = self._place(job), time.monotonic()
        if place.ahead != job.told[0] or now - job.told[1] >= 1.0:
            job.told = (place.ahead, now)
            job.events.put(place)

    def _step(self, admit: list[Job]) -> None:
        # 1. New replies, users in turn: their prompts (a few at once in one padded pass, `Batch.prefill`); each
        #    takes its first step on them at once (its first token sent) before the next prompts run. Then they
        #    join the batch, all in one copy.
        for dec in (job.dec for job in admit):
            if dec.logits is not None and (dec.cache is None or fast.seq_len(dec.cache) != dec.ids.shape[1]):
                dec.logits = None  # known logits but no cache for them (a branch of an ended reply): run it all
                dec.release()
        runs = []
        for run in self.batch.groups(admit):
            try:  # the prompt, or a reply that gave its place up: its last token (no-op when known)
                block = self.batch.prefill(run)
            except Exception as e:  # the model failed on these prompts: these replies end with the error
                for job in run:
                    self._finish(job, e)
                continue
            for job in run:
                job.turn = 0
                self._advance(job)
            runs.append((run, block))
        self.batch.join(runs)
        # 2. Every other reply takes its step on its own logits.
        new = {id(job) for run, _ in runs for job in run}
        for job in self.batch.jobs:
            if id(job) not in new:
                self._advance(job)
        # 3. Ended, failed and cancelled replies leave; a reply whose turn is over gives its place up.
        with self.cond:
            eligible = {j.user for j in self.waiting} - {j.user for j in self.batch.jobs}
            over = sorted((j for j in self.batch.jobs if j.turn >= self.quantum), key=lambda j: -j.turn)
            yielding = over[:len(eligible)] if len(self.batch.jobs) >= self.batch_size else []
            gone = [j for j in self.batch.jobs if j.dec.done or j.cancel.is_set() or j.error or j in yielding]
            stay = [j for j in self.batch.jobs if j not in gone]
            self.batch.keep(stay, [j for j in gone if not j.dec.done and not j.error])
            for job in gone:
                if job in yielding and not job.cancel.is_set():
                    self.waiting.append(job)
                    self._tell_place(job)
                else:
                    self._finish(job, job.error)
        # 4. One forward pass for all that remain (and now and then, memory the steps freed back to the system).
        if gone and (not self.batch.jobs or self.forwards - self._trimmed >= TRIM_EVERY):
            self._trimmed = self.forwards
            give_back_memory()
        if self.batch.jobs:
            start = time.perf_counter()
            self.batch.forward()
            self.forwards += 1
            spent = time.perf_counter() - start
            for job in self.batch.jobs:  # each reply waited the whole pass (tokens/s counts decode, not the prompt)
                job.dec.seconds += spent

    def _advance(self, job: Job) -> None:
        """The reply's step on its logits (`Decoder.advance`), sent to its caller; a failure ends it at step 3."""
        if job.cancel.is_set() or job.dec.done:
            return
        try:
            job.events.put(job.dec.advance())
            job.turn += 1
        except Exception as e:
            job.error = e

    def _finish(self, job: Job, error: BaseException | None = None) -> None:
        job.error = error
        job.events.put(None)
        job.left.set()
