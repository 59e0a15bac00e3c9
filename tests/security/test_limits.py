"""Per-user rate and concurrency limits, body and message size, over real HTTP."""

import asyncio
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from security.guards import build_guards, install_security_middleware, run_slot
from security.limits import RateLimiter, TooManyRequests, check_message_length
from tests.security.conftest import ALICE_KEY, BOB_KEY, make_settings, serve
from tests.support.aio import run_async

ALICE = {"X-API-Key": ALICE_KEY}
BOB = {"X-API-Key": BOB_KEY}


class Message(BaseModel):
    message: str


def limited_app(**overrides: object) -> FastAPI:
    settings = make_settings(**overrides)
    guards = build_guards(settings)
    app = FastAPI()
    app.state.guards = guards
    install_security_middleware(app, settings, body_limit_overrides={r"/upload$": 10_000})
    release = asyncio.Event()

    @app.get("/ping")
    async def ping(user: Annotated[str, Depends(guards.user)]) -> dict:
        return {"user": user}

    @app.post("/run")
    async def run(user: Annotated[str, Depends(guards.run_slot)]) -> dict:
        await release.wait()
        return {"user": user}

    @app.post("/stream")
    async def stream(user: Annotated[str, Depends(run_slot)]) -> StreamingResponse:
        async def chunks():
            yield b"started\n"
            await release.wait()
            yield b"done\n"

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/running/{user}")
    async def running(user: str) -> dict:
        return {"running": guards.runs.running(user)}

    @app.post("/release")
    async def release_all() -> dict:
        release.set()
        return {}

    @app.post("/chat")
    async def chat(body: Message, user: Annotated[str, Depends(guards.user)]) -> dict:
        check_message_length(body.message, settings.max_message_chars)
        return {"chars": len(body.message)}

    @app.post("/upload")
    @app.post("/echo")
    async def echo(request: Request) -> dict:
        return {"bytes": len(await request.body())}

    return app


def test_a_user_over_the_rate_gets_429_with_retry_after_and_others_do_not() -> None:
    with serve(limited_app(rate_limit_per_minute=3)) as url:
        answers = [httpx.get(f"{url}/ping", headers=ALICE).status_code for _ in range(4)]
        refused = httpx.get(f"{url}/ping", headers=ALICE)
        bob = httpx.get(f"{url}/ping", headers=BOB)
    assert answers == [200, 200, 200, 429]
    assert int(refused.headers["retry-after"]) >= 1
    assert "rate limit" in refused.json()["detail"]
    assert bob.json() == {"user": "bob"}


def test_the_bucket_refills_with_time() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=2, clock=lambda: now[0])
    limiter.take("a")
    limiter.take("a")
    with pytest.raises(TooManyRequests) as refused:
        limiter.take("a")
    assert refused.value.headers["Retry-After"] == "30"
    now[0] = 30.0
    limiter.take("a")


async def _concurrent_runs(url: str, path: str) -> tuple[list[int], int, int]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        first = [asyncio.create_task(client.post(path, headers=ALICE)) for _ in range(2)]
        # Once both runs hold their slots, a third is refused and another user's is not.
        for _ in range(1000):
            if (await client.get("/running/alice")).json()["running"] == 2:
                break
            await asyncio.sleep(0.01)
        third = await client.post(path, headers=ALICE)
        bob = asyncio.create_task(client.post(path, headers=BOB))
        await asyncio.sleep(0.05)
        await client.post("/release")
        done = [(await task).status_code for task in first]
        after = await client.post(path, headers=ALICE)
        return [*done, (await bob).status_code], third.status_code, after.status_code


@pytest.mark.parametrize("path", ["/run", "/stream"])
def test_concurrent_runs_are_limited_per_user_until_the_answer_is_sent(path: str) -> None:
    with serve(limited_app(max_concurrent_runs_per_user=2)) as url:
        finished, third, after = run_async(_concurrent_runs(url, path))
    assert third == 429
    assert finished == [200, 200, 200]
    assert after == 200


@pytest.mark.parametrize("path", ["/run", "/stream"])
def test_the_run_slot_is_free_before_the_last_byte_of_the_answer_goes_out(path: str) -> None:
    """A client that has read a whole answer may start its next run at once: the slot is not
    still held while the server finishes the request after sending it."""
    app = limited_app(max_concurrent_runs_per_user=1)
    held_at_last_byte: list[int] = []

    def watch_last_byte(inner):  # outermost: sees what the server is handed
        async def watched(scope, receive, send):
            async def watching_send(message):
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    held_at_last_byte.append(app.state.guards.runs.running("alice"))
                await send(message)

            await inner(scope, receive, watching_send if scope["type"] == "http" else send)

        return watched

    app.add_middleware(watch_last_byte)
    with serve(app) as url:
        httpx.post(f"{url}/release")
        answers = [httpx.post(f"{url}{path}", headers=ALICE).status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    assert held_at_last_byte[-3:] == [0, 0, 0]


def test_a_body_over_the_limit_gets_413_whether_declared_or_streamed() -> None:
    def chunked():
        for _ in range(10):
            yield b"x" * 500

    with serve(limited_app(max_request_bytes=2000)) as url:
        small = httpx.post(f"{url}/echo", content=b"x" * 2000)
        declared = httpx.post(f"{url}/echo", content=b"x" * 2001)
        streamed = httpx.post(f"{url}/echo", content=chunked())
        json_body = httpx.post(f"{url}/chat", headers=ALICE, json={"message": "y" * 3000})
        upload = httpx.post(f"{url}/upload", content=b"x" * 9000)
    assert small.json() == {"bytes": 2000}
    for refused in (declared, streamed, json_body):
        assert refused.status_code == 413
        assert refused.json() == {"detail": "request body is larger than the limit of 2000 bytes"}
    assert upload.json() == {"bytes": 9000}


def test_a_message_over_the_length_limit_gets_413_naming_the_limit() -> None:
    with serve(limited_app(max_message_chars=10)) as url:
        ok = httpx.post(f"{url}/chat", headers=ALICE, json={"message": "1234567890"})
        long = httpx.post(f"{url}/chat", headers=ALICE, json={"message": "12345678901"})
    assert ok.json() == {"chars": 10}
    assert long.status_code == 413
    assert "10 characters" in long.json()["detail"]


async def _abandon_stream(url: str) -> list[int]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        async with client.stream("POST", "/stream", headers=ALICE) as response:
            async for _ in response.aiter_bytes():
                break  # the client goes away in the middle of the answer
        counts = []
        for _ in range(500):
            counts.append((await client.get("/running/alice")).json()["running"])
            if counts[-1] == 0:
                break
            await asyncio.sleep(0.01)
        return counts


def test_a_client_that_hangs_up_mid_stream_gives_its_slot_back() -> None:
    with serve(limited_app(max_concurrent_runs_per_user=1)) as url:
        counts = run_async(_abandon_stream(url))
    assert counts[-1] == 0
