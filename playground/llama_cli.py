"""The current settings as `llama-cli` flags, and back: llama.cpp's command line (`common/arg.cpp`).

`to_llama_cli(params)` is a shell command line that runs llama.cpp's CLI with these sampling settings: every
sampling flag, neutral ones too (its defaults are not ours: `--top-k 40`, `--min-p 0.05`...; and a GGUF may carry
its own recommended settings, which a flag given on the command line overrides). It is made from the server body
(`formats.to_llamacpp`), so the two exports agree field by field. `from_llama_cli(text)` reads such a line back
(the flags below, any order; `-m`/`-p` and the like are skipped) through `formats.from_llamacpp`, so the
flags and the JSON body mean the same to us. `cli_not_carried(params)` names what the flags leave out.
Pure: no torch, no gradio.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import shlex
from typing import Any

from . import formats
from .params import GenerationParams, ParamError

# Its /completion field -> its flag (common/arg.cpp), in the order they are written.
FLAGS = {"temperature": "--temp", "dynatemp_range": "--dynatemp-range", "dynatemp_exponent": "--dynatemp-exp",
         "top_k": "--top-k", "top_p": "--top-p", "min_p": "--min-p", "typical_p": "--typical", "top_n_sigma": "--top-nsigma",
         "xtc_probability": "--xtc-probability", "xtc_threshold": "--xtc-threshold",
         "repeat_penalty": "--repeat-penalty", "repeat_last_n": "--repeat-last-n", "presence_penalty": "--presence-penalty",
         "frequency_penalty": "--frequency-penalty", "dry_multiplier": "--dry-multiplier", "dry_base": "--dry-base",
         "dry_allowed_length": "--dry-allowed-length", "dry_penalty_last_n": "--dry-penalty-last-n",
         "mirostat": "--mirostat", "mirostat_eta": "--mirostat-lr", "mirostat_tau": "--mirostat-ent",
         "n_predict": "-n", "seed": "-s"}
ALIASES = {"--temperature": "--temp", "--typical-p": "--typical", "--top-n-sigma": "--top-nsigma", "--seed": "-s",
           "--n-predict": "-n", "--predict": "-n", "--logit-bias": "-l"}
SKIPPED = ("-m", "--model", "-p", "--prompt", "-hf", "--hf-repo", "-sys", "--system-prompt", "-c", "--ctx-size",
           "-t", "--threads", "-ngl", "--n-gpu-layers")  # flags with a value that do not touch sampling
SWITCHES = ("-cnv", "--conversation", "-no-cnv", "--no-conversation", "-st", "--single-turn")
ANSI_C = re.compile(r"\$'((?:[^'\\]|\\.)*)'")  # bash's $'...' quoting, as _quote writes a newline
BREAKER, SAMPLERS, BIAS = "--dry-sequence-breaker", "--samplers", "-l"


def _value(v: Any) -> str:
    if isinstance(v, float):
        return ("-" if v < 0 else "") + "inf" if math.isinf(v) else repr(formats._num(v))
    return str(v)


def _quote(v: str) -> str:
    """Shell quoting; a value with a control character (the newline breaker) as bash's $'...' with escapes."""
    if not any(ord(c) < 32 for c in v):
        return shlex.quote(v)
    return "$'" + v.encode("unicode_escape").decode("ascii").replace("'", "\\'") + "'"


def cli_not_carried(params: GenerationParams) -> list[str]:
    """Our changed settings the flags leave out: the JSON body's, plus stop strings and text logit-bias keys."""
    out = formats.not_carried(params, "llamacpp")
    if params.stop:
        out.append(f"stop {list(params.stop)!r} (llama-cli has no stop strings; -r/--reverse-prompt only hands the turn back)")
    text_keys = [k for k, _ in formats.to_llamacpp(params)["logit_bias"] if not isinstance(k, int)]
    if text_keys:
        out.append(f"logit_bias on {text_keys!r} (-l/--logit-bias takes token ids only)")
    return out


def to_llama_cli(params: GenerationParams, model: str = "MODEL.gguf") -> str:
    """`llama-cli` with every sampling flag for these settings, one group per line (shell-quoted)."""
    body = formats.to_llamacpp(params)
    words = [(flag, _value(body[key])) for key, flag in FLAGS.items() if not (key == "seed" and body[key] == -1)]
    breakers = body["dry_sequence_breakers"] or ["none"]  # "none": no breakers at all
    words += [(BREAKER, b) for b in breakers]
    words += [(BIAS, f"{k}{'-' if b < 0 else '+'}{_value(abs(b))}") for k, b in body["logit_bias"] if isinstance(k, int)]
    words.append((SAMPLERS, ";".join(body["samplers"])))
    lines = [f"llama-cli -m {shlex.quote(model)}"]
    for i in range(0, len(words), 4):
        lines.append("  " + " ".join(f"{f} {_quote(v)}" for f, v in words[i:i + 4]))
    return " \\\n".join(lines) + "\n"


