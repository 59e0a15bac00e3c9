"""OpenAI's Responses API object and its stream events, built from a running turn: each
python step a `code_interpreter_call` output item (code, logs, images as links), the answer's
text a `message` item."""

import copy
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing

from api.openai.content import Cutoff, approximate_tokens, result_text
from api.openai.run import Run
from api.openai.schemas import ResponseCreateRequest
from errors import ServiceError

PREFIX = "resp_"
NONCE_CHARS = 24  # a response id is resp_<nonce><conversation id>
STEP_STATUS = {"Success": "completed", "Failure": "failed", "stopped": "incomplete"}


class Answer:
    """The response object and its stream events, built from a running turn's chunks."""

    def __init__(self, run: Run, body: ResponseCreateRequest, cutoff: Cutoff) -> None:
        self.id = f"{PREFIX}{uuid.uuid4().hex[:NONCE_CHARS]}{run.conversation.id}"
        self._run, self._body, self._cutoff = run, body, cutoff
        self._created = int(time.time())
        self._output: list[dict] = []
        self._message: dict | None = None  # the message item being written
        self._calls: dict[int, dict] = {}  # step index -> its code_interpreter_call item
        self._sequence = 0
        self._status = "in_progress"
        self._error: dict | None = None
        self._usage: dict | None = None
        self.failure: ServiceError | None = None

    async def whole(self) -> dict:
        async for _event in self._events():
            pass
        if self.failure is not None:
            raise self.failure
        return self._snapshot()

    async def events(self) -> AsyncIterator[str]:
        async for event in self._events():
            # ASCII escapes: code output may hold text UTF-8 cannot encode (a lone surrogate).
            yield f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=True)}\n\n"

    async def _events(self) -> AsyncIterator[dict]:
        yield self._event("response.created", response=self._snapshot())
        yield self._event("response.in_progress", response=self._snapshot())
        try:
            async with aclosing(self._run.chunks) as chunks:
                async for chunk in chunks:
                    for update in chunk.get("steps") or []:
                        async for event in self._step(update):
                            yield event
                    for event in self._text(self._cutoff.feed(chunk.get("output") or "")):
                        yield event
                    if self._cutoff.reason:
                        break  # max_output_tokens: closing the stream stops the turn
        except ServiceError as error:
            self.failure = error
        for event in [*self._text(self._cutoff.flush()), *self._close_message()]:
            yield event
        yield self._finish()

    async def _step(self, update: dict) -> AsyncIterator[dict]:
        """A step's code when it is called, its outputs when it returns."""
        if update["index"] not in self._calls:
            for event in [*self._close_message(), *self._call(update)]:
                yield event
        if update.get("status", "running") != "running":
            item = self._calls[update["index"]]
            item["status"] = STEP_STATUS.get(update["status"], "completed")
            item["outputs"] = await self._outputs(update)
            yield self._about("response.code_interpreter_call.completed", item)
            yield self._done(item)

    def _call(self, step: dict) -> list[dict]:
        """A new code_interpreter_call item, its code sent whole, now interpreting."""
        item = self._add({"id": f"ci_{uuid.uuid4().hex}", "type": "code_interpreter_call"})
        item.update(status="in_progress", code="", container_id=self._run.conversation.id)
        item["outputs"] = None
        self._calls[step["index"]] = item
        events = [
            self._added(item),
            self._about("response.code_interpreter_call.in_progress", item),
        ]
        item["code"] = step.get("code", "")
        events += [
            self._about("response.code_interpreter_call_code.delta", item, delta=item["code"]),
            self._about("response.code_interpreter_call_code.done", item, code=item["code"]),
        ]
        item["status"] = "interpreting"
        return [*events, self._about("response.code_interpreter_call.interpreting", item)]

    async def _outputs(self, step: dict) -> list[dict]:
        """What the step printed, returned and raised, as logs; its images as links."""
        texts = (step.get("stdout"), result_text(step.get("result")), step.get("stderr"))
        logs = "".join(text if text.endswith("\n") else f"{text}\n" for text in texts if text)
        urls = await self._run.image_links(step.get("images") or [])
        outputs = [{"type": "logs", "logs": logs}] if logs else []
        return [*outputs, *({"type": "image", "url": url} for url in urls)]

    def _text(self, delta: str) -> list[dict]:
        if not delta:
            return []
        events = []
        if self._message is None:
            item = self._add({"id": f"msg_{uuid.uuid4().hex}", "type": "message"})
            item.update(role="assistant", status="in_progress", content=[])
            self._message = item
            events.append(self._added(item))
            item["content"].append(
                {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            )
            part = copy.deepcopy(item["content"][0])
            events.append(
                self._about("response.content_part.added", item, content_index=0, part=part)
            )
        self._message["content"][0]["text"] += delta
        events.append(
            self._about(
                "response.output_text.delta",
                self._message,
                content_index=0,
                delta=delta,
                logprobs=[],
            )
        )
        return events

    def _close_message(self) -> list[dict]:
        item, self._message = self._message, None
        if item is None:
            return []
        part = item["content"][0]
        item["status"] = "completed"
        return [
            self._about(
                "response.output_text.done", item, content_index=0, text=part["text"], logprobs=[]
            ),
            self._about(
                "response.content_part.done", item, content_index=0, part=copy.deepcopy(part)
            ),
            self._done(item),
        ]

    def _finish(self) -> dict:
        self._usage = self._count()
        if self.failure is not None:
            self._status = "failed"
            self._error = {"code": "server_error", "message": self.failure.message}
            return self._event("response.failed", response=self._snapshot())
        if self._cutoff.reason == "length":
            self._status = "incomplete"
            return self._event("response.incomplete", response=self._snapshot())
        self._status = "completed"
        return self._event("response.completed", response=self._snapshot())

    def _count(self) -> dict:
        counted = self._run.usage.totals()
        sent = "".join(part["text"] for item in self._output for part in item.get("content") or [])
        prompt, written = counted or (
            approximate_tokens(self._run.prompt),
            approximate_tokens(sent),
        )
        return {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": written,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + written,
        }

    def _add(self, item: dict) -> dict:
        self._output.append(item)
        return item

    def _event(self, kind: str, **fields) -> dict:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _about(self, kind: str, item: dict, **fields) -> dict:
        """An event about one output item (its position and id), with `fields`."""
        index = self._output.index(item)
        return self._event(kind, output_index=index, item_id=item["id"], **fields)

    def _added(self, item: dict) -> dict:
        index = self._output.index(item)
        return self._event(
            "response.output_item.added", output_index=index, item=copy.deepcopy(item)
        )

    def _done(self, item: dict) -> dict:
        index = self._output.index(item)
        return self._event(
            "response.output_item.done", output_index=index, item=copy.deepcopy(item)
        )

    def _snapshot(self) -> dict:
        body = self._body
        incomplete = {"reason": "max_output_tokens"} if self._status == "incomplete" else None
        return {
            "id": self.id,
            "object": "response",
            "created_at": self._created,
            "status": self._status,
            "model": self._run.model,
            "output": copy.deepcopy(self._output),
            "usage": self._usage,
            "error": self._error,
            "incomplete_details": incomplete,
            "instructions": body.instructions,
            "metadata": body.metadata or {},
            "previous_response_id": body.previous_response_id,
            "conversation": {"id": self._run.conversation.id},
            "max_output_tokens": body.max_output_tokens,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [{"type": "code_interpreter", "container": self._run.conversation.id}],
            "text": {"format": {"type": "text"}},
            "truncation": "disabled",
            "background": False,
            "store": True,
            "user": body.user,
        }
