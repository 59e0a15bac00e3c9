"""POST /v1/chat/completions: a turn of the routing chain (`code-interpreter`) or of the agent
(`code-agent`) in the caller's conversation, answered as the OpenAI API answers."""

import json
from collections.abc import AsyncIterator
from pathlib import PurePosixPath

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from langchain_core.runnables import RunnableConfig

from api.deps import AppServices, CurrentUser, RunSlot
from api.images import image_bytes, image_name
from api.openai.completion import Completion, TurnUsage
from api.openai.content import Cutoff
from api.openai.conversation import HEADER, conversation_id_for
from api.openai.messages import as_langchain, first_user_text, question
from api.openai.models import CODE_INTERPRETER, model_named
from api.openai.schemas import ChatCompletionRequest
from chains import ChatChunk, agent_chunks
from conversations import Conversation
from llms import model_errors
from wiring import Services

router = APIRouter(tags=["openai"])
ERROR = {"description": "OpenAI's error body: {error: {message, type, param, code}}"}


@router.post(
    "/chat/completions",
    dependencies=[RunSlot],
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "With `stream`: SSE chunks."},
        **{status: ERROR for status in (400, 401, 404, 413, 429, 502, 503)},
    },
)
async def create_chat_completion(
    body: ChatCompletionRequest, request: Request, user: CurrentUser, svc: AppServices
) -> Response:
    """A chat completion (OpenAI's API): the code steps appear in the answer as collapsible
    blocks and plots as image links. The conversation, and so the code session, is the one
    named by `metadata.conversation_id` or `X-Conversation-Id` (see README for the rule when
    neither is sent); the answer names it in `X-Conversation-Id`."""
    model = model_named(body.model)
    body.refuse_unsupported()
    asked = question(body.messages, svc.settings.max_message_chars)
    named = conversation_id_for(request, body.metadata, user, first_user_text(body.messages))
    conversation = await svc.conversations.claim(user, named)
    usage = TurnUsage()
    config: RunnableConfig = {"configurable": conversation.configurable(), "callbacks": [usage]}
    if model == CODE_INTERPRETER:
        chunks = svc.chat.astream({"message": asked}, config)
    else:
        chunks = _agent_turn(svc, as_langchain(body.messages), config)

    async def link_images(images: list[str]) -> list[str]:
        return await _image_links(svc, request, conversation, model, images)

    cutoff = Cutoff(body.stop_sequences(), body.token_limit())
    prompt = "\n".join(str(message.content or "") for message in body.messages)
    completion = Completion(model, chunks, link_images, cutoff, usage, prompt)
    headers = {HEADER: conversation.id}
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        events = completion.events(include_usage)
        headers |= {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)
    answer = json.dumps(await completion.whole(), ensure_ascii=True)
    return Response(answer, media_type="application/json", headers=headers)


async def _agent_turn(
    svc: Services, messages: list, config: RunnableConfig
) -> AsyncIterator[ChatChunk]:
    with model_errors(svc.settings.llm_max_retries):
        async for chunk in agent_chunks(svc.agent, messages, config):
            yield chunk


async def _image_links(
    svc: Services, request: Request, conversation: Conversation, model: str, images: list[str]
) -> list[str]:
    """Signed URLs of the images. The routing chain keeps its turns, steps included, so its
    images are served from there; an agent turn is not kept, so its images become files of
    the code session (figure-<digest>.png) and are linked as such."""
    if model == CODE_INTERPRETER:
        return [svc.links.url(request, conversation, "images", image_name(i)) for i in images]
    urls = []
    for image in images:
        name = image_name(image)
        figure = f"figure-{name[:12]}{PurePosixPath(name).suffix}"
        await svc.pool_client.upload(conversation.session_id, figure, image_bytes(image))
        urls.append(svc.links.url(request, conversation, "files", figure))
    return urls
