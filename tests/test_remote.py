"""The `openai` backend (remote.py) against a real OpenAI-compatible server on loopback: this playground's own.

The remote reply and its per-step top tokens are compared with the local engine's for the same seed and
settings. Errors come from real servers too (a wrong key, an unknown model, a closed port); only the
replies no real server here gives (429, a stream without logprobs) come from an httpx mock transport.
"""

from __future__ import annotations

import json
import math

import httpx
import pytest
from fastapi import FastAPI

from playground import api
from playground.backends import AFTER, BackendError, LocalBackend
from playground.limits import Limits
from playground.params import ParamError, build
from playground.remote import SERVERS, OpenAIBackend
from tests.browser_util import free_port

pytest.importorskip("openai")  # requirements-dev.txt
pytestmark = pytest.mark.model

ASK = [{"role": "user", "content": "Name three colours."}]


@pytest.fixture(scope="module")
def server(engine):
    """The playground's API alone (no page), as a real HTTP server; with an API key read from the environment."""
    from playground.ui.server import Served

    app = FastAPI()
    app.include_router(api.router(engine, Limits(max_new_tokens=16, max_new_tokens_cap=64), api_key="sesame"))
    served = Served(app, None, port=free_port()).start()
    yield served
    served.close()


@pytest.fixture
def remote(server, monkeypatch):
    monkeypatch.setenv("TEST_REMOTE_KEY", "sesame")
    return OpenAIBackend.connect(server.url + "v1", api_key_env="TEST_REMOTE_KEY")


def top(candidates, n, key):  # the n best by key
    return sorted(candidates, key=key, reverse=True)[:n]


def test_detects_the_playground_and_its_only_model(remote):
    assert remote.kind == "playground" and remote.model == "SmolLM2-135M-Instruct" and remote.probs == AFTER
    assert not remote.exact and "after its whole chain" in remote.describe()


def test_same_seed_same_reply_and_the_same_top_tokens_as_the_local_engine(remote, engine):
    params = build(temperature=0.9, top_k=30, min_p=0.02, seed=11, max_new_tokens=8)
    *steps, done = remote.stream(ASK, params, top_n=20)
    *local, here = LocalBackend(engine).stream(ASK, params, top_n=50)
    assert done.text == here.text and len(steps) == len(local) == len(done.token_ids)
    assert done.finish_reason == here.finish_reason and done.prompt_tokens == here.prompt_tokens
    for far, near in zip(steps, local):
        assert far.token == near.token and far.prob == pytest.approx(near.prob, rel=1e-5)
        mine = top(near.candidates, 20, lambda c: c.prob_final)
        theirs = far.candidates
        # the same top-20 probabilities, and each token's the local engine's probability for that token
        assert [c.prob_final for c in theirs] == pytest.approx([c.prob_final for c in mine], rel=1e-5, abs=1e-12)
        local = {}
        for c in near.candidates:
            local.setdefault(c.token, []).append(c.prob_final)
        assert all(any(c.prob_final == pytest.approx(q, rel=1e-5, abs=1e-12) for q in local[c.token]) for c in theirs)
        assert all(math.isnan(c.prob_raw) for c in theirs)  # after the chain: the raw distribution is not known
        assert far.rank >= 1 and far.token_id == -1


def test_a_plain_openai_server_refuses_what_it_cannot_take_before_sending(remote):
    plain = OpenAIBackend(remote.base_url, remote.model, kind="openai", api_key_env="TEST_REMOTE_KEY")
    params = build(top_k=40, min_p=0.05, logit_bias={" cat": -5}, seed=1)
    problems = plain.refusals(params)
    assert any(p.startswith("`top_k` is not taken by a OpenAI-compatible server, but is 40. Set it back to 0") for p in problems)
    assert any(p.startswith("`min_p` is not taken") for p in problems)
    assert any("`logit_bias` keys must be token ids" in p and "' cat' is text" for p in problems)
    with pytest.raises(ParamError):
        next(plain.stream(ASK, params))
    assert plain.refusals(build(temperature=0.7, top_p=0.9, seed=3, stop=["\n"])) == []
    body = plain.body(ASK, build(temperature=0.7), top_n=5)
    assert "extra_body" not in body and body["max_completion_tokens"] == build().max_new_tokens
    assert body["logprobs"] is True and body["top_logprobs"] == 5


def test_each_server_kind_is_sent_every_field_it_takes_neutral_ones_too():
    params = build(temperature=0.8, top_k=40, sampler_order="temperature_last", seed=2)
    vllm = OpenAIBackend("http://127.0.0.1:9/v1", "m", kind="vllm").body(ASK, params)
    assert vllm["extra_body"] == {"top_k": 40, "min_p": 0.0, "repetition_penalty": 1.0, "min_tokens": 0}
    assert vllm["max_tokens"] == params.max_new_tokens and "max_completion_tokens" not in vllm
    llama = OpenAIBackend("http://127.0.0.1:9/v1", "m", kind="llamacpp")
    extra = llama.body(ASK, params)["extra_body"]
    assert extra["post_sampling_probs"] is True and extra["repeat_penalty"] == 1.0 and extra["typical_p"] == 1.0
    assert extra["samplers"][-1] == "temperature" and {"top_k", "top_p", "min_p"} <= set(extra["samplers"])
    first = llama.body(ASK, params.replace(sampler_order="transformers"))["extra_body"]["samplers"]
    assert first.index("temperature") < first.index("top_k") and sorted(first) == sorted(extra["samplers"])
    assert extra["samplers"][:2] == ["penalties", "dry"] and len(set(extra["samplers"])) == len(extra["samplers"])
    assert (extra["dry_multiplier"], extra["xtc_threshold"], extra["dry_sequence_breakers"]) == (0.0, 0.1, ["\n", ":", '"', "*"])
    assert SERVERS["playground"].fields["typical_p"] == "typical_p" and "temperature" not in SERVERS["playground"].fields