def _split(text: str, source: str) -> list[str]:
    lines = [ln for ln in text.replace("\\\n", " ").splitlines() if not ln.lstrip().startswith("#")]
    text = ANSI_C.sub(lambda m: shlex.quote(m.group(1).encode("ascii", "backslashreplace").decode("unicode_escape")),
                      " ".join(lines))
    try:
        return shlex.split(text)
    except ValueError as e:
        raise ParamError([f"is not a command line that a shell can split ({e}). Check its quotes."], source) from None


def _number(flag: str, raw: str, source: str) -> int | float:
    try:
        return int(raw) if raw.lstrip("-").isdigit() else float(raw)
    except ValueError:
        raise ParamError([f"`{flag}` must be a number, but is {raw!r}. Give a number, e.g. `{flag} 1`."], source) from None


def _bias(raw: str, source: str) -> list:
    sign = max(raw.rfind("+"), raw.rfind("-"))
    if sign <= 0 or not raw[:sign].isdigit():
        raise ParamError([f"`-l` must be TOKEN_ID+BIAS or TOKEN_ID-BIAS (e.g. 15043-1), but is {raw!r}."], source)
    return [int(raw[:sign]), _number("-l", raw[sign:], source)]


def from_llama_cli(text: str, source: str = "llama-cli", notes: list[str] | None = None) -> GenerationParams:
    """Our parameters from a `llama-cli` (or `llama-server`) command line's sampling flags, read as the same
    request body would be (`formats.from_llamacpp`: its defaults for the flags left out)."""
    words = _split(text, source)
    if words and not words[0].startswith("-"):
        words = words[1:]  # the program's name
    flag_of = {f: k for k, f in FLAGS.items()}
    body: dict[str, Any] = {}
    i = 0
    while i < len(words):
        flag = ALIASES.get(words[i], words[i])
        if flag in SWITCHES:
            i += 1
            continue
        if flag not in (*flag_of, *SKIPPED, BREAKER, SAMPLERS, BIAS):
            close = difflib.get_close_matches(flag, [*flag_of, BREAKER, SAMPLERS], n=1)
            hint = f" Did you mean `{close[0]}`?" if close else ""
            raise ParamError([f"`{flag[:40]}` is not a llama-cli sampling flag read here.{hint} Remove it."], source)
        if i + 1 >= len(words):
            raise ParamError([f"`{flag}` needs a value after it, but the line ends. Give one or remove the flag."], source)
        raw = words[i + 1]
        if flag == BREAKER:
            body.setdefault("dry_sequence_breakers", [])
            body["dry_sequence_breakers"] = [] if raw == "none" else body["dry_sequence_breakers"] + [raw]
        elif flag == SAMPLERS:
            body["samplers"] = [n for n in raw.split(";") if n]
        elif flag == BIAS:
            body.setdefault("logit_bias", []).append(_bias(raw, source))
        elif flag in flag_of:
            body[flag_of[flag]] = _number(flag, raw, source)
        i += 2
    return formats.from_llamacpp(body, source, notes)


N_PROBS = 10  # the top tokens the server returns per step (`n_probs`), as the plot's default shows


def completion_body(params: GenerationParams, prompt: str, n_probs: int = N_PROBS) -> dict[str, Any]:
    """A llama.cpp server `/completion` request: the prompt, the sampling fields, and `n_probs` (the top tokens'
    probabilities at each step, the server's counterpart of this page's plot)."""
    return {"prompt": prompt, **formats.to_llamacpp(params), "n_probs": n_probs}


def completion_snippet(params: GenerationParams, prompt: str, n_probs: int = N_PROBS) -> str:
    """A shell snippet posting `completion_body` to a local llama-server (the body between the EOF lines is JSON)."""
    body = json.dumps(completion_body(params, prompt, n_probs), indent=2, ensure_ascii=False)
    return "\n".join(["# llama-server's /completion with these settings. The prompt is the last user turn as plain text",
                      "# (no chat template); llama-server's /v1/chat/completions takes the same fields beside `messages`.",
                      "curl http://localhost:8080/completion -H 'Content-Type: application/json' -d @- <<'EOF'",
                      body, "EOF", ""])


def body_from_snippet(text: str) -> dict[str, Any]:
    """The JSON body of a `completion_snippet` (for tests and for reading an export back)."""
    return json.loads(text.split("<<'EOF'\n", 1)[1].rsplit("\nEOF", 1)[0])
