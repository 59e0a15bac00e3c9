"""A turn started for an OpenAI-style request (chat completion or response): in the caller's
conversation, through the published runnable its model names, counting its tokens."""

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from fastapi import Request, Response
from langchain_core.callbacks import UsageMetadataCallbackHandler
from langchain_core.messages import SystemMessage
from langchain_core.outputs import LLMResult
from langchain_core.runnables import RunnableConfig
from sse_starlette import EventSourceResponse

from api.images import image_bytes, image_name
from api.openai.conversation import HEADER
from api.openai.messages import as_langchain, attachments, question
from api.openai.models import CODE_INTERPRETER
from api.openai.schemas import ChatMessage
from chains import ChatChunk, agent_chunks
from conversations import Conversation
from errors import PayloadTooLarge
from llms import model_errors
from wiring import Services

# A streamed answer sends an SSE comment this often, so a long python step never looks idle.
KEEP_ALIVE_SECONDS = 15


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


@dataclass
class Run:
    """A running turn: its chunks, its token counts, and links for the images it shows."""

    svc: Services
    request: Request
    model: str
    conversation: Conversation
    chunks: AsyncGenerator[ChatChunk]
    usage: TurnUsage
    prompt: str

    async def image_links(self, images: list[str]) -> list[str]:
        """Signed URLs of the images. The routing chain keeps its turns, steps included, so
        its images are served from there; an agent turn is not kept, so its images become
        files of the conversation (figure-<digest>.png), kept by the service so that the
        links outlive the session, and are linked as such."""
        if self.model == CODE_INTERPRETER:
            return [self._link("images", image_name(image)) for image in images]
        urls = []
        for image in images:
            name = image_name(image)
            figure = f"figure-{name[:12]}{PurePosixPath(name).suffix}"
            data = image_bytes(image)
            try:
                await self.svc.files.upload(self.conversation, figure, data)
            except PayloadTooLarge:  # over the conversation's quota: in the session only
                await self.svc.pool_client.upload(self.conversation.session_id, figure, data)
            urls.append(self._link("files", figure))
        return urls

    def _link(self, kind: str, name: str) -> str:
        return self.svc.links.url(self.request, self.conversation, kind, name)


async def start_run(
    svc: Services,
    request: Request,
    user: str,
    model: str,
    messages: list[ChatMessage],
    conversation_id: str,
    field: str = "messages",
    instructions: str | None = None,
) -> Run:
    """Claim the conversation, put the files of the user's new message into its code
    session (kept by the service, as uploads are), and start the turn: the routing chain
    reads the user's last message (it keeps the rest itself, and its own instructions), the
    agent reads all of `messages`, after `instructions` as a system message."""
    asked = question(messages, svc.settings.max_message_chars, field)
    files = attachments(messages, svc.settings.max_upload_bytes, field)
    conversation = await svc.conversations.claim(user, conversation_id)
    for file in files:
        await svc.files.upload(conversation, file.name, file.data)
    usage = TurnUsage()
    config: RunnableConfig = {"configurable": conversation.configurable(), "callbacks": [usage]}
    if model == CODE_INTERPRETER:
        source = svc.chat.astream({"message": asked}, config)
    else:
        system = [SystemMessage(instructions)] if instructions else []
        source = agent_chunks(svc.agent, [*system, *as_langchain(messages, field)], config)
    prompt = "\n".join(str(message.content or "") for message in messages)
    chunks = _turn(source, svc.settings.llm_max_retries)
    return Run(svc, request, model, conversation, chunks, usage, prompt)


async def _turn(source: AsyncIterator[ChatChunk], retries: int) -> AsyncGenerator[ChatChunk]:
    """The turn's chunks; closing this generator closes `source` (a generator too), which
    stops the turn. The model's final errors are the service's (the chain maps its own)."""
    async with aclosing(source):  # type: ignore[type-var]  # typed as an iterator
        with model_errors(retries):
            async for chunk in source:
                yield chunk


def answered(run: Run, payload: dict) -> Response:
    """A whole answer, naming the conversation. ASCII escapes: code output may hold text
    UTF-8 cannot encode (a lone surrogate)."""
    body = json.dumps(payload, ensure_ascii=True)
    return Response(body, media_type="application/json", headers={HEADER: run.conversation.id})


def streamed(run: Run, events: AsyncIterator[str]) -> EventSourceResponse:
    """Server-sent events, naming the conversation; proxies are asked not to buffer them.
    Every KEEP_ALIVE_SECONDS a comment line (`: ping ...`, which SSE clients skip) keeps the
    connection from looking idle while a python step runs for minutes: proxies, load
    balancers and chat front-ends drop a silent one."""
    headers = {HEADER: run.conversation.id, "Cache-Control": "no-cache"}
    return EventSourceResponse(_bytes(events), headers=headers, ping=KEEP_ALIVE_SECONDS, sep="\n")


async def _bytes(events: AsyncIterator[str]) -> AsyncGenerator[bytes]:
    """The events as they are written (EventSourceResponse sends bytes unchanged)."""
    async with aclosing(events):  # type: ignore[type-var]  # a generator
        async for event in events:
            yield event.encode()
