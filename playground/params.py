"""Every generation parameter, declared once.

`GenerationParams` is the single source of truth: each field carries its default, range, step,
one-line help, formula, UI group and the generation modes it affects. Sliders, presets,
validation, the command line and code export are all generated from these declarations.

Modes: "beam" when `num_beams > 1`; otherwise "greedy" when `do_sample` is off or
`temperature == 0` (the rule: temperature 0 means greedy, exactly like the OpenAI API);
otherwise "sample".

How a field is declared (`P`, `Spec`) and the per-field rules and messages live in `fields.py`; the
names other modules import from here (`ParamError`, the limits) are re-exported.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from .fields import (  # noqa: F401
    ALL_MODES,
    BEAM,
    DRY_BREAKERS,
    GROUPS,
    MAX_BIAS,
    MAX_BIAS_KEY_CHARS,
    MAX_BREAKERS,
    MAX_STOP,
    MAX_STOP_CHARS,
    NOT_BEAM,
    SAMPLE,
    SAMPLER_ORDERS,
    P,
    ParamError,
    Spec,
    check_value,
    message,
    not_bool,
    parse_assignment,
    token_id,
)
from .stages import STAGES, WARPER, canonical_order, movable
from .text import brief


class GenerationParams(BaseModel):
    """All parameters of one chat completion. Frozen; unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- Sampling -------------------------------------------------------------------------------
    do_sample: bool = P(True, "bool", "Sampling", "Sample from the distribution; off = always take the most likely token (greedy)",
                        "x_t ~ softmax(z) if on, else argmax z", modes=NOT_BEAM)
    temperature: float = P(1.0, "float", "Sampling", "Divides the logits: below 1 sharper, above 1 flatter; 0 means greedy",
                           "p_i = exp(z_i/T) / sum_j exp(z_j/T)", 0.0, 3.0, step=0.05, modes=SAMPLE)
    top_k: int = P(0, "int", "Sampling", "Keep only the k most likely tokens; 0 = off",
                   "keep i if rank(i) <= k", 0, 1000, step=1, modes=SAMPLE)
    top_p: float = P(1.0, "float", "Sampling", "Keep the smallest set of top tokens whose probability sums to at least p; 1 = off",
                     "keep the top tokens until sum p_i >= top_p", 0.0, 1.0, lo_open=True, step=0.01, modes=SAMPLE)
    min_p: float = P(0.0, "float", "Sampling", "Drop tokens less likely than min_p times the most likely one; 0 = off",
                     "keep i if p_i >= min_p * max_j p_j", 0.0, 1.0, step=0.01, modes=SAMPLE)
    typical_p: float = P(1.0, "float", "Sampling", "Keep the tokens whose surprise is closest to the entropy, up to mass p; 1 = off",
                         "rank by |-log p_i - H|, keep until sum p_i >= typical_p", 0.0, 1.0, lo_open=True, step=0.01, modes=SAMPLE)
    epsilon_cutoff: float = P(0.0, "float", "Sampling", "Drop tokens with probability below epsilon; 0 = off",
                              "keep i if p_i >= epsilon", 0.0, 0.1, step=0.0001, modes=SAMPLE)
    eta_cutoff: float = P(0.0, "float", "Sampling", "Drop tokens below an entropy-scaled threshold (eta sampling); 0 = off",
                          "keep i if p_i >= min(eta, sqrt(eta) * exp(-H))", 0.0, 0.1, step=0.0001, modes=SAMPLE)
    # --- Penalties ------------------------------------------------------------------------------
    repetition_penalty: float = P(1.0, "float", "Penalties", "Make tokens already in the text (prompt included) less likely; 1 = off",
                                  "z_i / r if z_i > 0 else z_i * r, for every i seen", 0.0, 3.0, lo_open=True, step=0.01)
    presence_penalty: float = P(0.0, "float", "Penalties", "OpenAI: subtract once from every token already generated",
                                "z_j -= presence * (c_j > 0)", -2.0, 2.0, step=0.05)
    frequency_penalty: float = P(0.0, "float", "Penalties", "OpenAI: subtract per time a token was already generated",
                                 "z_j -= frequency * c_j", -2.0, 2.0, step=0.05)
    no_repeat_ngram_size: int = P(0, "int", "Penalties", "Forbid any n-gram of this size from occurring twice; 0 = off",
                                  "z_i = -inf if (x_{t-n+2..t}, i) already occurred", 0, 10, step=1)
    # --- More samplers: the peers' (llama.cpp, text-generation-webui), `samplers.py` ----------------
    dry_multiplier: float = P(0.0, "float", "More samplers", "DRY: penalise the token that would extend a repeated sequence; 0 = off",
                              "z_t -= multiplier * base^(L_t - allowed_length) if L_t >= allowed_length", 0.0, 5.0, step=0.05)
    dry_base: float = P(1.75, "float", "More samplers", "DRY: how fast the penalty grows with the length of the repeat",
                        "penalty = multiplier * base^(L - allowed_length)", 1.0, 4.0, step=0.05)
    dry_allowed_length: int = P(2, "int", "More samplers", "DRY: repeats up to this many tokens go unpenalised",
                                "penalise when L >= allowed_length", 1, 20, step=1)
    dry_penalty_last_n: int = P(-1, "int", "More samplers", "DRY: how many of the last tokens to scan; -1 = all, 0 = off",
                                "L is sought in the last n tokens", -1, 8192, step=1)
    dry_sequence_breakers: tuple[str, ...] = P(DRY_BREAKERS, "stop", "More samplers",
                                               "DRY: a repeat never runs across a token holding one of these strings",
                                               "", modes=ALL_MODES)
    top_n_sigma: float = P(0.0, "float", "More samplers", "Keep tokens within n standard deviations of the top logit; 0 = off",
                           "keep i if z_i >= max z - n * sigma", 0.0, 5.0, step=0.05, modes=SAMPLE)
    xtc_probability: float = P(0.0, "float", "More samplers", "XTC: how often to exclude the top choices; 0 = off",
                               "with probability q, drop every p_i >= threshold but the least likely", 0.0, 1.0, step=0.01,
                               modes=SAMPLE)
    xtc_threshold: float = P(0.1, "float", "More samplers", "XTC: tokens at least this likely are the top choices; > 0.5 = off",
                             "top choices: p_i >= threshold (two needed)", 0.0, 1.0, step=0.01, modes=SAMPLE)
    dynatemp_range: float = P(0.0, "float", "More samplers", "Dynamic temperature: T moves within temperature ± range by "
                              "the entropy; 0 = off", "T = Tmin + (Tmax - Tmin) * (H / log N)^exponent", 0.0, 3.0, step=0.05,
                              modes=SAMPLE)
    dynatemp_exponent: float = P(1.0, "float", "More samplers", "Dynamic temperature: exponent on the normalised entropy",
                                 "(H / log N)^exponent", 0.0, 5.0, step=0.05, modes=SAMPLE)
    smoothing_factor: float = P(0.0, "float", "More samplers", "Smoothing (quadratic sampling): bend the logits around the "
                                "top one; 0 = off", "z' = max - k * f * d^2 + s * f * d^3, d = z - max", 0.0, 10.0, step=0.01,
                                modes=SAMPLE)
    smoothing_curve: float = P(1.0, "float", "More samplers", "Smoothing: 1 = quadratic, higher adds a cubic term",
                               "k = (3 - curve) / 2, s = (curve - 1) / 2", 1.0, 10.0, step=0.05, modes=SAMPLE)
    top_a: float = P(0.0, "float", "More samplers", "Drop tokens below a times the square of the top probability; 0 = off",
                     "keep i if p_i >= a * p_max^2", 0.0, 1.0, step=0.01, modes=SAMPLE)
    tfs: float = P(1.0, "float", "More samplers", "Tail-free sampling: cut where the sorted probabilities flatten; 1 = off",
                   "keep while cumsum(|p''|) / sum(|p''|) <= z", 0.0, 1.0, step=0.01, modes=SAMPLE)
    mirostat: int = P(0, "int", "More samplers", "Mirostat: 2 = v2, which steers each token's surprise towards tau "
                      "(it replaces the filters); 0 = off", "cut -log2 p_i > mu; mu -= eta * (-log2 p(x) - tau)", 0, 2,
                      step=2, modes=SAMPLE)
    mirostat_tau: float = P(5.0, "float", "More samplers", "Mirostat: the target surprise, in bits",
                            "mu starts at 2 tau", 0.0, 10.0, step=0.1, modes=SAMPLE)
    mirostat_eta: float = P(0.1, "float", "More samplers", "Mirostat: how fast mu learns",
                            "mu -= eta * (surprise - tau)", 0.0, 1.0, step=0.01, modes=SAMPLE)
    # --- Length and stopping --------------------------------------------------------------------
    max_new_tokens: int = P(256, "int", "Length and stopping", "Most tokens to generate in the reply",
                            "stop when t = max_new_tokens", 1, 4096, step=1)
    min_new_tokens: int = P(0, "int", "Length and stopping", "End-of-sequence is forbidden before this many tokens",
                            "z_eos = -inf while t < min_new_tokens", 0, 4096, step=1)
    # --- Beam search ----------------------------------------------------------------------------
    num_beams: int = P(1, "int", "Beam search", "Beams kept by beam search; 1 = no beam search",
                       "keep the num_beams best partial replies by sum log p", 1, 8, step=1)
    length_penalty: float = P(1.0, "float", "Beam search", "Exponent on length when ranking finished beams; >0 favours longer",
                              "score = sum log p / length^length_penalty", -3.0, 3.0, step=0.1, modes=BEAM)
    early_stopping: bool = P(False, "bool", "Beam search", "Stop as soon as num_beams finished candidates exist",
                             modes=BEAM)
    num_return_sequences: int = P(1, "int", "Beam search", "How many of the final beams to return",
                                  "", 1, 8, step=1, modes=BEAM)
    # --- Advanced -------------------------------------------------------------------------------
    seed: int | None = P(None, "seed", "Advanced", "Seed of this request's random generator; empty = a fresh random seed",
                         "", 0, 2**32 - 1, step=1, modes=SAMPLE)
    logit_bias: dict[str, float] = P({}, "bias", "Advanced", "Token (text or id) -> bias added to its logit first; -100 bans it",
                                     "z_i += bias_i", -100.0, 100.0, step=1.0)
    stop: tuple[str, ...] = P((), "stop", "Advanced",
                              f"Up to {MAX_STOP} strings of up to {MAX_STOP_CHARS} characters that end the reply; they are "
                              "cut from the text", modes=NOT_BEAM)
    sampler_order: str = P(
        "transformers", "choice", "Advanced", "The order of the sampling filters (where temperature sits, among others): a "
        "named order, or your own as stage names separated by commas (those left out run after them, in the default "
        f"order), e.g. top_k,min_p,temperature. Stages: {', '.join(movable())}", "", modes=SAMPLE,
        choices=tuple(SAMPLER_ORDERS))

    # --- validation -----------------------------------------------------------------------------
    @field_validator("stop", "dry_sequence_breakers", mode="before")
    @classmethod
    def _stop_list(cls, v):
        return (v,) if isinstance(v, str) else v

    @field_validator("sampler_order", mode="before")
    @classmethod
    def _order_list(cls, v):
        return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else v  # a YAML/JSON list of stages

    @field_validator("sampler_order", mode="after")
    @classmethod
    def _order(cls, v):
        return canonical_order(v)  # a named order's name, or the shortest list meaning the same; ValueError names the stage

    @field_validator("logit_bias", mode="before")
    @classmethod
    def _bias_keys(cls, v):
        if not isinstance(v, dict):
            return v
        if len(v) > MAX_BIAS:
            raise ValueError(f"`logit_bias` must hold at most {MAX_BIAS} tokens, but has {len(v)}. Remove some.")
        for k, b in v.items():
            if isinstance(b, bool) or isinstance(k, bool) or not isinstance(k, (str, int)) or \
                    (isinstance(k, int) and k.bit_length() > 1000):
                raise ValueError(f"`logit_bias` must map a token (text or id) to a number, but has {brief(k)}: {brief(b)}.")
        return {str(k): b for k, b in v.items()}

    @field_validator("*", mode="before")
    @classmethod
    def _not_bool(cls, v, info):
        return not_bool(SPECS[info.field_name], v)

    @field_validator("*", mode="after")
    @classmethod
    def _in_range(cls, v, info):
        return check_value(SPECS[info.field_name], v)

    @model_validator(mode="after")
    def _cross_field(self):
        if self.mirostat == 1:
            raise ValueError("`mirostat` must be 0 (off) or 2 (Mirostat v2), but is 1: Mirostat v1 is not implemented "
                             "here. Use 2.")
        if self.min_new_tokens > self.max_new_tokens:
            raise ValueError(f"`min_new_tokens` must be <= `max_new_tokens`, but is {self.min_new_tokens} > "
                             f"{self.max_new_tokens}. Raise max_new_tokens or lower min_new_tokens.")
        if self.num_return_sequences > self.num_beams:
            raise ValueError(f"`num_return_sequences` must be <= `num_beams`, but is {self.num_return_sequences} > "
                             f"{self.num_beams}. Raise num_beams (several replies come from beam search) or lower "
                             "num_return_sequences.")
        if self.num_beams > 1 and self.stop:
            raise ValueError(f"`stop` must be empty with beam search, but is {list(self.stop)} with num_beams = "
                             f"{self.num_beams}. Clear the stop list or set num_beams to 1.")
        return self

    # --- derived views --------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        if self.num_beams > 1:
            return "beam"
        return "greedy" if (not self.do_sample or self.temperature == 0) else "sample"

    @property
    def own_warpers(self) -> bool:
        """Whether `generate()` must run our own ordered warpers (its own neutral): another order than
        its own, or a warper it does not have (one of the peers', `samplers.py`)."""
        if self.sampler_order != "transformers" or self.mirostat:
            return True
        return any(s.ours and s.kind == WARPER and s.active(self, None) for s in STAGES.values())

    def inactive_reason(self, name: str) -> str | None:
        """Why `name` has no effect in the current mode, or None when it is active."""
        mode = self.mode
        if mode == "sample" and self.mirostat and name in _MIROSTAT_REPLACES:
            return f"`{name}` has no effect: mirostat ({self.mirostat}) replaces the sampling filters; only temperature runs."
        if mode in SPECS[name].modes:
            return None
        why = {"greedy": "greedy decoding (do_sample off or temperature 0) always takes the top token",
               "beam": f"beam search (num_beams = {self.num_beams}) is deterministic",
               "sample": "it only applies to beam search (num_beams > 1)"}[mode]
        return f"`{name}` has no effect: {why}."

    def changed(self) -> dict[str, Any]:
        """Only the values that differ from the defaults (what a preset stores)."""
        out = {}
        for name, s in SPECS.items():
            v = getattr(self, name)
            if v != s.default:
                out[name] = list(v) if isinstance(v, tuple) else v
        return out

    def replace(self, **changes) -> GenerationParams:
        return build({**self.model_dump(), **changes})

    def to_generate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for transformers' `generate()`.

        Logit bias and the OpenAI penalties need a tokenizer or a custom processor; the engine adds
        them (`engine.generate_kwargs`). With `own_warpers` the built-in warpers are neutral here and
        the engine passes its own ordered warpers as `logits_processor`.
        """
        kw: dict[str, Any] = dict(max_new_tokens=self.max_new_tokens, min_new_tokens=self.min_new_tokens,
                                  repetition_penalty=self.repetition_penalty,
                                  no_repeat_ngram_size=self.no_repeat_ngram_size, num_beams=self.num_beams)
        mode = self.mode
        if mode == "beam":
            kw.update(do_sample=False, length_penalty=self.length_penalty, early_stopping=self.early_stopping,
                      num_return_sequences=self.num_return_sequences)
        elif mode == "greedy":
            kw.update(do_sample=False)
        elif self.own_warpers:
            kw.update(do_sample=True, temperature=1.0, top_k=0, top_p=1.0)
        else:
            # top_k=0 explicitly: transformers applies a hidden top_k=50 when it is left unset.
            kw.update(do_sample=True, temperature=self.temperature, top_k=self.top_k, top_p=self.top_p,
                      min_p=self.min_p or None, typical_p=self.typical_p, epsilon_cutoff=self.epsilon_cutoff,
                      eta_cutoff=self.eta_cutoff)
        return kw

    def to_openai_request(self, messages: list[dict], model: str = "gpt-4o-mini") -> dict[str, Any]:
        """An OpenAI Chat Completions request body; see `openai_unsupported` for what it cannot carry."""
        body: dict[str, Any] = {"model": model, "messages": messages,
                                "temperature": 0 if self.mode == "greedy" else self.temperature,
                                "top_p": self.top_p, "max_completion_tokens": self.max_new_tokens}
        if self.presence_penalty:
            body["presence_penalty"] = self.presence_penalty
        if self.frequency_penalty:
            body["frequency_penalty"] = self.frequency_penalty
        if self.stop:
            body["stop"] = list(self.stop)
        if self.seed is not None:
            body["seed"] = self.seed
        ids = {str(token_id(k)): v for k, v in self.logit_bias.items() if token_id(k) is not None}
        if ids:
            body["logit_bias"] = ids
        return body

    def openai_unsupported(self) -> list[str]:
        """Non-default parameters the OpenAI API has no field for (they are dropped from the body)."""
        carried = {"do_sample", "temperature", "top_p", "max_new_tokens", "presence_penalty", "frequency_penalty",
                   "stop", "seed"}
        out = [k for k in self.changed() if k not in carried and k != "logit_bias"]
        if any(token_id(k) is None for k in self.logit_bias):
            out.append("logit_bias (text keys; OpenAI takes token ids of its own tokenizer)")
        return out


def _spec(name: str, field) -> Spec:
    ex = field.json_schema_extra
    return Spec(name=name, default=field.default, help=field.description, **ex)


SPECS: dict[str, Spec] = {n: _spec(n, f) for n, f in GenerationParams.model_fields.items()}
# The fields of the filters mirostat replaces (it keeps `only`: temperature).
_MIROSTAT_REPLACES = {f for s in STAGES.values() if s.kind == WARPER and s.name not in STAGES["mirostat"].only
                      for f in s.fields} - {"temperature", "seed"}
DEFAULTS = GenerationParams()


def build(values: dict[str, Any] | None = None, source: str | None = None, **kw) -> GenerationParams:
    """Validate and build; raises `ParamError` whose lines name the field, the rule and the value."""
    try:
        return GenerationParams(**{**(values or {}), **kw})
    except ValidationError as e:
        raise ParamError([message(err, SPECS) for err in e.errors()], source) from None
