"""One prompt under two settings: both replies, aligned token by token, and where and why they part.

`compare(engine, messages, a, b, seed)` decodes the reply under settings A and under settings B with the
same seed, keeping every step's logits. Each token also gets the other side's probability of it, from the
same step's logits (the other settings' chain run on this reply's logits and context: `Decoder.trace_at`).

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

from .inspector import StageRow, chain_table
from .params import GenerationParams
from .records import Done


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
    a_done: Done
    b_done: Done
    parting: Parting | None  # None: the replies agree on every step both took

    @property
    def note(self) -> str:
        """One line: where they part, or that they do not."""
        if self.parting is not None:
            p = self.parting
            return (f"they part at token {p.step + 1}: A took {p.a.token!r}, B took {p.b.token!r}. {p.why}")
        if len(self.a) == len(self.b):
            return "the two replies are the same, token for token"
        short, name = (self.a_done, "A") if len(self.a) < len(self.b) else (self.b_done, "B")
        return f"the replies agree until {name} ended ({short.finish_reason}) after {min(len(self.a), len(self.b))} tokens"


def compare(engine, messages: list[dict], a: GenerationParams, b: GenerationParams, seed: int,
            system: str | None = None) -> Comparison:
    """Decode under A and under B with the same seed (both sides' own seeds are replaced by it)."""
    a, b = a.replace(seed=seed), b.replace(seed=seed)
    dec_a = _decode(engine, messages, a, system)
    dec_b = _decode(engine, messages, b, system)
    side_a, side_b = _tokens(dec_a, b), _tokens(dec_b, a)
    k = next((i for i, (x, y) in enumerate(zip(side_a, side_b)) if x.token_id != y.token_id), None)
    parting = None
    if k is not None:
        ta, tb = dec_a.trace_at(k, a), dec_a.trace_at(k, b)  # the same logits and context for both at step k
        fa, fb = _fate(tb, side_a[k].token_id), _fate(ta, side_b[k].token_id)
        parting = Parting(k, side_a[k], side_b[k], fa, fb, _why(side_a[k], side_b[k], fa, fb),
                          (chain_table(ta, engine.label), chain_table(tb, engine.label)))
    return Comparison(seed, side_a, side_b, dec_a.result(), dec_b.result(), parting)


def _decode(engine, messages, params, system):
    dec = engine.decoder(messages, params, system, top_n=0, keep_logits=True)
    while not dec.done:
        dec.step()
    return dec


def _tokens(dec, other: GenerationParams) -> list[Token]:
    out = []
    with torch.inference_mode():
        for s in dec.steps:
            theirs = float(dec.trace_at(s.step, other).probs()[0, s.token_id])
            out.append(Token(s.step, s.token_id, s.token, s.prob, theirs))
    return out


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
