"""One chat completion: a turn's chunks turned into OpenAI's answer, whole or as SSE chunks."""

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

from langchain_core.callbacks import UsageMetadataCallbackHandler
from langchain_core.outputs import LLMResult

from api.openai.content import Content, Cutoff, approximate_tokens
from api.openai.errors import error_body
from chains import ChatChunk
from errors import ServiceError

log = logging.getLogger(__name__)
DONE = "data: [DONE]\n\n"


class TurnUsage(UsageMetadataCallbackHandler):
    """The tokens of every model call of a turn (routing, each agent step, the answer)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = self.unreported = 0

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        super().on_llm_end(response, **kwargs)
        generations = response.generations[0] if response.generations else []
        message = getattr(generations[0], "message", None) if generations else None
        self.calls += 1
        self.unreported += not getattr(message, "usage_metadata", None)

    def totals(self) -> tuple[int, int] | None:
        """(input, output) tokens, or None unless every call of the turn reported its own
        (a model streaming without usage, or the offline model, does not)."""
        if not self.calls or self.unreported:
            return None
        usage = self.usage_metadata.values()
        return sum(u["input_tokens"] for u in usage), sum(u["output_tokens"] for u in usage)


class Completion:
    """The answer to one request, from `chunks` (a running turn) until it ends or is cut."""

    def __init__(
        self,
        model: str,
        chunks: AsyncIterator[ChatChunk],
        link_images: Callable[[list[str]], Awaitable[list[str]]],
        cutoff: Cutoff,
        usage: TurnUsage,
        prompt: str,
    ) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model
        self._chunks = chunks
        self._link_images = link_images
        self._cutoff = cutoff
        self._usage = usage
        self._prompt = prompt
        self._content = Content()
        self.sent = ""

    async def deltas(self) -> AsyncIterator[str]:
        """The content as it may be sent. A cut (a stop sequence, max_tokens) closes the
        turn's stream, which stops the turn as the page's stop button does."""
        async with aclosing(self._chunks) as chunks:  # type: ignore[type-var]  # a generator
            async for chunk in chunks:
                text = self._cutoff.feed(self._content.add(chunk))
                if text:
                    self.sent += text
                    yield text
                if self._cutoff.reason:
                    return
        links = self._content.links(await self._link_images(self._content.images))
        text = self._cutoff.feed(links) + self._cutoff.flush()
        if text:
            self.sent += text
            yield text

    async def whole(self) -> dict:
        """OpenAI's `chat.completion` object."""
        async for _delta in self.deltas():
            pass
        message: dict = {
            "role": "assistant",
            "content": self.sent,
            "refusal": None,
            "annotations": [],
        }
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
        counted = self._usage.totals()
        prompt, completion = counted or (
            approximate_tokens(self._prompt),
            approximate_tokens(self.sent),
        )
        total = prompt + completion
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}

    def _finish(self) -> str:
        return "length" if self._cutoff.reason == "length" else "stop"

    def _envelope(self, kind: str) -> dict:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

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
