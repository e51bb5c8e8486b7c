"""The sampler chain read from its table (`stage_table.py`, re-exported here): the pick and the filters that run
for a request (`active_pick`, `warper_names`), the named sampler orders (`ORDERS`: transformers', llama.cpp's,
text-generation-webui's, generated from the table) and any order a visitor types (`parse_order`, `resolve_order`,
`canonical_order`). The code export, the plot's colours, the order view and the help text are generated from
here and the table.

Pure data: no torch, no transformers.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from .stage_table import PICK, PROCESSOR, STAGES, WARPER, ChainContext, StageSpec, arguments  # noqa: F401  (stages.X as before)
from .text import brief


def active_pick(params, ctx=None, registry: dict[str, StageSpec] | None = None) -> StageSpec | None:
    """The chain's last link for these parameters: greedy, sample, mirostat, or None (beam search)."""
    return next((s for s in (registry or STAGES).values() if s.kind == PICK and s.active(params, ctx)), None)


def warper_names(params, ctx=None, registry: dict[str, StageSpec] | None = None) -> list[str]:
    """The filters that run, in the order `params.sampler_order` names: only when sampling, and only the
    pick's `only` when the pick replaces the filters (mirostat)."""
    if params.mode != "sample":
        return []
    reg = registry or STAGES
    order = resolve_order(params.sampler_order, reg)
    pick = active_pick(params, ctx, reg)
    return [n for n in order if reg[n].kind == WARPER and reg[n].active(params, ctx)
            and (pick is None or pick.only is None or n in pick.only)]


def movable(registry: dict[str, StageSpec] | None = None) -> tuple[str, ...]:
    """The stages a sampler order places, in the registry's (generate()'s) order."""
    return tuple(s.name for s in (registry or STAGES).values() if s.movable)


# llama.cpp's default chain (common/common.h, `common_params_sampling::samplers`), by its own names.
LLAMA_CPP_CHAIN = ("penalties", "dry", "top_n_sigma", "top_k", "typ_p", "top_p", "min_p", "xtc", "temperature")
# text-generation-webui's default `sampler_priority` (modules/presets.py).
WEBUI_CHAIN = ("repetition_penalty", "presence_penalty", "frequency_penalty", "dry", "top_n_sigma", "temperature",
               "dynamic_temperature", "quadratic_sampling", "top_k", "top_p", "typical_p", "epsilon_cutoff", "eta_cutoff",
               "tfs", "top_a", "min_p", "mirostat", "xtc", "encoder_repetition_penalty", "no_repeat_ngram")


def by_tool_chain(chain: tuple[str, ...], tool: str, registry: dict[str, StageSpec] | None = None) -> tuple[str, ...]:
    """The movable stages in a tool's chain order; the ones the tool lacks run just before its temperature,
    in the registry's order (llama.cpp has no epsilon or eta: they filter with its other filters)."""
    names = movable(registry)
    reg = registry or STAGES
    at_temp = chain.index(getattr(reg["temperature"], tool))

    def key(name: str) -> float:
        own = getattr(reg[name], tool)
        return chain.index(own) if own in chain else at_temp - 0.5

    return tuple(sorted(names, key=key))  # sorted is stable: the registry's order breaks ties


@dataclass(frozen=True)
class Order:
    """A named sampler order: where it comes from and the movable stages in order."""

    name: str
    title: str  # in the order view
    source: str  # in the help text
    stages: tuple[str, ...]

    def describe(self, registry: dict[str, StageSpec] | None = None) -> str:
        """The help text: 'penalties, temperature, top-k, ... (transformers)'."""
        reg = registry or STAGES
        return ", ".join(["penalties", *(reg[n].label for n in self.stages)]) + f" ({self.source})"