def test_server_errors_are_one_line_and_name_the_fix(server, remote, monkeypatch):
    monkeypatch.setenv("WRONG_KEY", "not-sesame")
    with pytest.raises(BackendError, match=r"refused the API key \(401\): set WRONG_KEY to a key it accepts\.") as e:
        OpenAIBackend.connect(server.url + "v1", api_key_env="WRONG_KEY")
    assert "not-sesame" not in str(e.value) and "sesame" not in str(e.value)
    with pytest.raises(BackendError, match="has no model `gpt-9`; it serves: SmolLM2-135M-Instruct"):
        OpenAIBackend.connect(server.url + "v1", model="gpt-9", api_key_env="TEST_REMOTE_KEY")
    with pytest.raises(BackendError, match=r"Cannot reach the server at http://127\.0\.0\.1:\d+/v1: .*Is it running\?"):
        OpenAIBackend.connect(f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.delenv("UNSET_KEY", raising=False)
    with pytest.raises(BackendError, match="UNSET_KEY is empty or unset"):
        OpenAIBackend(server.url + "v1", "m", api_key_env="UNSET_KEY")
    # the server's own validation reaches the user as its message
    with pytest.raises(BackendError, match=r"answered 400: `max_tokens` must be at most 64"):
        list(remote.stream(ASK, build(max_new_tokens=500)))


def _mock(handler) -> OpenAIBackend:
    return OpenAIBackend("http://mock/v1", "m", http_client=httpx.Client(transport=httpx.MockTransport(handler)))


def test_a_busy_server_and_a_server_without_logprobs():
    busy = _mock(lambda request: httpx.Response(429, json={"error": {"message": "slow down"}}))
    with pytest.raises(BackendError, match=r"busy or over its rate limit \(429\)"):
        list(busy.stream(ASK, build(seed=1)))

    def plain(request):
        chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": t}, "finish_reason": None}]}
                  for t in ("Red", ", blue")]
        chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}})
        text = "".join(f"data: {_json(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return httpx.Response(200, text=text, headers={"content-type": "text/event-stream"})

    *steps, done = _mock(plain).stream(ASK, build(seed=1))
    assert [s.token for s in steps] == ["Red", ", blue"] and all(s.candidates == [] for s in steps)
    assert done.text == "Red, blue" and done.finish_reason == "eos" and done.prompt_tokens == 9
    assert done.notice == "the server returned no logprobs, so there are no candidates to plot"


def _json(obj) -> str:
    import json

    base = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    return json.dumps({**base, **obj})


def test_the_command_line_prints_the_remote_reply(server, engine, monkeypatch, capsys):
    from playground.cli import main

    monkeypatch.setenv("TEST_REMOTE_KEY", "sesame")
    args = ["generate", "--prompt", ASK[0]["content"], "--backend", "openai", "--base-url", server.url + "v1",
            "--api-key-env", "TEST_REMOTE_KEY", "--seed", "5", "--set", "max_new_tokens=6", "--set", "top_k=20"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    *_, here = LocalBackend(engine).stream(ASK, build(top_k=20, seed=5, max_new_tokens=6))
    assert out == here.text + "\n" and "on a Sampling Playground at" in err and "sesame" not in out + err
    assert main([*args, "--json", "--top-n", "3"]) == 0
    *steps, final = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert final["text"] == here.text and len(steps) == len(here.token_ids)
    assert all(len(s["candidates"]) == 3 and s["candidates"][0]["prob_raw"] is None for s in steps)
    monkeypatch.setenv("TEST_REMOTE_KEY", "wrong")
    assert main(args) == 1 and "refused the API key (401)" in capsys.readouterr().err


def test_a_server_that_echoes_the_key_never_shows_it(monkeypatch):
    # Some gateways put the key they were sent into their error text: the one line masks it.
    monkeypatch.setenv("ECHO_KEY", "sk-SECRET-123")

    def echo(request):
        return httpx.Response(500, json={"error": {"message": f"bad upstream for {request.headers['authorization']}"}})

    backend = OpenAIBackend("http://mock/v1", "m", api_key_env="ECHO_KEY",
                            http_client=httpx.Client(transport=httpx.MockTransport(echo)))
    with pytest.raises(BackendError) as e:
        list(backend.stream(ASK, build(seed=1)))
    assert "sk-SECRET-123" not in str(e.value) and "Bearer ***" in str(e.value)
