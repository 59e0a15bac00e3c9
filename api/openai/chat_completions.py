"""POST /v1/chat/completions: a turn of the routing chain (`code-interpreter`) or of the agent
(`code-agent`) in the caller's conversation, answered as the OpenAI API answers."""

from typing import Any

from fastapi import APIRouter, Request, Response

from api.deps import AppServices, CurrentUser, RunSlot
from api.openai.completion import Completion
from api.openai.content import Cutoff
from api.openai.conversation import conversation_id_for
from api.openai.messages import first_user_text
from api.openai.models import model_named
from api.openai.run import answered, start_run, streamed
from api.openai.schemas import ChatCompletionRequest

router = APIRouter(tags=["openai"])
ERROR = {"description": "OpenAI's error body: {error: {message, type, param, code}}"}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "With `stream`: SSE events."},
    **{status: ERROR for status in (400, 401, 404, 413, 429, 502, 503)},
}


@router.post("/chat/completions", dependencies=[RunSlot], responses=RESPONSES)
async def create_chat_completion(
    body: ChatCompletionRequest, request: Request, user: CurrentUser, svc: AppServices
) -> Response:
    """A chat completion (OpenAI's API): the code steps appear in the answer as collapsible
    blocks and plots as image links. The conversation, and so the code session, is the one
    named by `metadata.conversation_id` or `X-Conversation-Id` (see README for the rule when
    neither is sent); the answer names it in `X-Conversation-Id`."""
    model = model_named(body.model)
    body.refuse_unsupported()
    named = conversation_id_for(request, body.metadata, user, first_user_text(body.messages))
    run = await start_run(svc, request, user, model, body.messages, named)
    completion = Completion(run, Cutoff(body.stop_sequences(), body.token_limit()))
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return streamed(run, completion.events(include_usage))
    return answered(run, await completion.whole())
