"""A reply read back from a session file: the records only, shown read-only without the model.

`Recorded` stands where the inspector expects a `Decoder` (`ui/reply.Reply.decoders`): its steps are the
file's `records.Step`s (each step's candidates and chain rows), it has ended, and it keeps no logits,
so the inspector shows every step from its record (`step_view`'s record-only path) and never runs the
model. Anything that would go on with it (Step, Branch, Force) is refused with a `ValueError` that says
why and what to do instead; the handlers show that message.
"""

from __future__ import annotations

from .params import GenerationParams
from .records import Done, Step

READ_ONLY = ("this reply was opened from a session file and is read-only (replayed from its records, the model is not run). "
             "Regenerate, or type a message, to make a new reply with the model")


class Recorded:
    """The Decoder face of a replayed reply: its records, ended, no logits, no KV cache."""

    def __init__(self, steps: list[Step], params: GenerationParams, text: str, finish: str | None, seed: int | None):
        self.steps, self.params, self.text = list(steps), params, text
        self.finish = finish or "eos"
        self.seed = seed
        self.prompt: list[int] = []
        self.logits, self.logit_history, self.keep_logits = None, [], 0

    @property
    def done(self) -> bool:
        return True

    @property
    def token_ids(self) -> list[int]:
        return [s.token_id for s in self.steps]

    def result(self) -> Done:
        return Done(self.text, self.finish, self.token_ids, self.seed, 0.0, 0, None, self.steps)

    def has_logits(self, k: int) -> bool:
        return False

    def logits_at(self, k: int) -> None:
        return None

    def peek(self) -> bool:
        """Nothing comes next: the reply has ended."""
        return False

    def params_at(self, k: int) -> GenerationParams:
        return (self.steps[k].params if 0 <= k < len(self.steps) else None) or self.params

    def release(self) -> None:
        """Nothing to free but the records (`Reply.free` clears them)."""

    def _refuse(self, *args, **kwargs):
        raise ValueError(READ_ONLY + ".")

    trace_at = branch = retune = step = advance = next_logits = _refuse
