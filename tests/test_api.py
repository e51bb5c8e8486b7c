"""The OpenAI-compatible API, driven by the official `openai` client, unmodified, on loopback.

The app is served as `app.py` serves it (the page and the API mounted on one FastAPI app, one port).
Replies are compared with `Engine.stream` (what the command line prints) for the same settings and seed.
"""

from __future__ import annotations

import math
import threading

import httpx
import pytest

from playground.limits import Limits
from tests.browser_util import free_port

openai = pytest.importorskip("openai")  # requirements-dev.txt
pytestmark = pytest.mark.model

MODEL = "SmolLM2-135M-Instruct"
ASK = [{"role": "user", "content": "Name three colours."}]
SAMPLED = dict(temperature=0.8, top_p=0.95, seed=7, max_tokens=10)


@pytest.fixture(scope="module")
def served(engine):
    from playground.ui.server import Served, build_app

    server = Served(*build_app(engine, Limits(max_new_tokens=16, max_new_tokens_cap=64)), port=free_port()).start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def client(served):
    return openai.OpenAI(base_url=served.url + "v1", api_key="unused", max_retries=0, timeout=300)


def solo(engine, messages=ASK, prompt=None, **settings):
    """The reply `Engine.stream` (the command line's path) gives for these settings, with its steps."""
    from playground.params import build

    values = {("max_new_tokens" if k == "max_tokens" else k): v for k, v in settings.items()}
    done = list(engine.stream(messages, build(values), prompt=prompt))[-1]
    return done


def chat(client, **kw):
    return client.chat.completions.create(model=MODEL, messages=kw.pop("messages", ASK), **kw)


def test_models_and_page_on_the_same_port(client, served):
    assert [m.id for m in client.models.list()] == [MODEL]
    assert client.models.retrieve(MODEL).id == MODEL
    page = httpx.get(served.url, timeout=60)
    assert page.status_code == 200 and "Sampling playground" in page.text


def test_chat_same_seed_same_text_as_the_command_line(client, engine):
    reply = chat(client, **SAMPLED)
    done = solo(engine, **SAMPLED)
    choice = reply.choices[0]
    assert choice.message.content == done.text and choice.message.role == "assistant"
    assert choice.finish_reason == {"eos": "stop", "stop": "stop", "length": "length"}[done.finish_reason]
    assert reply.usage.prompt_tokens == done.prompt_tokens and reply.usage.completion_tokens == len(done.token_ids)
    assert chat(client, **SAMPLED).choices[0].message.content == done.text  # same seed, same text


def test_the_page_on_the_same_app_gives_the_same_text(client, served):
    """The page, mounted beside the API, answers its own /chat with the same reply for the same seed."""
    import html

    from gradio_client import Client

    from playground.params import build
    from playground.ui import controls

    values = controls.to_values(build(temperature=0.8, top_p=0.95, seed=7, max_new_tokens=10))
    history = Client(served.url, verbose=False).predict(ASK[0]["content"], [], "", *values, api_name="/chat")[0]
    reply = history[-1]["content"]
    reply = reply if isinstance(reply, str) else "".join(p.get("text", "") for p in reply)
    assert html.unescape(reply) == chat(client, **SAMPLED).choices[0].message.content


def test_streaming_gives_the_same_text_in_pieces(client, engine):
    chunks = list(chat(client, stream=True, stream_options={"include_usage": True}, **SAMPLED))
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    done = solo(engine, **SAMPLED)
    assert "".join(pieces) == done.text
    assert sum(1 for p in pieces if p) > 1  # streamed, not one block
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["length"]
    assert chunks[-1].usage.completion_tokens == len(done.token_ids)


def test_extra_fields_reach_the_chain(client, engine):
    """top_k=1 at temperature 1 keeps only the argmax: the greedy reply, whatever the seed."""
    greedy = solo(engine, temperature=0, max_tokens=10).text
    assert chat(client, max_tokens=10, seed=3, extra_body={"top_k": 1}).choices[0].message.content == greedy
    assert chat(client, max_tokens=10, seed=3, extra_body={"repeat_penalty": 1.0, "min_p": 1.0}).choices[0].message.content == greedy


