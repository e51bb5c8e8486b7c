"""The `openai` backend with llama.cpp's server (`llama-server`).

Opt-in: `test_a_real_llama_server` runs only when `LLAMA_SERVER_URL` names a running llama-server (its API root,
e.g. http://127.0.0.1:8080/v1; the README says how to start one on the bundled GGUF). It checks the kind is detected,
a streamed reply carries each token's top probabilities (after llama.cpp's samplers), and our DRY and XTC fields and
sampler order are accepted, and top_k reaches its sampler.

Always run: the same reading on the chunks llama.cpp sends (their shape from tools/server/server-task.cpp: asked for
`post_sampling_probs`, its logprobs entries carry `prob` and `top_probs` instead of `logprob` and `top_logprobs`),
served by an httpx mock transport, since no llama-server runs here.
"""

from __future__ import annotations

import json
import math
import os

import httpx
import pytest

from playground.backends import AFTER
from playground.params import build
from playground.remote import OpenAIBackend

pytest.importorskip("openai")

ASK = [{"role": "user", "content": "Name three colours."}]
URL = os.environ.get("LLAMA_SERVER_URL")
DRY_XTC = dict(dry_multiplier=0.8, dry_base=1.75, dry_allowed_length=2, xtc_probability=0.5, xtc_threshold=0.1)


def _chunk(delta: dict, logprobs=None, finish=None, usage=None) -> str:
    body = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 0, "model": "smollm2",
            "system_fingerprint": "b1-x",
            "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish,
                                          **({"logprobs": logprobs} if logprobs else {})}]}
    if usage:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n"


def _entry(token: str, tops: list[tuple[str, float]]) -> dict:
    """A llama.cpp logprobs entry with post-sampling probabilities (`probs_vector_to_json(..., true)`)."""
    prob = dict(tops).get(token, 0.0)
    return {"content": [{"id": 7, "token": token, "bytes": list(token.encode()), "prob": prob,
                         "top_probs": [{"id": i, "token": t, "bytes": list(t.encode()), "prob": p} for i, (t, p) in enumerate(tops)]}]}


def test_llama_cpp_shaped_chunks_are_read_and_every_field_is_sent():
    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"object": "list", "data": [
                {"id": "smollm2", "object": "model", "created": 0, "owned_by": "llamacpp", "meta": {"n_vocab": 49152}}]})
        if request.url.path == "/props":  # beside /v1, as llama-server serves it
            return httpx.Response(200, json={"default_generation_settings": {"n_ctx": 4096}})
        sent.append(json.loads(request.content))
        text = (_chunk({"role": "assistant", "content": None})
                + _chunk({"content": "Red"}, _entry("Red", [("Red", 0.75), ("Blue", 0.25)]))
                + _chunk({"content": ","}, _entry(",", [(" and", 0.6), (",", 0.4), (".", 0.0)]))
                + _chunk({}, finish="stop")
                + _chunk({}, usage={"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14}) + "data: [DONE]\n\n")
        return httpx.Response(200, text=text, headers={"content-type": "text/event-stream"})

    backend = OpenAIBackend.connect("http://mock/v1", http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    assert backend.kind == "llamacpp" and backend.model == "smollm2" and backend.probs == AFTER
    *steps, done = backend.stream(ASK, build(seed=4, max_new_tokens=8, top_k=40, **DRY_XTC))
    assert [s.token for s in steps] == ["Red", ","] and done.text == "Red," and done.prompt_tokens == 12
    assert [(s.prob, s.rank) for s in steps] == [(0.75, 1), (0.4, 2)] and math.isnan(steps[0].prob_raw)
    assert [(c.token, c.prob_final, c.kept, c.removed_by) for c in steps[1].candidates] == [
        (" and", 0.6, True, None), (",", 0.4, True, None), (".", 0.0, False, "the server")]
    body = sent[0]
    assert body["post_sampling_probs"] is True and body["logprobs"] is True and body["top_logprobs"] == 20
    assert {k: body[k] for k in DRY_XTC} == DRY_XTC and body["top_k"] == 40 and body["max_tokens"] == 8
    assert "dry" in body["samplers"] and "xtc" in body["samplers"] and body["seed"] == 4
    # Our windows look back over the whole context; llama.cpp takes no -1 (a 400) and defaults to 64: its context is sent.
    assert backend.context == 4096 and body["dry_penalty_last_n"] == 4096 and body["repeat_last_n"] == 4096
    backend.context = None  # a server without /props: "all" is left to the server, never sent as -1
    extra = backend.body(ASK, build(dry_multiplier=0.8))["extra_body"]
    assert "dry_penalty_last_n" not in extra and "repeat_last_n" not in extra
    assert backend.body(ASK, build(dry_multiplier=0.8, dry_penalty_last_n=32))["extra_body"]["dry_penalty_last_n"] == 32


@pytest.mark.skipif(not URL, reason="set LLAMA_SERVER_URL to a running llama-server's API root (README: llama.cpp)")
def test_a_real_llama_server():
    backend = OpenAIBackend.connect(URL, timeout=300)
    assert backend.kind == "llamacpp" and backend.probs == AFTER
    *steps, done = backend.stream(ASK, build(seed=3, max_new_tokens=12, temperature=0.8, min_p=0.05, **DRY_XTC))
    assert done.text and steps and done.notice is None and done.finish_reason in ("eos", "stop", "length")
    assert "".join(s.token for s in steps) == done.text
    for s in steps:  # after its samplers: the survivors' probabilities, the chosen one among them
        assert s.candidates and 1 <= s.rank <= len(s.candidates) and 0 < s.prob <= 1
        assert sum(c.prob_final for c in s.candidates) <= 1 + 1e-3
    # top_k reaches its sampler: one survivor, probability 1, at every step
    *steps, done = backend.stream(ASK, build(seed=3, max_new_tokens=6, top_k=1))
    assert steps and all([c.prob_final for c in s.candidates if c.prob_final > 0] == [pytest.approx(1.0)] for s in steps)
