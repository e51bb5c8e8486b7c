"""What a decode reports: a `Step` per token with its `Candidate`s, then a `Done`; `Beam`s for beam search."""

from __future__ import annotations

from dataclasses import dataclass, field


class PromptTooLong(ValueError):
    """The prompt alone does not fit the model's context."""

    @classmethod
    def check(cls, n: int, context: int) -> None:
        if n >= context:
            raise cls(f"the prompt is {n} tokens but the model's context is {context}. "
                      "Shorten the conversation or the system prompt (Undo or Clear).")


@dataclass(slots=True)  # a reply keeps ~100 a step: no per-instance dict
class Candidate:
    id: int
    token: str
    prob_raw: float  # what the model alone gave it
    prob_final: float  # what it was sampled with, after the whole chain
    kept: bool
    removed_by: str | None  # the stage that removed it, or None when kept


@dataclass
class Step:
    step: int
    token_id: int
    token: str
    prob: float  # the probability it was chosen with (after the chain; before argmax when greedy)
    prob_raw: float  # what the model alone gave it
    rank: int  # 1 = the model's most likely token
    candidates: list[Candidate]
    text: str  # the reply so far, safe to show (no half stop string, no half character)
    forced: bool = False
    stages: list[dict] | None = None  # the chain table's rows (inspector.chain_table as dicts), when asked for
    params: object | None = None  # the GenerationParams it was chosen with (a reply can be retuned between steps)
    mu: float | None = None  # mirostat's mu at this step (None without mirostat)
    mu_next: float | None = None  # ... and after it: the next step's


@dataclass
class Done:
    text: str
    finish_reason: str  # "eos", "stop", "length", "cancelled"
    token_ids: list[int]
    seed: int | None
    seconds: float  # decoding time: every step's forward pass and chain, not the prompt's pass
    prompt_tokens: int
    notice: str | None = None
    steps: list[Step] = field(default_factory=list, repr=False)

    @property
    def tokens_per_second(self) -> float:
        return len(self.token_ids) / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Beam:
    text: str
    score: float
    token_ids: list[int]
