"""One prompt under two settings: both replies, aligned token by token, and where and why they part.

`stream(engine, messages, a, b, seed)` decodes the reply under settings A and under settings B with the
same seed, A and B taking turns one token each, keeping every step's logits, and yields the comparison as it
grows (the page shows it streaming); `compare(...)` is its last yield. Each token also gets the other side's
probability of it, from the same step's logits (the other settings' chain run on this reply's logits and context: `Decoder.trace_at`).

The parting step is the first where the two tokens differ. Up to it both replies saw the same context,
so both chains ran on the same logits there (`Parting.chains`: both chain tables, stage by stage); each
side's token gets its fate under the other chain (removed by which stage, or kept with what probability),
and `why` says in one line what made the
difference: a stage of one chain removed the other's token, or both kept both and the same random draw
landed on different tokens because the probabilities differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .params import GenerationParams
from .records import Done
from .stage_rows import StageRow, chain_table


@dataclass
class Token:
    step: int  # 0-based, as in the records
    token_id: int
    token: str
    prob: float  # under its own settings: what it was drawn with
    other: float  # under the other side's settings, from the same logits and context


@dataclass
class Fate:
    removed_by: str | None  # the label of the stage (or pick) of the other chain that removed it
    prob: float  # its probability under the other chain (0 when removed)

    def __str__(self) -> str:
        return f"removed by {self.removed_by}" if self.removed_by else f"kept, p={self.prob:.3g}"


@dataclass
class Parting:
    step: int
    a: Token
    b: Token
    a_under_b: Fate
    b_under_a: Fate
    why: str
    chains: tuple[list[StageRow], list[StageRow]] = field(default=((), ()), repr=False)  # A's, B's chain on its logits


@dataclass
class Comparison:
    seed: int
    a: list[Token]
    b: list[Token]
    a_done: Done | None  # None while A is still decoding (`stream`)
    b_done: Done | None
    parting: Parting | None  # None: the replies agree on every step both took

    @property
    def note(self) -> str:
        """One line: where they part, or that they do not."""
        if self.parting is not None:
            p = self.parting
            return (f"they part at token {p.step + 1}: A took {p.a.token!r}, B took {p.b.token!r}. {p.why}")
        if self.a_done is None or self.b_done is None:
            return f"so far the same, token for token ({len(self.a)} and {len(self.b)} tokens)"
        if len(self.a) == len(self.b):
            return "the two replies are the same, token for token"
        short, name = (self.a_done, "A") if len(self.a) < len(self.b) else (self.b_done, "B")
        return f"the replies agree until {name} ended ({short.finish_reason}) after {min(len(self.a), len(self.b))} tokens"


def compare(engine, messages: list[dict], a: GenerationParams, b: GenerationParams, seed: int,
            system: str | None = None) -> Comparison:
    """Decode under A and under B with the same seed (both sides' own seeds are replaced by it)."""
    *_, whole = stream(engine, messages, a, b, seed, system)
    return whole


def stream(engine, messages: list[dict], a: GenerationParams, b: GenerationParams, seed: int,
           system: str | None = None):
    """Yield the comparison as it grows: A and B take turns, one token each, on the shared model.

    Every yield is a `Comparison` of what both sides have so far (`a_done`/`b_done` None while a side
    still decodes); the last one is complete. The parting step is known as soon as both sides took it.
    """
    a, b = a.replace(seed=seed), b.replace(seed=seed)
    sides = [_Side(engine.decoder(messages, a, system, top_n=0, keep_logits=True), b),
             _Side(engine.decoder(messages, b, system, top_n=0, keep_logits=True), a)]
    parting = None
    while not all(s.dec.done for s in sides):
        for side in sides:  # one token each: A, then B
            side.advance()
        side_a, side_b = sides
        k = min(len(side_a.tokens), len(side_b.tokens)) - 1
        if parting is None and k >= 0 and side_a.tokens[k].token_id != side_b.tokens[k].token_id:
            parting = _parting(engine, k, side_a, side_b, a)
        yield _snapshot(seed, sides, parting)


class _Side:
    """One side's decoder, its aligned tokens, and its latest step's trace under the other side's settings."""

    def __init__(self, dec, other: GenerationParams):
        self.dec, self.other, self.tokens, self.under_other = dec, other, [], None

    def advance(self) -> None:
        if self.dec.done:
            return
        s = self.dec.step()
        with torch.inference_mode():
            self.under_other = self.dec.trace_at(s.step, self.other)  # the other chain on this step's logits
            theirs = float(self.under_other.probs()[0, s.token_id])
        self.tokens.append(Token(s.step, s.token_id, s.token, s.prob, theirs))


def _parting(engine, k: int, side_a: _Side, side_b: _Side, a: GenerationParams) -> Parting:
    """Both chains at step k, where both sides still share the context (A's logits: the same as B's there)."""
    ta, tb = side_a.dec.trace_at(k, a), side_a.under_other  # A's trace of step k under B: kept from advance()
    ta_, tb_ = side_a.tokens[k], side_b.tokens[k]
    fa, fb = _fate(tb, ta_.token_id), _fate(ta, tb_.token_id)
    return Parting(k, ta_, tb_, fa, fb, _why(ta_, tb_, fa, fb), (chain_table(ta, engine.label), chain_table(tb, engine.label)))


def _snapshot(seed: int, sides, parting) -> Comparison:
    side_a, side_b = sides
    done = [s.dec.result() if s.dec.done else None for s in sides]
    return Comparison(seed, list(side_a.tokens), list(side_b.tokens), done[0], done[1], parting)


def _fate(trace, token_id: int) -> Fate:
    """What a chain did to one token: the first link that removed it, or its probability after the chain."""
    idx = torch.tensor([token_id], device=trace.raw.device)
    by = int(trace.removed_by_at(idx)[0])
    if by >= 0:
        return Fate(trace.stages[by].label, 0.0)
    if not torch.isfinite(trace.picked[0, token_id]):
        return Fate(trace.pick.label, 0.0)
    return Fate(None, float(trace.probs()[0, token_id]))


def _why(a: Token, b: Token, a_under_b: Fate, b_under_a: Fate) -> str:
    reasons = []
    if b_under_a.removed_by:
        reasons.append(f"A's {b_under_a.removed_by} removed B's token {b.token!r}")
    if a_under_b.removed_by:
        reasons.append(f"B's {a_under_b.removed_by} removed A's token {a.token!r}")
    if reasons:
        return "; ".join(reasons) + "."
    return (f"Both settings keep both tokens; the same random draw landed on different tokens because the "
            f"probabilities differ ({a.token!r}: A {a.prob:.3g}, B {a.other:.3g}; {b.token!r}: A {b.other:.3g}, B {b.prob:.3g}).")
