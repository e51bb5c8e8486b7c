"""The command line: `python -m playground generate | compare | presets | params` (no command: what it can do).

`generate` runs one chat completion with the bundled model (or `--model`), or with `--backend openai`
on an OpenAI-compatible server (remote.py), streaming the reply to stdout, or with `--json` one JSON
object per generated token and a final summary. Parameters come from `--preset`, then `--set
key=value` (YAML values), then `--seed`. Every bad input (parameters, preset, logit bias, model)
exits with status 2 and a one-line message on stderr, never a traceback; a server's error exits 1.
Only `generate` imports torch, and only after the parameters have been validated.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from . import cli_formats
from .cli_tables import cmd_params, cmd_presets
from .params import GenerationParams, ParamError, build, parse_assignment
from .presets import list_presets, load_preset
from .text import brief, surrogate_at

USAGE_ERROR = 2


def params_from_args(preset: str | None, sets: list[str], seed: int | None = None) -> GenerationParams:
    """The preset's values, overridden by each `key=value`, then by the seed; validated once."""
    values = load_preset(preset, allow_path=True).changed() if preset else {}
    for text in sets:
        key, value = parse_assignment(text)
        values[key] = value
    if seed is not None:
        values["seed"] = seed
    return build(values)


def utf8(flag: str, value: str | None) -> str | None:
    """A text argument; Python hands over a byte that is not UTF-8 as a lone surrogate (surrogateescape)."""
    at = surrogate_at(value or "")
    if at >= 0:
        code = ord(value[at])
        what = f"byte 0x{code - 0xDC00:02X}" if 0xDC80 <= code <= 0xDCFF else brief(value[at])
        raise ParamError([f"`{flag}` must be UTF-8 text, but {what} at character {at} is not. Check the encoding of "
                          "the terminal or the file it came from."])
    return value


def _stdin() -> str:
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode("utf-8", "surrogateescape")
    return data.decode("utf-8", "surrogateescape")


def _g(x: float) -> float | None:
    return None if x != x else float(f"{x:.6g}")  # NaN (a remote server's unknown side) is null


def step_json(step) -> dict:
    return {"step": step.step, "token_id": step.token_id, "token": step.token, "prob": _g(step.prob),
            "prob_raw": _g(step.prob_raw), "rank": step.rank, "forced": step.forced,
            "candidates": [{"id": c.id, "token": c.token, "prob_raw": _g(c.prob_raw), "prob_final": _g(c.prob_final),
                            "kept": c.kept, "removed_by": c.removed_by} for c in step.candidates]}


def done_json(done, params: GenerationParams, beams=None) -> dict:
    out = {"text": done.text, "finish_reason": done.finish_reason, "seed": done.seed, "tokens": len(done.token_ids),
           "token_ids": done.token_ids, "tokens_per_second": round(done.tokens_per_second, 2),
           "prompt_tokens": done.prompt_tokens, "notice": done.notice, "params": params.changed()}
    if beams is not None:
        out["beams"] = [{"rank": r, "text": b.text, "score": round(b.score, 6), "token_ids": b.token_ids}
                        for r, b in enumerate(beams, 1)]
    return out


