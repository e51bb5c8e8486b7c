"""The table of the sampler chain's stages, declared once (as `params.SPECS` declares every parameter).

One `StageSpec` per stage: its name, label, formula, the parameter fields it reads, when it is active
(the fields' neutral values, or a rule), its colour, its kind, the class that computes it (one of
transformers' `LogitsProcessor`s, or one of ours in `sampling.py`) and its name in llama.cpp and in
text-generation-webui; `ChainContext` is what a stage reads beyond the parameters. The stages are
declared in the order `generate()` applies them, the final pick last. Adding a sampler is one entry
here plus one processor; `stages.py` reads the table (the active pick and filters, the sampler orders).

Pure data: no torch, no transformers (the classes are named, and resolved by `sampling.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

PROCESSOR, WARPER, PICK = "processor", "warper", "pick"  # warpers run only when sampling, and may be reordered


@dataclass(frozen=True)
class StageSpec:
    """What the chain, the export, the plot and the docs need to know about one stage."""

    name: str
    label: str
    formula: str
    fields: tuple[str, ...]  # the parameters it reads
    color: str  # of the bars it removed, in the plot
    kind: str  # PROCESSOR, WARPER or PICK
    impl: str  # the class that computes it: transformers' (`ours` False) or ours in sampling.py
    make: Callable[..., Any]  # (cls, params, ctx) -> the processor (or the pick)
    neutral: dict[str, Any] = field(default_factory=dict)  # field -> the value that turns the stage off
    when: Callable[..., bool] | None = None  # (params, ctx) -> active; by default: a field is not neutral
    ours: bool = False
    llama_cpp: str | None = None  # its name in llama.cpp's sampler chain (`common_sampler_type_to_str`)
    webui: str | None = None  # its name in text-generation-webui's `sampler_priority`
    removed: str = ""  # legend text for the tokens it removed; default "removed by <label>"
    args: tuple[str, ...] = ()  # the constructor's arguments, for the export: a field's value, or "@name" (ChainContext)
    only: tuple[str, ...] | None = None  # a pick that replaces the filters: the warpers that still run before it
    processor: str | None = None  # a pick: the class that runs it inside generate() (samplers.py), if any

    def active(self, params, ctx) -> bool:
        if self.when is not None:
            return bool(self.when(params, ctx))
        return any(getattr(params, f) != v for f, v in self.neutral.items())

    @property
    def movable(self) -> bool:
        """Whether a sampler order may place it: the warpers only (processors first, the pick last)."""
        return self.kind == WARPER

    @property
    def removed_text(self) -> str:
        return self.removed or f"removed by {self.label}"


@dataclass(frozen=True)
class ChainContext:
    """What a stage needs beyond the parameters: the request's prompt, EOS ids and resolved biases."""

    prompt_len: int
    eos_token_id: Any  # a 1-d tensor of the EOS ids
    bias_ids: dict[int, float] | None = None
    min_tokens_to_keep: int = 1
    seed: int | None = None  # the request's seed: XTC's coin (None: shown as if it came up)
    breakers: frozenset[int] = frozenset()  # DRY's sequence-breaker token ids (`samplers.breaker_ids`)


def _s(name, label, formula, fields, color, kind, impl, make, **kw) -> StageSpec:
    return StageSpec(name, label, formula, tuple(fields), color, kind, impl, make, **kw)


def arguments(spec: StageSpec, params, ctx) -> list:
    """The values of `spec.args`: a parameter's value, or (for "@name") the context's."""
    return [getattr(ctx, a[1:]) if a.startswith("@") else getattr(params, a) for a in spec.args]


def _ours(name, label, formula, fields, color, kind, impl, args, **kw) -> StageSpec:
    """One of our processors (`samplers.py`): built from `args`, the same list the export writes out."""
    spec = _s(name, label, formula, fields, color, kind, impl, None, ours=True, args=tuple(args), **kw)
    return replace(spec, make=lambda cls, p, c: cls(*arguments(spec, p, c)))


def _warper(name, label, formula, param, neutral, color, impl, llama_cpp=None, webui=None, keep=True, **kw) -> StageSpec:
    """A filter that reads one parameter and takes `min_tokens_to_keep` (all of them but temperature)."""
    if keep:
        def make(cls, p, c):
            return cls(getattr(p, param), min_tokens_to_keep=c.min_tokens_to_keep)
    else:
        def make(cls, p, c):
            return cls(getattr(p, param))
    return _s(name, label, formula, (param,), color, WARPER, impl, make, neutral={param: neutral},
              llama_cpp=llama_cpp, webui=webui, args=(param,), **kw)