def test_logprobs_are_the_recorded_chain_probabilities(client, engine):
    reply = chat(client, logprobs=True, top_logprobs=3, **SAMPLED)
    done = solo(engine, **SAMPLED)
    content = reply.choices[0].logprobs.content
    assert [t.token for t in content] == [s.token for s in done.steps]
    for entry, step in zip(content, done.steps):
        assert entry.logprob == pytest.approx(math.log(step.prob), abs=1e-4)  # batched vs solo: ~1e-5 apart
        ranked = sorted(step.candidates, key=lambda c: c.prob_final, reverse=True)[:3]
        assert [t.token for t in entry.top_logprobs] == [c.token for c in ranked]
        for top, c in zip(entry.top_logprobs, ranked):
            assert top.logprob == (pytest.approx(math.log(c.prob_final), abs=1e-4) if c.prob_final > 0 else -9999.0)
        assert bytes(entry.bytes).decode("utf-8", "replace") == entry.token or "<0x" in entry.token
    raw = chat(client, logprobs=True, top_logprobs=2, extra_body={"logprobs_mode": "raw"}, **SAMPLED)
    for entry, step in zip(raw.choices[0].logprobs.content, done.steps):
        assert entry.logprob == pytest.approx(math.log(step.prob_raw), abs=1e-4)


def test_stop_cuts_the_reply(client, engine):
    full = solo(engine, **SAMPLED).text
    word = full.split()[2]
    reply = chat(client, stop=[word], **SAMPLED).choices[0]
    assert reply.message.content == full[: full.index(word)] and reply.finish_reason == "stop"


def test_n_choices_take_consecutive_seeds(client, engine):
    reply = chat(client, n=2, **SAMPLED)
    assert [c.index for c in reply.choices] == [0, 1]
    assert [c.message.content for c in reply.choices] == [solo(engine, **SAMPLED).text, solo(engine, **{**SAMPLED, "seed": 8}).text]


def test_completions_take_a_raw_prompt(client, engine):
    prompt = "The capital of France is"
    ids = engine.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    reply = client.completions.create(model=MODEL, prompt=prompt, max_tokens=6, temperature=0, logprobs=2)
    done = solo(engine, prompt=ids, temperature=0, max_tokens=6)
    assert reply.choices[0].text == done.text and reply.usage.prompt_tokens == len(ids)
    assert reply.choices[0].logprobs.tokens == [s.token for s in done.steps]
    streamed = client.completions.create(model=MODEL, prompt=prompt, max_tokens=6, temperature=0, stream=True)
    assert "".join(c.choices[0].text for c in streamed) == done.text


@pytest.mark.parametrize("kw, param, words", [
    (dict(temperature=5), "temperature", "`temperature` must be in [0, 3], but is 5"),
    (dict(extra_body={"top_kk": 3}), "top_kk", "Did you mean `top_k`?"),
    (dict(max_tokens=65), "max_tokens", "`max_tokens` must be at most 64 on this instance"),
    (dict(max_completion_tokens=0), "max_completion_tokens", "`max_completion_tokens` must be in [1, 4096]"),
    (dict(top_logprobs=3), "top_logprobs", "needs `logprobs`"),
    (dict(extra_body={"num_beams": 2}), "num_beams", "beam search"),
    (dict(messages=[{"role": "tool", "content": "x"}]), "messages[0]", "role"),
])
def test_bad_requests_name_the_field(client, kw, param, words):
    with pytest.raises(openai.BadRequestError) as e:
        chat(client, **kw)
    assert e.value.status_code == 400 and e.value.param == param and words in e.value.message


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-4o", messages=ASK)
    assert e.value.param == "model" and MODEL in e.value.message


