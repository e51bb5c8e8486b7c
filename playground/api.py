"""The OpenAI-compatible API: `/v1/chat/completions`, `/v1/completions` and `/v1/models`, as a FastAPI router.

`router(engine, limits, model_id, api_key)` is mounted beside the Gradio page on the same app and port
(`playground/ui/server.py`). Every reply is a `Decoder` submitted to the engine's scheduler, so API
clients are batched with the page's visitors: the same queue, model and sampler chain. With `n` > 1
each choice is its own reply; with a seed s, choice i uses seed s + i. Logprobs come from each step's
record: "processed" (default) is the probability the token was drawn with, after the whole chain
(greedy decoding takes the argmax with probability 1), "raw" (`logprobs_mode`) the model's own; a
token the chain removed has logprob -9999 (OpenAI's value for "never"). `top_logprobs` are taken from
the step's 50 recorded candidates. Errors are OpenAI-shaped (`openai_request.ApiError`); a queue at its
cap answers 429. With an API key every request must carry `Authorization: Bearer <key>`. A client that
drops its connection cancels its reply at the next step, streamed (the stream's generator is closed) or not
(`_unless_gone` watches the connection while the whole reply is computed).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import secrets
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from . import loader, openai_request
from .engine import Engine
from .limits import Limits
from .openai_request import ApiError
from .params import ParamError
from .records import PromptTooLong, Step
from .scheduler import Job, QueueFull
from .text import _BYTES

MAX_BODY = 8 * 1024 * 1024  # bytes of one request body (the texts inside are capped by openai_request)
FINISH = {"eos": "stop", "stop": "stop", "length": "length", "cancelled": "stop"}
NEVER = -9999.0


def public_id(model_id: str) -> str:
    """The model's name for clients: the bundled one by its name, a local folder by its own name (no server path)."""
    if model_id == loader.BUNDLED:
        return "SmolLM2-135M-Instruct"
    path = Path(model_id).expanduser()
    return path.name if path.is_absolute() or path.exists() else model_id


def router(engine: Engine, limits: Limits | None = None, model_id: str | None = None, api_key: str | None = None) -> APIRouter:
    limits = limits or Limits()
    name = public_id(model_id or engine.loaded.model_id)
    api = APIRouter(prefix="/v1")

    def card() -> dict:
        return {"id": name, "object": "model", "created": 0, "owned_by": "sampling-playground"}

    async def guarded(request: Request, handle):
        try:
            if api_key is not None:
                scheme, _, token = request.headers.get("authorization", "").partition(" ")
                if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_key.encode()):
                    raise ApiError("Incorrect or missing API key: send the header `Authorization: Bearer <key>` with the "
                                   "key this server was started with.", status=401, code="invalid_api_key")
            return await handle()
        except ApiError as e:
            return JSONResponse(e.body(), status_code=e.status)

    @api.get("/models")
    async def models(request: Request):
        return await guarded(request, _async(lambda: {"object": "list", "data": [card()]}))

    @api.get("/models/{model:path}")
    async def model(request: Request, model: str):
        def one():
            if model != name:
                raise ApiError(f"The model `{model}` does not exist here; this server serves `{name}`.", "model", 404,
                               "model_not_found")
            return card()
        return await guarded(request, _async(one))

    @api.post("/chat/completions")
    async def chat(request: Request):
        return await guarded(request, lambda: _complete(request, engine, limits, name, chat=True))

    @api.post("/completions")
    async def completions(request: Request):
        return await guarded(request, lambda: _complete(request, engine, limits, name, chat=False))

    return api


def _async(fn):
    async def run():
        return fn()
    return run


async def _complete(request: Request, engine: Engine, limits: Limits, name: str, chat: bool):
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ApiError(f"The request body must be at most {MAX_BODY} bytes, but is {len(body)}. Shorten the prompt.",
                       status=413)
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(f"The request body must be JSON, but could not be read: {e}.") from None
    if not isinstance(data, dict) or data.get("model") != name:
        got = data.get("model") if isinstance(data, dict) else None
        raise ApiError(f"`model` must be `{name}` (the model this server serves, see /v1/models), but is {got!r}.",
                       "model", 404 if isinstance(got, str) else 400, "model_not_found")
    # Tokenizing a long prompt is CPU work: off the event loop.
    req, prompt_len, jobs = await anyio.to_thread.run_sync(_start, engine, limits, data, chat)
    reply = Reply(engine, req, name, chat, prompt_len, jobs)
    if req.stream:
        return StreamingResponse(reply.chunks(), media_type="text/event-stream")
    try:
        return JSONResponse(await _unless_gone(request, reply.whole()))
    except Gone:  # nobody reads the answer: the replies were cancelled
        return Response(status_code=499)
    except Exception as e:  # the model failed
        raise ApiError(f"The reply failed: {e}", status=500, kind="server_error") from None


