"""One chat completion: a turn's chunks turned into OpenAI's answer, whole or as SSE chunks."""

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from api.openai.content import Content, Cutoff, approximate_tokens
from api.openai.errors import error_body
from api.openai.run import Run
from errors import ServiceError

log = logging.getLogger(__name__)
DONE = "data: [DONE]\n\n"


class Completion:
    """The answer to one request, from a running turn until it ends or is cut."""

    def __init__(self, run: Run, cutoff: Cutoff) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self._run = run
        self._cutoff = cutoff
        self._content = Content()
        self.sent = ""

    async def deltas(self) -> AsyncIterator[str]:
        """The content as it may be sent. A cut (a stop sequence, max_tokens) closes the
        turn's stream, which stops the turn as the page's stop button does."""
        async with aclosing(self._run.chunks) as chunks:
            async for chunk in chunks:
                text = self._cutoff.feed(self._content.add(chunk))
                if text:
                    self.sent += text
                    yield text
                if self._cutoff.reason:
                    return
        links = self._content.links(await self._run.image_links(self._content.images))
        text = self._cutoff.feed(links) + self._cutoff.flush()
        if text:
            self.sent += text
            yield text

    async def whole(self) -> dict:
        """OpenAI's `chat.completion` object."""
        async for _delta in self.deltas():
            pass
        message: dict = {"role": "assistant", "content": self.sent, "refusal": None}
        message["annotations"] = []
        choice = {"index": 0, "message": message, "finish_reason": self._finish(), "logprobs": None}
        return {**self._envelope("chat.completion"), "choices": [choice], "usage": self.usage()}

    async def events(self, include_usage: bool) -> AsyncIterator[str]:
        """Server-sent `chat.completion.chunk`s, then `[DONE]`; a failure after the start is
        an `error` event (which the OpenAI SDKs raise), then `[DONE]`."""
        extra = {"usage": None} if include_usage else {}
        yield self._event({"role": "assistant", "content": ""}, **extra)
        try:
            async for text in self.deltas():
                yield self._event({"content": text}, **extra)
        except Exception as error:
            if not isinstance(error, ServiceError):
                log.exception("a streamed chat completion failed")
            yield _sse(_stream_error(error))
            yield DONE
            return
        yield self._event({}, self._finish(), **extra)
        if include_usage:
            usage = {"choices": [], "usage": self.usage()}
            yield _sse({**self._envelope("chat.completion.chunk"), **usage})
        yield DONE

    def usage(self) -> dict:
        counted = self._run.usage.totals()
        prompt, completion = counted or (
            approximate_tokens(self._run.prompt),
            approximate_tokens(self.sent),
        )
        total = prompt + completion
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}

    def _finish(self) -> str:
        return "length" if self._cutoff.reason == "length" else "stop"

    def _envelope(self, kind: str) -> dict:
        return {"id": self.id, "object": kind, "created": self.created, "model": self._run.model}

    def _event(self, delta: dict, finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return _sse({**self._envelope("chat.completion.chunk"), "choices": [choice], **extra})


def _stream_error(error: Exception) -> dict:
    if isinstance(error, ServiceError):
        return error_body(error.status_code, error.message)
    return error_body(500, "internal error; see the service log")


def _sse(payload: dict) -> str:
    # ASCII escapes: code output may hold text UTF-8 cannot encode (a lone surrogate).
    return f"data: {json.dumps(payload, ensure_ascii=True)}\n\n"