def _emit(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def _summary(done) -> str:
    seed = f", seed {done.seed}" if done.seed is not None else ""
    notice = f"; {done.notice}" if done.notice else ""
    return (f"[{done.finish_reason}: {len(done.token_ids)} tokens, {done.tokens_per_second:.1f} tok/s{seed}{notice}]")


def cmd_generate(args) -> int:
    params = params_from_args(args.preset, args.set, args.seed)  # before any model is loaded
    if args.top_n < 0:
        raise ParamError([f"`--top-n` must be >= 0, but is {args.top_n}."])
    prompt = utf8("--prompt", _stdin() if args.prompt == "-" else args.prompt)
    system = utf8("--system", args.system)
    if args.backend == "openai":
        return _remote(args, params, prompt, system)
    from . import loader
    from .engine import Engine, PromptTooLong

    try:
        engine = Engine(loader.load(args.model, dtype=args.dtype), fast=cli_fast(args.fast, params.max_new_tokens))
        engine.bias_ids(params)  # a logit_bias key that is several tokens fails here, before generating
        messages = [{"role": "user", "content": prompt}]
        if params.mode == "beam":
            beams, done = engine.beams(messages, params, system=system)
            if args.json:
                _emit(done_json(done, params, beams))
            else:
                for r, b in enumerate(beams, 1):
                    print(f"#{r} (score {b.score:.4f}): {b.text}")
                print(_summary(done), file=sys.stderr)
            return 0
        size = engine.fast.size_for(len(engine.prompt_ids(messages, system)) + params.max_new_tokens) if engine.fast else None
        if size and engine.fast.on:
            print("[playground] compiling the decode step (about 10 s with the compile cache warm, 1-2 min the first "
                  "time; --fast off skips it)...", file=sys.stderr, flush=True)
            engine.fast.wait(size)
        _print(engine.stream(messages, params, system=system, top_n=args.top_n if args.json else 0), args, params)
        return 0
    except (loader.ModelLoadError, PromptTooLong) as e:
        print(f"error: {e}", file=sys.stderr)
        return USAGE_ERROR


def _remote(args, params: GenerationParams, prompt: str, system: str | None) -> int:
    """`generate --backend openai`: the same output, from an OpenAI-compatible server (remote.py)."""
    from .backends import BackendError
    from .remote import MAX_TOP, OpenAIBackend

    if not args.base_url:
        raise ParamError(["`--base-url` is needed with `--backend openai`, but is not given. Use e.g. "
                          "--base-url http://127.0.0.1:8000/v1"])
    if params.mode == "beam":
        raise ParamError([f"`num_beams` must be 1 with `--backend openai`, but is {params.num_beams}."])
    try:
        backend = OpenAIBackend.connect(args.base_url, args.model, args.server_kind, args.api_key_env)
        print(f"[{backend.describe()}]", file=sys.stderr)
        _print(backend.stream([{"role": "user", "content": prompt}], params, system, min(args.top_n, MAX_TOP)), args, params)
        return 0
    except BackendError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def _print(items, args, params: GenerationParams) -> None:
    """Stream a reply to stdout: its text as it grows, or with --json one object per step and a summary."""
    shown = ""
    for item in items:
        if args.json:
            _emit(step_json(item) if hasattr(item, "candidates") else done_json(item, params))
            continue
        text = item.text
        if text.startswith(shown) and len(text) > len(shown):
            sys.stdout.write(text[len(shown):])
            sys.stdout.flush()
            shown = text
        if not hasattr(item, "candidates"):
            sys.stdout.write("\n")
            print(_summary(item), file=sys.stderr)


def side_params(spec: str, seed: int) -> GenerationParams:
    """`--a`/`--b`: "defaults", or "preset:NAME" and/or space-separated key=value settings that override it."""
    words = [w for w in shlex.split(spec) if w != "defaults"]
    preset = words.pop(0).removeprefix("preset:") if words and words[0].startswith("preset:") else None
    return params_from_args(preset, words, seed)


def cmd_compare(args) -> int:
    a, b = side_params(args.a, args.seed), side_params(args.b, args.seed)
    for side, p in (("--a", a), ("--b", b)):
        if p.mode == "beam":
            raise ParamError([f"`{side}` must not run beam search (num_beams={p.num_beams}): compare takes sampled or "
                              "greedy replies."])
    prompt, system = utf8("--prompt", args.prompt), utf8("--system", args.system)
    from . import loader
    from .compare import compare
    from .engine import Engine, PromptTooLong

    try:
        engine = Engine(loader.load(args.model, dtype=args.dtype))
        for p in (a, b):
            engine.bias_ids(p)
        c = compare(engine, [{"role": "user", "content": prompt}], a, b, args.seed, system)
    except (loader.ModelLoadError, PromptTooLong) as e:
        print(f"error: {e}", file=sys.stderr)
        return USAGE_ERROR
    if args.json:
        side = lambda p, done, toks: {"params": p.changed(), "text": done.text, "finish_reason": done.finish_reason,  # noqa: E731
                                      "tokens": [{"step": t.step, "token": t.token, "prob": _g(t.prob), "other": _g(t.other)}
                                                 for t in toks]}
        part = c.parting
        _emit({"seed": c.seed, "a": side(a, c.a_done, c.a), "b": side(b, c.b_done, c.b), "note": c.note,
               "parting": None if part is None else {"step": part.step, "a_token": part.a.token, "b_token": part.b.token,
                                                     "a_under_b": str(part.a_under_b), "b_under_a": str(part.b_under_a),
                                                     "why": part.why}})
        return 0
    for name, spec, done in (("A", args.a, c.a_done), ("B", args.b, c.b_done)):
        print(f"{name} ({spec}): {done.text}")
    print(f"seed {c.seed}: {c.note}")
    if c.parting is not None:
        p = c.parting
        print(f"  A's {p.a.token!r}: p={p.a.prob:.3g} under A, {p.a_under_b} under B")
        print(f"  B's {p.b.token!r}: p={p.b.prob:.3g} under B, {p.b_under_a} under A")
    return 0


CLI_FAST_MIN = 256  # replies at least this long (max_new_tokens) take the compiled path under --fast auto


def cli_fast(choice: str, max_new_tokens: int) -> bool:
    """Whether this run compiles the decode step: `on`/`off`, or `auto`: on for long replies (compiling takes
    about 10 s with the cache warm, what ~200 tokens save; see bench/RESULTS.md), when PLAYGROUND_FAST=1."""
    from .fast import wanted

    if choice != "auto":
        return choice == "on"
    return wanted() and max_new_tokens >= CLI_FAST_MIN


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m playground", description="Sampling Playground from the command line.")
    sub = p.add_subparsers(dest="command")
    g = sub.add_parser("generate", help="one chat completion, streamed to stdout")
    g.add_argument("--prompt", required=True, help="the user message ('-' reads it from stdin)")
    g.add_argument("--system", help="a system prompt")
    g.add_argument("--model", help="a Hugging Face id or local folder (default: the bundled SmolLM2-135M-Instruct); "
                   "with --backend openai, the server's model name (default: its only one)")
    g.add_argument("--backend", choices=("local", "openai"), default="local",
                   help="local: this machine's engine (exact); openai: an OpenAI-compatible server at --base-url")
    g.add_argument("--base-url", help="the server's API root, e.g. http://127.0.0.1:8000/v1 (vLLM, llama.cpp, TGI, Ollama)")
    g.add_argument("--api-key-env", metavar="VAR", help="the environment variable holding the server's API key "
                   "(never the key itself)")
    g.add_argument("--server-kind", choices=("auto", "openai", "vllm", "llamacpp", "playground"), default="auto",
                   help="which fields the server takes and what its logprobs are (auto: from /v1/models)")
    g.add_argument("--dtype", choices=("float32", "bfloat16", "int8", "auto"), default="auto")
    g.add_argument("--preset", help=f"a preset name ({', '.join(list_presets())}) or a YAML file")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="set one parameter, value in YAML (repeatable); see `python -m playground params`")
    g.add_argument("--seed", type=int, help="seed of the sampler (same seed, same reply)")
    g.add_argument("--top-n", type=int, default=10, help="candidates per step in --json output (default 10)")
    g.add_argument("--fast", choices=("auto", "on", "off"), default="auto",
                   help=f"the compiled decode path (auto: for max_new_tokens >= {CLI_FAST_MIN} when PLAYGROUND_FAST=1)")
    g.add_argument("--json", action="store_true", help="one JSON object per token, then a summary object")
    g.set_defaults(run=cmd_generate)
    c = sub.add_parser("compare", help="one prompt under two settings, same seed: both replies and where they part")
    c.add_argument("--prompt", required=True, help="the user message")
    c.add_argument("--system", help="a system prompt")
    c.add_argument("--a", required=True, metavar="SETTINGS",
                   help='"preset:NAME" and/or key=value settings ("preset:precise top_k=5", "temperature=0.3")')
    c.add_argument("--b", required=True, metavar="SETTINGS", help="the same, for the other side")
    c.add_argument("--seed", type=int, default=0, help="the seed both sides use (default 0)")
    c.add_argument("--model", help="a Hugging Face id or local folder (default: the bundled model)")
    c.add_argument("--dtype", choices=("float32", "bfloat16", "int8", "auto"), default="auto")
    c.add_argument("--json", action="store_true", help="one JSON object: both sides' tokens with both probabilities")
    c.set_defaults(run=cmd_compare)
    pr = sub.add_parser("presets", help="list the shipped presets; --export / --import in the peers' formats")
    cli_formats.add_arguments(pr)
    pr.set_defaults(run=cmd_presets)
    sub.add_parser("params", help="every parameter: default, range, help").set_defaults(run=cmd_params)
    return p


OVERVIEW = """Sampling Playground: see what every generation parameter does to a language model's next token.

  python -m playground generate --prompt "Name three colours." [--preset NAME] [--set key=value] [--json]
  python -m playground compare --prompt "Once upon a time" --a preset:compare-cold --b preset:compare-hot --seed 7
  python -m playground params     every parameter: default, range, help
  python -m playground presets    the shipped presets and their values
  python -m playground presets --export webui|llamacpp NAME   a preset in text-generation-webui's / llama.cpp's format
  python -m playground presets --import FILE                  their preset YAML / request JSON as ours
  python app.py                   the web page (chat, live plot, token inspector) and /v1 OpenAI-compatible API

`python -m playground COMMAND --help` gives a command's options; README.md tells the rest."""


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command is None:
        print(OVERVIEW)
        return 0
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")  # a reply with characters the terminal cannot show
    try:
        return args.run(args)
    except ParamError as e:
        for line in e.messages:
            print(f"error: {line}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