def test_api_key(engine):
    """With a key, a request without it or with a wrong one is refused (401) and the key is never echoed."""
    import fastapi

    from playground import api
    from playground.ui.server import Served

    app = fastapi.FastAPI()
    app.include_router(api.router(engine, api_key="s3cret-key"))
    server = Served(app, demo=None, port=free_port()).start()
    try:
        url = server.url + "v1"
        with pytest.raises(openai.AuthenticationError) as e:
            openai.OpenAI(base_url=url, api_key="wrong", max_retries=0).models.list()
        assert e.value.status_code == 401 and e.value.code == "invalid_api_key" and "s3cret" not in e.value.message
        bare = httpx.post(url + "/chat/completions", json={"model": MODEL, "messages": ASK}, timeout=60)
        assert bare.status_code == 401 and "s3cret" not in bare.text
        assert [m.id for m in openai.OpenAI(base_url=url, api_key="s3cret-key", max_retries=0).models.list()] == [MODEL]
    finally:
        server.close()


def test_two_concurrent_clients_are_both_served(client, engine):
    out = {}

    def ask(seed):
        out[seed] = chat(client, **{**SAMPLED, "seed": seed}).choices[0].message.content

    threads = [threading.Thread(target=ask, args=(s,)) for s in (11, 12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert out == {s: solo(engine, **{**SAMPLED, "seed": s}).text for s in (11, 12)}


def test_api_token_flag_reads_the_environment(monkeypatch):
    import app

    monkeypatch.delenv("PLAYGROUND_API_KEY_ENV", raising=False)
    monkeypatch.delenv("PLAYGROUND_API_TOKEN_ENV", raising=False)
    assert app.parse_args(["--api-token-env", "PLAYGROUND_KEY"]).api_token_env == "PLAYGROUND_KEY"
    assert app.api_token(app.parse_args([])) is None
    assert app.api_token(app.parse_args(["--api-token-env", "PLAYGROUND_KEY"]), {"PLAYGROUND_KEY": " k3y "}) == "k3y"
    with pytest.raises(SystemExit) as e:
        app.api_token_from("PLAYGROUND_KEY", {})
    assert "`--api-token-env` names PLAYGROUND_KEY, but PLAYGROUND_KEY is unset or empty" in str(e.value)
    monkeypatch.setenv("PLAYGROUND_API_TOKEN_ENV", "PLAYGROUND_KEY")
    assert app.api_token(app.parse_args([]), {"PLAYGROUND_KEY": "t0ken"}) == "t0ken"


def test_the_remote_key_variable_alone_does_not_leave_the_api_open(monkeypatch):
    # PLAYGROUND_API_KEY_ENV once named the /v1 API's token too: an older setup is told the new name at startup
    # instead of serving its API without a token.
    import app

    monkeypatch.delenv("PLAYGROUND_API_TOKEN_ENV", raising=False)
    monkeypatch.setenv("PLAYGROUND_API_KEY_ENV", "PLAYGROUND_KEY")
    for args in (app.parse_args([]), app.parse_args(["--api-key-env", "PLAYGROUND_KEY"])):
        with pytest.raises(SystemExit) as e:
            app.api_token(args, {"PLAYGROUND_KEY": "k3y"})
        assert "PLAYGROUND_API_TOKEN_ENV" in str(e.value) and "--api-token-env PLAYGROUND_KEY" in str(e.value)
        assert "k3y" not in str(e.value)
    with pytest.raises(SystemExit, match="PLAYGROUND_API_TOKEN_ENV"):
        app.main([])  # before any model is loaded
    both = app.parse_args(["--api-token-env", "PLAYGROUND_TOKEN"])
    assert app.api_token(both, {"PLAYGROUND_KEY": "k3y", "PLAYGROUND_TOKEN": "t0ken"}) == "t0ken"


def test_completions_refuse_too_many_replies_before_any_work(client, engine):
    before = engine.scheduler.submitted
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=MODEL, prompt=["a", "b", "c", "d", "e"], n=2)
    assert e.value.param == "prompt" and "at most 8 replies" in e.value.message
    assert engine.scheduler.submitted == before
