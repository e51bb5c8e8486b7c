"""The last reply of a session (`Reply`, its session state): the conversation it answers, its branches
(Decoders, or a replayed reply's records) and the step the inspector shows.

Chat replies (chat.py) start it, the token inspector (inspector.py) steps, forces and branches it, and
the step view (step_view.py) reads it; `lock` is held while a Decoder steps, so two model events never
step the same one at once. `free` drops what its branches keep when the visitor leaves (sessions.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ..decoder import Decoder
from ..scheduler import Job, give_back_memory
from .i18n import tr
from .messages import shown

MAX_BRANCHES = 12


@dataclass(eq=False)
class Reply:
    """The last reply: the conversation it answers, its branches (Decoders) and which one is shown.

    `origins[b]` is (parent branch, step) for a branch made by `Decoder.branch`, None for the first;
    `selected` is the step the inspector shows (None: none); `lock` is held while a Decoder steps, so
    two model events never step the same one at once."""

    convo: list[dict]  # the history before the reply (shown form), ending with the user turn
    decoders: list[Decoder]
    labels: list[str]
    origins: list[tuple[int, int] | None]
    current: int = 0
    selected: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    job: Job | None = None  # the scheduler's job while the first branch streams

    def settle(self, timeout: float = 30.0) -> bool:
        """Stop the streaming first branch (if it still streams) and wait until the scheduler let it go."""
        if self.job is None or self.job.finished:
            return True
        self.job.cancel.set()
        return self.job.left.wait(timeout)

    def free(self) -> None:
        """The visitor left: stop decoding and drop everything the branches keep (caches, logits, steps)."""
        self.settle()
        for dec in self.decoders:
            dec.release()
            dec.logits, dec.logit_history = None, []
            dec.steps.clear()
        give_back_memory()

    @classmethod
    def start(cls, convo: list[dict], dec: Decoder) -> Reply:
        return cls(list(convo), [dec], [tr("1: original")], [None])

    @property
    def dec(self) -> Decoder:
        return self.decoders[self.current]

    def add(self, dec: Decoder, label: str, at: int) -> None:
        """A branch of the shown one from step `at`, shown from now on."""
        if len(self.decoders) >= MAX_BRANCHES:
            raise ValueError(f"this reply has {MAX_BRANCHES} branches, the most kept. Send or Regenerate to start anew.")
        self.decoders.append(dec)
        self.labels.append(f"{len(self.labels) + 1}: {label}")
        self.origins.append((self.current, at))
        self.current = len(self.decoders) - 1

    def owner(self, k: int) -> Decoder:
        """The Decoder that chose step k of the shown branch (with its own parameters)."""
        b = self.current
        while self.origins[b] is not None and k < self.origins[b][1]:
            b = self.origins[b][0]
        return self.decoders[b]

    def text(self, dec: Decoder | None = None) -> str:
        dec = dec or self.dec
        if dec.done:
            return dec.result().text
        return dec.steps[-1].text if dec.steps else ""

    def history(self) -> list[dict]:
        return self.convo + [{"role": "assistant", "content": shown(self.text())}]