def named_orders(registry: dict[str, StageSpec] | None = None) -> dict[str, Order]:
    """The named orders, generated from the registry (a stage added to it appears in each)."""
    return {o.name: o for o in (
        Order("transformers", "Default order", "transformers; the peers' samplers where text-generation-webui has them",
              movable(registry)),
        Order("temperature_last", "Temperature last", "llama.cpp", by_tool_chain(LLAMA_CPP_CHAIN, "llama_cpp", registry)),
        Order("text-generation-webui", "text-generation-webui", "text-generation-webui sampler_priority",
              by_tool_chain(WEBUI_CHAIN, "webui", registry)),
    )}


ORDERS: dict[str, Order] = named_orders()


# --- any order: a named order, or the movable stages as data ----------------------------------------
MAX_ORDER_CHARS = 1000  # far more than every movable stage's name, comma-separated


def _named(registry: dict[str, StageSpec] | None) -> dict[str, Order]:
    return ORDERS if registry in (None, STAGES) else named_orders(registry)


def _aliases(registry: dict[str, StageSpec]) -> dict[str, str]:
    """Other names people use for a movable stage (its parameter, its peers' names): suggested, not accepted."""
    out = {}
    for s in registry.values():
        for other in (*s.fields, s.llama_cpp, s.webui, s.label.replace(" ", "_").replace("-", "_")):
            if other and s.movable and other not in ("seed", "temperature"):
                out.setdefault(other, s.name)
    return out


def parse_order(value: str, registry: dict[str, StageSpec] | None = None) -> tuple[str, ...]:
    """The stages a custom order lists ("top_k,min_p,temperature"); `ValueError` naming `sampler_order`, the
    bad stage and the valid ones (the closest first) for an unknown name, a stage that cannot move, a repeat."""
    reg = registry or STAGES
    names, can = [n.strip() for n in str(value).split(",")], movable(reg)
    head = (f"`sampler_order` must be one of {', '.join(repr(n) for n in _named(reg))} or the stages in your order, "
            f"comma-separated (those left out run after them, in the default order), but")
    valid = f"The stages that can move: {', '.join(can)}."
    if len(str(value)) > MAX_ORDER_CHARS:
        raise ValueError(f"{head} it is {len(str(value))} characters long. {valid}")
    seen: list[str] = []
    for n in names:
        if n in seen:
            raise ValueError(f"{head} {n!r} appears twice. Name each stage once.")
        if n in reg and not reg[n].movable:
            where = "the final pick, which is always last" if reg[n].kind == PICK else "a penalty, and the penalties always run first"
            raise ValueError(f"{head} {n!r} cannot move: it is {where}. {valid}")
        if n not in can:
            alias = _aliases(reg)
            close = difflib.get_close_matches(n, [*can, *alias], n=1) if len(n) <= 60 else []
            hint = f" Did you mean {alias.get(close[0], close[0])!r}?" if close else ""
            what = "it is empty" if not str(value).strip() else f"{brief(n)} is not a stage" if n else "a name is empty"
            raise ValueError(f"{head} {what}.{hint} {valid}")
        seen.append(n)
    return tuple(seen)


def resolve_order(value: str, registry: dict[str, StageSpec] | None = None) -> tuple[str, ...]:
    """Every movable stage in the order `value` names: a named order's stages, or a custom list's stages
    first, in its order, then the ones it leaves out, in the registry's (generate()'s) order."""
    named = _named(registry)
    if value in named:
        return named[value].stages
    listed = parse_order(value, registry)
    return listed + tuple(n for n in movable(registry) if n not in listed)


def canonical_order(value: str, registry: dict[str, StageSpec] | None = None) -> str:
    """How `value` is stored: the name of the named order it is, or the shortest list that means the same
    ("temperature,top_k,top_p" is "transformers"; a full list loses the tail already in default order)."""
    full = resolve_order(value, registry)
    match = [n for n, o in _named(registry).items() if o.stages == full]
    if match:
        return match[0]
    k = next(k for k in range(len(full) + 1) if resolve_order(",".join(full[:k]) or "transformers", registry) == full)
    return ",".join(full[:k])


def order_title(value: str, registry: dict[str, StageSpec] | None = None) -> str:
    """The order view's title: a named order's, or "Your order"."""
    named = _named(registry)
    return named[value].title if value in named else "Your order"
