"""One reply being decoded, one token at a time.

A `Decoder` holds the KV cache, the tokens so far, the request's own `torch.Generator` and the
record of every step. `step()` decodes one token (sampled, greedy, or forced by the caller);
`Engine.stream` simply calls it until the reply ends. `retune(params)` changes the parameters of the
steps still to come (each step keeps the parameters and the seed it used). `branch(k, params)` starts a new reply that
keeps the first k tokens and continues from there with other parameters, reusing this reply's
cache (and, when kept, the step's logits, so that no forward pass is repeated).
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from typing import TYPE_CHECKING

import torch
from transformers import DynamicCache, StaticCache

from . import fast, sampling, stage_rows
from .params import GenerationParams
from .records import Candidate, Done, PromptTooLong, Step
from .text import StopScanner

if TYPE_CHECKING:
    from .model_context import ModelContext


class Decoder:
    def __init__(self, lm: ModelContext, prompt: list[int], params: GenerationParams, top_n: int = 50,
                 report: bool = False, keep_logits: bool | int = False):
        PromptTooLong.check(len(prompt), lm.context)
        self.lm, self.model = lm, lm.model  # what it needs of the model (model_context.py), not the Engine
        self.prompt, self.top_n, self.report, self.keep_logits = list(prompt), top_n, report, keep_logits
        self.steps: list[Step] = []
        self.seed = params.seed if params.seed is not None else secrets.randbelow(2**32)
        self.generator = torch.Generator(device=lm.device).manual_seed(self.seed)
        self.seeds = [(0, self.seed)]  # (first step, seed) at each change: a retune may reseed (see `seed_at`)
        self._tune(params)
        self.ids = torch.tensor([self.prompt], device=lm.device)
        self.cache = DynamicCache(config=self.model.config)
        self.fresh = self.ids  # tokens the model has not seen yet
        self.logits: torch.Tensor | None = None  # the next step's raw logits, once computed
        self.logit_history: list[torch.Tensor] = []
        self.finish: str | None = None
        self.seconds = 0.0

    def _tune(self, params: GenerationParams) -> None:
        """The parameters of the steps to come: the chain, sample or argmax, the length budget, the stop strings."""
        self.params, context = params, self.lm.context
        self.budget = min(params.max_new_tokens, context - len(self.prompt))
        self.notice = None if self.budget == params.max_new_tokens else f"max_new_tokens cut to {self.budget} to fit the context"
        self.stages = self._carry(self.lm.stages(params, len(self.prompt), self.seed), len(self.steps))  # its pick chooses
        self.sample = bool(self.stages.pick and self.stages.pick.random)
        self.scanner = StopScanner(self.lm.tokenizer, params.stop)
        for s in self.steps:
            self.scanner.feed(s.token_id)

    def retune(self, params: GenerationParams) -> None:
        """Go on with other parameters from the next step (an open reply only; steps taken keep theirs).

        A new seed reseeds the generator; the same seed (or none) keeps its stream of random numbers."""
        if self.done:
            raise RuntimeError(f"the reply has ended ({self.finish}); branch it to go on")
        if params == self.params:
            return
        if params.seed is not None and params.seed != self.params.seed:
            self.seed = params.seed
            self.generator.manual_seed(self.seed)
            self.seeds = [c for c in self.seeds if c[0] < len(self.steps)] + [(len(self.steps), self.seed)]
        self._tune(params)
        if len(self.steps) >= self.budget:
            self.finish = "length"

    @property
    def done(self) -> bool:
        return self.finish is not None

    @property
    def token_ids(self) -> list[int]:
        return [s.token_id for s in self.steps]

    def step(self, force: int | None = None) -> Step:
        """Decode one token; `force` takes that token id instead of sampling."""
        if self.done:
            raise RuntimeError(f"the reply has ended ({self.finish}); branch it to go on")
        start, prompt = time.perf_counter(), self.logits is None and self.fresh.shape[1] > 1
        with torch.inference_mode():
            # 1. The raw logits of this step: run the unseen tokens through the model, reusing the cache.
            self.next_logits()
        if not prompt:  # tokens/s counts decoding, not the prompt's pass (as the scheduler's batched replies do)
            self.seconds += time.perf_counter() - start
        return self.advance(force)

    def advance(self, force: int | None = None) -> Step:
        """Steps 2-6 of a decode step, on the logits already computed (by `next_logits`, or by the
        scheduler's batched forward pass, which sets `self.logits`)."""
        if self.done:
            raise RuntimeError(f"the reply has ended ({self.finish}); branch it to go on")
        start = time.perf_counter()
        t, logits = len(self.steps), self.logits
        with torch.inference_mode():
            # 2. Pass them through the chain, in order, keeping every stage's scores.
            trace = sampling.run(self.stages, self.ids, logits)
            # 3. Choose: the forced token, else the chain's pick (a draw with this request's generator, or the argmax).
            tok = int(force) if force is not None else self.stages.pick.choose(trace, self.generator)
            # 4. Record the step: the chosen token and the top candidates with their fate.
            step = self._record(t, tok, trace, force is not None, self.scanner.feed(tok))
            if hasattr(self.stages.pick, "after"):  # a pick with a state (mirostat's mu): the next step's
                pick = self.stages.pick.after(trace, tok)
                step.mu, step.mu_next = self.stages.pick.level, pick.level
                self.stages = sampling.Chain(self.stages, pick)
            self.steps.append(step)
            if self.keep_logits:  # True: every step's; a number: only the latest steps' (the rest become None)
                self.logit_history.append(logits)
                if self.keep_logits is not True and len(self.logit_history) > self.keep_logits:
                    self.logit_history[-self.keep_logits - 1] = None
            # 5. Append the token; the model sees it at the next step.
            self.ids = torch.cat([self.ids, torch.tensor([[tok]], device=self.ids.device)], dim=-1)
            self.fresh, self.logits = self.ids[:, -1:], None
        # 6. End on EOS, a stop string (cut from the text), or the length budget.
        if tok in self.lm.eos_ids:
            self.finish = "eos"
        elif self.scanner.stopped:
            self.finish, step.text = "stop", self.scanner.text
        elif len(self.steps) >= self.budget:
            self.finish = "length"
        self.seconds += time.perf_counter() - start
        return step

    def cancel(self) -> None:
        if not self.done:
            self.finish = "cancelled"

    def result(self) -> Done:
        return Done(self.scanner.final_text(), self.finish or "cancelled", self.token_ids,
                    self.seed if self.sample else None, self.seconds, len(self.prompt), self.notice, self.steps)

    def next_logits(self) -> torch.Tensor:
        """The raw logits of the next step; the model runs at most once per step (the step reuses them).

        Without a cache (dropped when the reply ended, see `release`) every token is run again once.
        A one-token step takes the engine's compiled path (`fast.py`) when it is on and ready for a cache
        that holds this reply; otherwise the model runs eagerly over a `DynamicCache`."""
        if self.logits is None:
            if self.cache is None:
                self.cache, self.fresh = DynamicCache(config=self.model.config), self.ids
            if self._fast_step():
                return self.logits
            self.cache = fast.to_dynamic(self.model, self.cache)
            out = self.model(input_ids=self.fresh, attention_mask=torch.ones_like(self.ids),
                             past_key_values=self.cache, use_cache=True, logits_to_keep=1)
            self.logits = out.logits[:, -1].to(copy=True, dtype=torch.float32)
        return self.logits

    def _fast_step(self) -> bool:
        """Run this step compiled when the engine's fast path can; False to run it eagerly."""
        path = self.lm.fast
        if path is None or not path.on or self.fresh.shape[1] != 1 or fast.seq_len(self.cache) != self.ids.shape[1] - 1 \
                or self.ids.shape[1] < 2:
            return False
        need = self.ids.shape[1] + self.budget - len(self.steps)
        size = path.size_for(need)
        if not path.ready(size):
            path.want(size)  # compiled in the background; this reply switches over once it is ready
            return False
        if not isinstance(self.cache, StaticCache) or self.cache.layers[0].max_cache_len < need:
            self.cache = fast.to_static(self.model, self.cache, size)
        self.logits = path.step(self.fresh, self.cache)
        return True

    def release(self) -> None:
        """Drop the KV cache (most of a reply's memory); `next_logits` rebuilds it if the reply goes on."""
        self.cache, self.fresh = None, self.ids

    def _carry(self, chain: sampling.Chain, k: int) -> sampling.Chain:
        """The chain with its pick's state at step k: mirostat's mu as step k - 1 left it (a retune, a
        branch and a re-traced step go on from there)."""
        mu = self.steps[k - 1].mu_next if 0 < k <= len(self.steps) else None
        if mu is not None and hasattr(chain.pick, "after"):
            chain = sampling.Chain(chain, dataclasses.replace(chain.pick, mu=mu))
        return chain

    def _record(self, t: int, tok: int, trace: sampling.Trace, forced: bool, text: str) -> Step:
        """The top `top_n` candidates after the penalties, the raw top ones a penalty removed, and their fate."""
        cands = [Candidate(f.id, self.lm.label(f.id), f.raw, f.final, f.removed_by is None, f.removed_by)
                 for f in trace.candidates(self.top_n, also=tok)]
        raw = trace.probs(-1)[0]
        rank = int((raw > raw[tok]).sum()) + 1
        drawn = trace.picked_probs if trace.pick is not None and trace.pick.random else trace.probs()  # greedy: before the argmax
        prob = float(drawn[0, tok])
        report = [vars(r) for r in stage_rows.chain_table(trace, self.lm.label)] if self.report else None
        return Step(t, tok, self.lm.label(tok), prob, float(raw[tok]), rank, cands, text, forced, report, self.params)

    # --- looking back and branching ---------------------------------------------------------------
    def has_logits(self, k: int) -> bool:
        return 0 <= k < len(self.logit_history) and self.logit_history[k] is not None

    def params_at(self, k: int) -> GenerationParams:
        """The parameters step k was chosen with (the current ones for a step not taken yet)."""
        return (self.steps[k].params if k < len(self.steps) else None) or self.params

    def seed_at(self, k: int) -> int:
        """The seed step k was chosen with (XTC's coin depends on it); the current one for a step not taken yet."""
        return next(seed for first, seed in reversed(self.seeds) if first <= k)

    def trace_at(self, k: int, params: GenerationParams | None = None) -> sampling.Trace:
        """The chain at step k, with this reply's or other parameters; no forward pass. Step k is a step taken
        (needs keep_logits) or the next one of an open reply once its logits are computed (`peek`); IndexError
        otherwise."""
        logits = self.logits_at(k)
        if logits is None:
            if k == len(self.steps) and not self.done:
                raise IndexError(f"step {k} is the next one, and its logits are not computed yet (`peek` computes them)")
            if not 0 <= k < len(self.steps):
                raise IndexError(f"`k` must be in [0, {len(self.steps)}], but is {k}")
            raise IndexError(f"step {k} has no kept logits (keep_logits={self.keep_logits!r} keeps "
                             f"{'every step' if self.keep_logits is True else f'the latest {int(self.keep_logits)} steps'})")
        if k == len(self.steps) and params is None:  # the next step: the chain it will run (its pick's state too)
            with torch.inference_mode():
                return sampling.run(self.stages, self.ids, logits)
        params = params or self.params_at(k)
        ids = self.ids[:, : len(self.prompt) + k]
        stages = self._carry(self.lm.stages(params, len(self.prompt), self.seed_at(k)), k)
        return sampling.run(stages, ids, logits)

    # --- the public inspection API (the inspector reads a reply only through these) ---------------
    def logits_at(self, k: int) -> torch.Tensor | None:
        """The raw logits of step k: a step taken (when kept, see keep_logits) or the next one of an open
        reply (once computed, see `peek`); None otherwise. Never runs the model."""
        if self.has_logits(k):
            return self.logit_history[k]
        return self.logits if k == len(self.steps) and not self.done else None

    def peek(self) -> bool:
        """Compute the next step's logits now (the forward pass its `step()` would run, and reuses), so it can
        be looked at (`trace_at(len(steps))`); False when the reply has ended."""
        if self.done:
            return False
        if self.logits is None:
            with torch.inference_mode():
                self.next_logits()
        return True

    def branch(self, k: int, params: GenerationParams | None = None) -> Decoder:
        """A new reply keeping this one's first k tokens, going on from step k with `params`."""
        if not 0 <= k <= len(self.steps):
            raise IndexError(f"`k` must be in [0, {len(self.steps)}], but is {k}")
        new = Decoder(self.lm, self.prompt, params or self.params, self.top_n, self.report, self.keep_logits)
        cut = len(self.prompt) + k
        new.ids = self.ids[:, :cut]
        new.steps = list(self.steps[:k])
        new.logit_history = list(self.logit_history[:k])
        new.seeds = [c for c in self.seeds if c[0] < k] + [(k, new.seed)]  # the kept steps keep their seeds
        new._tune(new.params)  # the stop strings see the kept tokens
        known = self.has_logits(k)  # the logits of step k are kept: no forward pass for it
        if self.cache is None:  # released: the next forward pass runs every kept token again
            new.release()
        else:
            new.cache = fast.copy_cache(self.model, self.cache)
            fast.crop(new.cache, cut - (0 if known else 1))  # up to the logits of step k, or up to the last token
            new.fresh = new.ids[:, cut - (0 if known else 1):]
        if known:
            new.logits = self.logit_history[k]
        if len(new.steps) >= new.budget:
            new.finish = "length"
        return new