class Gone(Exception):
    """The client disconnected before its answer was ready."""


async def _unless_gone(request: Request, work):
    """Await `work` (a non-streamed reply), but cancel it when the client disconnects first: its `Reply.events`
    then cancels every choice, and the scheduler drops them at their next step. Raises `Gone` then."""
    async def gone():
        while (await request.receive())["type"] != "http.disconnect":  # the body was read: only the end can come
            pass

    task, watch = asyncio.ensure_future(work), asyncio.ensure_future(gone())
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not task.done():  # gone (or this handler cancelled): the task's cancellation closes `Reply.events`
            task.cancel()
    if task.cancelled() or not task.done():
        raise Gone
    return task.result()


def _start(engine: Engine, limits: Limits, data: dict, chat: bool) -> tuple[openai_request.Request, int, list[Job]]:
    """Read the request, check the caps, and submit one reply per choice (and per prompt)."""
    req = openai_request.chat(data, limits) if chat else openai_request.completion(data, limits)
    where = "messages" if chat else "prompt"
    try:
        prompts = [engine.prompt_ids(req.messages)] if chat else \
            [p if isinstance(p, list) else engine.tokenizer(p, add_special_tokens=False)["input_ids"] for p in req.prompts]
        for ids in prompts:
            if refused := limits.refusal(req.params.max_new_tokens, len(ids)):
                raise ApiError(refused, where, code="context_length_exceeded")
        decoders = []
        for ids in prompts:
            for i in range(req.n):
                seed = req.params.seed
                params = req.params if seed is None or i == 0 else req.params.replace(seed=(seed + i) % 2**32)
                decoders.append(engine.decoder([], params, top_n=50 if req.logprobs else 0, prompt=ids))
    except ParamError as e:
        raise ApiError(" ".join(e.messages), "logit_bias" if "logit_bias" in str(e) else None) from None
    except PromptTooLong as e:
        raise ApiError(f"`{where}` is too long: {e}", where, code="context_length_exceeded") from None
    except (ValueError, TypeError, OverflowError, IndexError) as e:  # token ids the tokenizer refuses
        raise ApiError(f"`{where}` could not be read: {e}.", where) from None
    tag, jobs = secrets.token_hex(6), []
    try:
        for i, dec in enumerate(decoders):
            jobs.append(engine.scheduler.submit(dec, f"api-{tag}-{i}"))
    except QueueFull as e:
        for job in jobs:
            job.cancel.set()
        raise ApiError(f"The server is busy: {e}", status=429, code="rate_limit_exceeded", kind="rate_limit_error") from None
    return req, sum(len(p) for p in prompts), jobs