STAGES: dict[str, StageSpec] = {s.name: s for s in (
    # --- processors: always run, in generate()'s order (`_get_logits_processor`) -----------------------
    _s("logit_bias", "logit bias", "z_i += bias_i", ("logit_bias",), "#495057", PROCESSOR, "SequenceBiasLogitsProcessor",
       lambda cls, p, c: cls([[[i], b] for i, b in c.bias_ids.items()]), neutral={"logit_bias": {}},
       when=lambda p, c: bool(c.bias_ids), llama_cpp="logit-bias", webui=None),
    _s("repetition_penalty", "repetition penalty", "z_i / r if z_i > 0 else z_i * r, for i in the text",
       ("repetition_penalty",), "#862e9c", PROCESSOR, "RepetitionPenaltyLogitsProcessor",
       lambda cls, p, c: cls(p.repetition_penalty), neutral={"repetition_penalty": 1.0},
       llama_cpp="penalties", webui="repetition_penalty"),
    _s("no_repeat_ngram", "no-repeat n-gram", "z_i = -inf if it would repeat an n-gram", ("no_repeat_ngram_size",),
       "#e03131", PROCESSOR, "NoRepeatNGramLogitsProcessor", lambda cls, p, c: cls(p.no_repeat_ngram_size),
       neutral={"no_repeat_ngram_size": 0}, webui="no_repeat_ngram"),
    _s("min_new_tokens", "min new tokens", "z_eos = -inf while t < min_new_tokens", ("min_new_tokens",), "#0c8599",
       PROCESSOR, "MinNewTokensLengthLogitsProcessor", lambda cls, p, c: cls(c.prompt_len, p.min_new_tokens, c.eos_token_id),
       neutral={"min_new_tokens": 0}),
    # a user processor: generate() runs those after its own, before the warpers
    _s("openai_penalties", "presence/frequency", "z_j -= c_j * frequency + (c_j > 0) * presence",
       ("presence_penalty", "frequency_penalty"), "#d6336c", PROCESSOR, "OpenAIPenaltyLogitsProcessor",
       lambda cls, p, c: cls(p.presence_penalty, p.frequency_penalty, c.prompt_len),
       neutral={"presence_penalty": 0.0, "frequency_penalty": 0.0}, ours=True, llama_cpp="penalties",
       webui="presence_penalty", args=("presence_penalty", "frequency_penalty", "@prompt_len")),
    # DRY: a penalty, after the others (llama.cpp: penalties, dry; TGW: repetition, presence, frequency, dry)
    _ours("dry", "DRY", "z_t -= multiplier * base^(L_t - allowed_length) if L_t >= allowed_length, L_t: the repeat t extends",
          ("dry_multiplier", "dry_base", "dry_allowed_length", "dry_penalty_last_n", "dry_sequence_breakers"), "#5f3dc4",
          PROCESSOR, "DRYLogitsProcessor", ("dry_multiplier", "dry_base", "dry_allowed_length", "dry_penalty_last_n",
                                            "@breakers"),
          neutral={"dry_multiplier": 0.0}, when=lambda p, c: p.dry_multiplier > 0 and p.dry_penalty_last_n != 0,
          llama_cpp="dry", webui="dry"),
    # --- warpers: only when sampling, in the order `sampler_order` names. generate()'s own in its order;
    # the peers' (ours, samplers.py) where text-generation-webui's sampler_priority puts them.
    _ours("top_n_sigma", "top-n-sigma", "keep z_i >= max z - n * sigma", ("top_n_sigma",), "#3b5bdb", WARPER,
          "TopNSigmaLogitsWarper", ("top_n_sigma",), neutral={"top_n_sigma": 0.0}, llama_cpp="top_n_sigma",
          webui="top_n_sigma"),
    _warper("temperature", "temperature", "z_i / T", "temperature", 1.0, "#868e96", "TemperatureLogitsWarper",
            "temperature", "temperature", keep=False, when=lambda p, c: p.temperature != 1.0 and p.dynatemp_range == 0),
    # dynamic temperature replaces temperature (llama.cpp: one sampler, temp_ext; TGW: dynamic_temperature)
    _ours("dynatemp", "dynamic temperature", "z_i / T, T = Tmin + (Tmax - Tmin) * (H / log N)^exponent",
          ("temperature", "dynatemp_range", "dynatemp_exponent"), "#74c0fc", WARPER, "DynamicTemperatureLogitsWarper",
          ("temperature", "dynatemp_range", "dynatemp_exponent"), neutral={"dynatemp_range": 0.0},
          llama_cpp="temperature", webui="dynamic_temperature", removed="removed by dynamic temperature (T = 0: the top only)"),
    _ours("smoothing", "smoothing", "z_i' = max - k * f * d_i^2 + s * f * d_i^3, d_i = z_i - max", ("smoothing_factor",
          "smoothing_curve"), "#66d9e8", WARPER, "SmoothingLogitsWarper", ("smoothing_factor", "smoothing_curve"),
          neutral={"smoothing_factor": 0.0}, webui="quadratic_sampling"),
    _warper("top_k", "top-k", "keep the k largest", "top_k", 0, "#e8590c", "TopKLogitsWarper", "top_k", "top_k"),
    _warper("top_p", "top-p", "keep the smallest top set with mass >= p", "top_p", 1.0, "#1971c2", "TopPLogitsWarper",
            "top_p", "top_p"),
    _warper("min_p", "min-p", "keep p_i >= min_p * p_max", "min_p", 0.0, "#9c36b5", "MinPLogitsWarper", "min_p", "min_p"),
    _warper("typical_p", "typical", "keep tokens of typical surprise up to mass p", "typical_p", 1.0, "#f08c00",
            "TypicalLogitsWarper", "typ_p", "typical_p"),
    _warper("epsilon", "epsilon", "keep p_i >= epsilon", "epsilon_cutoff", 0.0, "#c2255c", "EpsilonLogitsWarper",
            None, "epsilon_cutoff"),
    _warper("eta", "eta", "keep p_i >= min(eta, sqrt(eta) * exp(-H))", "eta_cutoff", 0.0, "#5c940d", "EtaLogitsWarper",
            None, "eta_cutoff"),
    _ours("tfs", "tail-free", "keep the sorted tokens while the normalised sum of |p''| <= z", ("tfs",), "#fcc419", WARPER,
          "TailFreeLogitsWarper", ("tfs",), neutral={"tfs": 1.0}, webui="tfs"),
    _ours("top_a", "top-a", "keep p_i >= a * p_max^2", ("top_a",), "#94d82d", WARPER, "TopALogitsWarper", ("top_a",),
          neutral={"top_a": 0.0}, webui="top_a"),
    _ours("xtc", "XTC", "with probability q: drop every p_i >= threshold but the least likely of them",
          ("xtc_probability", "xtc_threshold", "seed"), "#ff8787", WARPER, "XTCLogitsWarper",
          ("xtc_threshold", "xtc_probability", "@seed"), neutral={"xtc_probability": 0.0},
          when=lambda p, c: p.xtc_probability > 0 and p.xtc_threshold <= 0.5, llama_cpp="xtc", webui="xtc"),
    # --- the final pick: the chain's last link (beam search has none: generate() searches) -------------
    _s("greedy", "greedy (argmax)", "x = argmax_i z_i", ("do_sample", "temperature"), "#adb5bd", PICK, "GreedyPick",
       lambda cls, p, c: cls("greedy"), when=lambda p, c: p.mode == "greedy", ours=True, llama_cpp="greedy",
       removed="not the top token (greedy)"),
    # Mirostat v2 replaces the filters (llama.cpp: temperature -> mirostat) and keeps its mu per reply
    _ours("mirostat", "mirostat", "cut -log2 p_i > mu, x ~ the rest, mu -= eta * (-log2 p(x) - tau); mu_0 = 2 tau",
          ("mirostat", "mirostat_tau", "mirostat_eta", "seed"), "#e64980", PICK, "MirostatPick",
          ("mirostat_tau", "mirostat_eta"), neutral={"mirostat": 0}, when=lambda p, c: p.mode == "sample" and p.mirostat == 2,
          only=("temperature",), processor="MirostatV2LogitsWarper", llama_cpp="mirostat_v2", webui="mirostat",
          removed="removed by mirostat (surprise above mu)"),
    _s("sample", "sample", "x ~ softmax(z), with the request's own generator (seed)", ("do_sample", "seed"), "#212529",
       PICK, "SamplePick", lambda cls, p, c: cls("sample"), when=lambda p, c: p.mode == "sample" and p.mirostat == 0,
       ours=True, llama_cpp="dist"),
)}
