"""What a `Decoder` needs of the loaded model, and nothing more: `ModelContext`.

The engine builds one per reply (`Engine.model_context`) and hands it over, so the decode loop never
calls back into the `Engine`: the model (its forward pass), the tokenizer (stop strings), the device,
the context length, the end-of-turn ids, a token's readable label, the request's sampler chain and the
compiled fast path (or None).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .fast import Fast
    from .sampling import Chain


@dataclass(frozen=True)
class ModelContext:
    model: Any  # a transformers causal LM: `model(input_ids=..., past_key_values=...)`
    tokenizer: Any
    device: Any
    context: int  # the most tokens (prompt and reply) the model takes
    eos_ids: tuple[int, ...]  # a reply ends on any of these
    label: Callable[[int], str]  # a token id as its text
    stages: Callable[..., Chain]  # (params, prompt_len, seed) -> the request's chain (logit bias and DRY need the tokenizer)
    fast: Fast | None = None  # the compiled one-token step (fast.py), or None: every step runs eagerly