class Reply:
    """The submitted choices of one request, read as they decode, as OpenAI objects."""

    def __init__(self, engine: Engine, req: openai_request.Request, name: str, chat: bool, prompt_len: int, jobs: list[Job]):
        self.engine, self.req, self.name, self.chat, self.jobs = engine, req, name, chat, jobs
        self.prompt_len = prompt_len
        self.id = ("chatcmpl-" if chat else "cmpl-") + secrets.token_hex(12)
        self.created = int(time.time())
        self.object = "chat.completion" if chat else "text_completion"

    async def events(self) -> AsyncIterator[tuple[int, Step | None]]:
        """(choice, step) as each step is decoded, (choice, None) when a choice ends; cancels every choice when
        the reader stops early (a dropped connection closes the generator)."""
        loop, out = asyncio.get_running_loop(), asyncio.Queue()

        def put(item):
            try:
                loop.call_soon_threadsafe(out.put_nowait, item)
            except RuntimeError:  # the loop is gone: nobody reads any more
                pass

        def pump(i: int, job: Job):
            try:
                for item in job.updates():
                    if isinstance(item, Step):
                        put((i, item))
                put((i, None))
            except BaseException as e:  # the model failed: the reader raises it
                put((i, e))

        for i, job in enumerate(self.jobs):
            threading.Thread(target=pump, args=(i, job), name=f"api-reader-{i}", daemon=True).start()
        left = len(self.jobs)
        try:
            while left:
                i, item = await out.get()
                if isinstance(item, BaseException):
                    raise item
                left -= item is None
                yield i, item
        finally:
            for job in self.jobs:
                job.cancel.set()  # a no-op for a reply that already left

    async def whole(self) -> dict:
        steps = [[] for _ in self.jobs]
        async for i, step in self.events():
            if step is not None:
                steps[i].append(step)
        choices = []
        for i, job in enumerate(self.jobs):
            done = job.dec.result()
            lp = self._logprobs(steps[i], 0) if self.req.logprobs else None
            content = {"message": {"role": "assistant", "content": done.text}} if self.chat else {"text": done.text}
            choices.append({"index": i, **content, "logprobs": lp, "finish_reason": FINISH[done.finish_reason],
                            "seed": done.seed})
        return {**self._head(), "choices": choices, "usage": self._usage(sum(len(s) for s in steps))}

    async def chunks(self) -> AsyncIterator[str]:
        sent, counts = [""] * len(self.jobs), [0] * len(self.jobs)
        try:
            if self.chat:
                for i in range(len(self.jobs)):
                    yield _sse(self._chunk(i, "", role=True))
            async for i, step in self.events():
                if step is None:
                    done = self.jobs[i].dec.result()
                    tail = done.text[len(sent[i]):]
                    if tail:
                        yield _sse(self._chunk(i, tail))
                    yield _sse(self._chunk(i, "", finish=FINISH[done.finish_reason], seed=done.seed))
                    continue
                delta = step.text[len(sent[i]):] if step.text.startswith(sent[i]) else ""
                sent[i] = sent[i] + delta
                counts[i] += 1
                if delta or self.req.logprobs:
                    yield _sse(self._chunk(i, delta, logprobs=self._logprobs([step], len(sent[i]) - len(delta))
                                           if self.req.logprobs else None))
            if self.req.include_usage:
                yield _sse({**self._head(chunk=True), "choices": [], "usage": self._usage(sum(counts))})
        except Exception as e:  # the model failed mid-reply: say so in the stream, OpenAI-style
            yield _sse(ApiError(f"The reply failed: {e}", kind="server_error").body())
        yield "data: [DONE]\n\n"

    # --- the objects ---------------------------------------------------------------------------------
    def _head(self, chunk: bool = False) -> dict:
        kind = self.object + (".chunk" if chunk and self.chat else "")
        return {"id": self.id, "object": kind, "created": self.created, "model": self.name, "system_fingerprint": None}

    def _usage(self, completion: int) -> dict:
        return {"prompt_tokens": self.prompt_len, "completion_tokens": completion, "total_tokens": self.prompt_len + completion}

    def _chunk(self, i: int, text: str, role: bool = False, finish: str | None = None, logprobs=None, seed=None) -> dict:
        if self.chat:
            delta = {"role": "assistant", "content": text} if role else ({"content": text} if text or not finish else {})
            choice = {"index": i, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        else:
            choice = {"index": i, "text": text, "logprobs": logprobs, "finish_reason": finish}
        if finish:
            choice["seed"] = seed
        return {**self._head(chunk=True), "choices": [choice]}

    def _logprobs(self, steps: list[Step], offset: int) -> dict:
        """The chat (`content`) or completions (`tokens`, `token_logprobs`...) logprobs of these steps."""
        raw, k = self.req.mode == "raw", self.req.top_logprobs
        entries = []
        for step in steps:
            prob = (lambda c: c.prob_raw) if raw else (lambda c: c.prob_final)
            chosen = next((c for c in step.candidates if c.id == step.token_id), None)
            p = step.prob_raw if raw else (chosen.prob_final if chosen else step.prob)
            top = sorted(step.candidates, key=prob, reverse=True)[:k]
            entries.append((step.token, _logprob(p), step.token_id, [(c.token, _logprob(prob(c)), c.id) for c in top]))
        if self.chat:
            return {"content": [{"token": t, "logprob": lp, "bytes": self._bytes(tid),
                                 "top_logprobs": [{"token": ct, "logprob": cl, "bytes": self._bytes(cid)} for ct, cl, cid in top]}
                                for t, lp, tid, top in entries], "refusal": None}
        offsets = [offset + sum(len(e[0]) for e in entries[:j]) for j in range(len(entries))]
        return {"tokens": [e[0] for e in entries], "token_logprobs": [e[1] for e in entries],
                "top_logprobs": [{ct: cl for ct, cl, _ in e[3]} for e in entries], "text_offset": offsets}

    def _bytes(self, token_id: int) -> list[int]:
        piece = self.engine.tokenizer.convert_ids_to_tokens(token_id) or ""
        if piece and all(ch in _BYTES for ch in piece):
            return list(bytes(_BYTES[ch] for ch in piece))
        return list(self.engine.label(token_id).encode("utf-8", "surrogatepass"))


def _logprob(p: float) -> float:
    return math.log(p) if p > 0 else NEVER


def _sse(obj: dict) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"
