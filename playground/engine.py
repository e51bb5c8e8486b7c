"""The streaming decode loop over a shared model.

`Engine.stream` runs the model one token at a time with a KV cache, passes every step's logits
through the sampler pipeline (`sampling.py`), samples with a per-request `torch.Generator`, and
yields a `Step` per token (chosen token, its probability, the top candidates and the stage that
removed each) and finally a `Done`. Beam search runs through `generate()` (`Engine.beams`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import torch

from . import samplers, sampling
from .decoder import Decoder
from .fast import Fast
from .loader import Loaded
from .model_context import ModelContext
from .params import GenerationParams, ParamError, token_id
from .records import Beam, Candidate, Done, PromptTooLong, Step  # noqa: F401  (re-exported)
from .scheduler import Scheduler
from .stages import STAGES, arguments
from .text import brief, token_text


class Engine:
    """Chat generation over one loaded model; safe to share between threads (state is per call)."""

    def __init__(self, loaded: Loaded, fast: bool | str = False):
        """`fast`: decode one-token steps through a compiled graph over a static KV cache (`fast.py`),
        compiled in the background on first use, where it gives the eager tokens (fp32; "any": in any dtype);
        off (the default here), every step runs eagerly."""
        self.loaded = loaded
        self.model, self.tokenizer = loaded.model, loaded.tokenizer
        self.device = loaded.device
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = [eos] if isinstance(eos, int) else list(eos or [self.tokenizer.eos_token_id])
        self.context = getattr(self.model.config, "max_position_embeddings", 2048)
        self.vocab = self.model.get_output_embeddings().out_features  # int8 Linear layers have no .weight tensor
        self._logits_cache: dict[tuple[int, ...], torch.Tensor] = {}
        self._logits_lock = threading.Lock()
        self._breakers: dict[tuple[str, ...], frozenset[int]] = {}  # DRY's breaker strings -> their token ids
        self.fast = Fast(self.model, exact=fast != "any") if fast else None
        self.scheduler = Scheduler(self.model)  # batches the app's replies (its thread starts with the first)

    # --- inputs -----------------------------------------------------------------------------------
    def prompt_ids(self, messages: list[dict], system: str | None = None) -> list[int]:
        """The chat template applied to the conversation, ending with the assistant's turn opening."""
        msgs = ([{"role": "system", "content": system}] if system else []) + list(messages)
        enc = self.tokenizer.apply_chat_template(msgs, add_generation_prompt=True, return_dict=True)
        return list(enc["input_ids"])

    def bias_ids(self, params: GenerationParams) -> dict[int, float]:
        """`logit_bias` keys (a token id, or a text that is exactly one token) mapped to token ids."""
        out = {}
        for key, bias in params.logit_bias.items():
            tid = token_id(key)  # ASCII digits (params bounds their length); "²" or "٣" is a token's text
            if tid is not None:
                if tid >= self.vocab:
                    raise ParamError([f"`logit_bias` token ids must be below the vocabulary size {self.vocab}, "
                                      f"but {brief(key)} is not."])
            else:
                ids = self.tokenizer.encode(key, add_special_tokens=False)
                if len(ids) != 1:
                    raise ParamError([f"`logit_bias` keys must be exactly one token, but {brief(key)} is {len(ids)} "
                                      f"tokens {brief(ids)}. Use one of those ids, or a shorter text (mind the leading "
                                      "space: ' cat' and 'cat' are different tokens)."])
                tid = ids[0]
            out[tid] = bias
        return out

    def breaker_ids(self, params: GenerationParams) -> frozenset[int]:
        """DRY's sequence breakers as token ids (the tokens whose text holds one); none while DRY is off."""
        if params.dry_multiplier == 0:
            return frozenset()
        key = params.dry_sequence_breakers
        if key not in self._breakers:  # every token's text is read once per set of breakers (~0.1 s)
            texts = self.tokenizer.batch_decode([[i] for i in range(self.vocab)])
            self._breakers = {key: samplers.breaker_ids(texts, key)}
        return self._breakers[key]

    def stages(self, params: GenerationParams, prompt_len: int, seed: int | None = None) -> list[sampling.Stage]:
        """The chain of one request; `seed` is the reply's (XTC's coin), by default `params.seed`."""
        return sampling.build_stages(params, prompt_len, self.eos_ids, self.bias_ids(params), self.breaker_ids(params), seed)

    def generate_kwargs(self, params: GenerationParams, prompt_len: int) -> dict:
        """Everything `model.generate()` needs to run this same chain."""
        kw = params.to_generate_kwargs()
        bias = self.bias_ids(params)
        if bias:
            kw["sequence_bias"] = [[[i], b] for i, b in bias.items()]
        # The user processors: our own (the registry's `ours`: OpenAI penalties, DRY), and our ordered warpers
        # when generate()'s own cannot run the chain (`params.own_warpers`).
        chain = self.stages(params, prompt_len)
        custom = [s.processor for s in chain if not s.warper and STAGES[s.name].ours]
        if params.own_warpers:
            custom += [s.processor for s in chain if s.warper]
        pick = STAGES[chain.pick.name] if chain.pick is not None else None
        if pick is not None and pick.processor:  # a pick generate() can run as a filter before its own draw (mirostat)
            custom.append(getattr(samplers, pick.processor)(*arguments(pick, params, None)))
        if custom:
            from transformers import LogitsProcessorList

            kw["logits_processor"] = LogitsProcessorList(custom)
        kw["pad_token_id"] = self.eos_ids[0]
        return kw

    def label(self, token_id: int) -> str:
        return token_text(self.tokenizer, token_id)

    # --- the next-token view (the plot) -----------------------------------------------------------
    def next_logits(self, ids: list[int]) -> torch.Tensor:
        """Raw fp32 logits [1, V] for the token after `ids`: one forward pass per context, cached."""
        key = tuple(ids)
        with self._logits_lock:
            if key in self._logits_cache:
                self._logits_cache[key] = self._logits_cache.pop(key)  # most recently used last
                return self._logits_cache[key]
        PromptTooLong.check(len(ids), self.context)
        with torch.inference_mode():
            t = torch.tensor([ids], device=self.device)
            out = self.model(input_ids=t, attention_mask=torch.ones_like(t), use_cache=False, logits_to_keep=1)
            logits = out.logits[:, -1].to(copy=True, dtype=torch.float32)
        with self._logits_lock:
            self._logits_cache[key] = logits
            while len(self._logits_cache) > 16:
                self._logits_cache.pop(next(iter(self._logits_cache)))
        return logits

    def cached_logits(self, ids: list[int]) -> torch.Tensor | None:
        """The logits `next_logits(ids)` already computed, or None; never runs the model (safe beside generation)."""
        with self._logits_lock:
            return self._logits_cache.get(tuple(ids))

    def trace(self, ids: list[int], params: GenerationParams, prompt_len: int | None = None,
              logits: torch.Tensor | None = None) -> sampling.Trace:
        """The whole chain on the next token after `ids` (tokens past `prompt_len` count as generated)."""
        prompt_len = len(ids) if prompt_len is None else prompt_len
        logits = self.next_logits(ids) if logits is None else logits
        return sampling.run(self.stages(params, prompt_len), torch.tensor([ids], device=self.device), logits)

    # --- the decode loop --------------------------------------------------------------------------
    def decoder(self, messages: list[dict], params: GenerationParams, system: str | None = None, top_n: int = 50,
                prompt: list[int] | None = None, report: bool = False, keep_logits: bool | int = False) -> Decoder:
        """A reply ready to decode step by step (see `Decoder`)."""
        if params.mode == "beam":
            raise ParamError(["`num_beams` > 1 runs beam search, which does not stream; use Engine.beams."])
        prompt = list(prompt) if prompt is not None else self.prompt_ids(messages, system)
        return Decoder(self.model_context(), prompt, params, top_n, report, keep_logits)

    def model_context(self) -> ModelContext:
        """What a Decoder needs of this engine (model_context.py), as the engine is set now."""
        return ModelContext(self.model, self.tokenizer, self.device, self.context, tuple(self.eos_ids), self.label,
                            self.stages, self.fast)

    def stream(self, messages: list[dict], params: GenerationParams, system: str | None = None, top_n: int = 50,
               cancel: threading.Event | None = None, prompt: list[int] | None = None,
               prefix: list[int] | None = None, force: dict[int, int] | None = None,
               report: bool = False) -> Iterator[Step | Done]:
        """Yield a `Step` per generated token, then a `Done`.

        `prompt` overrides the templated messages; `prefix` is reply tokens already chosen (taken, not
        sampled); `force` maps a step number to the token to take there instead of sampling;
        `report` adds the per-stage counts to every step.
        """
        dec = self.decoder(messages, params, system, top_n, prompt, report)
        forced = {**dict(enumerate(prefix or [])), **(force or {})}
        while not dec.done:
            if cancel is not None and cancel.is_set():
                dec.cancel()
                break
            yield dec.step(forced.get(len(dec.steps)))
        yield dec.result()

    # --- beam search ------------------------------------------------------------------------------
    def beams(self, messages: list[dict], params: GenerationParams, system: str | None = None,
              cancel: threading.Event | None = None) -> tuple[list[Beam], Done]:
        """Beam search through `generate()`: the final beams, best first, with their scores."""
        from transformers import StoppingCriteria, StoppingCriteriaList

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kw):
                return torch.full((input_ids.shape[0],), bool(cancel and cancel.is_set()), dtype=torch.bool)

        prompt = self.prompt_ids(messages, system)
        kw = self.generate_kwargs(params, len(prompt))
        kw["max_new_tokens"] = min(kw["max_new_tokens"], self.context - len(prompt))
        start = time.perf_counter()
        with torch.inference_mode():
            # No output_scores: generate() would keep a [beams, vocab] tensor per token (~1.5 MB a token here).
            out = self.model.generate(torch.tensor([prompt], device=self.device), **kw,
                                      stopping_criteria=StoppingCriteriaList([Cancelled()]))
            found = []  # (beam, whether it ended on EOS)
            for seq in out:
                generated = seq[len(prompt):].tolist()
                end = next((i for i, t in enumerate(generated) if t in self.eos_ids), None)
                scored = generated if end is None else generated[: end + 1]  # the EOS counts, the padding after does not
                toks = [t for t in scored if t not in self.eos_ids]
                score = self.beam_score(prompt, scored, params)
                found.append((Beam(self.tokenizer.decode(toks, skip_special_tokens=True), score, toks), end is not None))
        seconds = time.perf_counter() - start
        found.sort(key=lambda b: -b[0].score)
        beams, (best, ended) = [b for b, _ in found], found[0]
        finish = "cancelled" if cancel and cancel.is_set() else ("eos" if ended else "length")
        return beams, Done(best.text, finish, best.token_ids, None, seconds, len(prompt))

    def beam_score(self, prompt: list[int], generated: list[int], params: GenerationParams) -> float:
        """A finished beam's score as beam search ranks it: sum of log p (after the processors) / length^length_penalty.
        One forward pass over the beam, instead of keeping every step's scores while searching."""
        if not generated:
            return 0.0
        ids = torch.tensor([prompt + generated], device=self.device)
        logits = self.model(input_ids=ids, logits_to_keep=len(generated) + 1).logits[0, :-1].to(torch.float32)
        stages = self.stages(params, len(prompt))
        total = 0.0
        for i, tok in enumerate(generated):
            scores = sampling.run(stages, ids[:, : len(prompt) + i], logits[i:i + 1]).final
            total += float(torch.log_softmax(scores[0], dim=-1)[tok])
        return total / (len(generated) ** params.length_penalty)
