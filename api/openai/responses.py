"""POST /v1/responses: a turn as OpenAI's Responses API answers it, whole or streamed as the
API's typed events (api/openai/response_events.py)."""

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from api.deps import AppServices, CurrentUser, RunSlot
from api.openai.chat_completions import RESPONSES
from api.openai.content import Cutoff
from api.openai.conversation import conversation_id_for
from api.openai.errors import OpenAIError
from api.openai.messages import first_user_text
from api.openai.models import model_named
from api.openai.response_events import NONCE_CHARS, PREFIX, Answer
from api.openai.run import answered, start_run, streamed
from api.openai.schemas import ChatMessage, ResponseCreateRequest

router = APIRouter(tags=["openai"])
EARLIER_OUTPUT = ("code_interpreter_call", "reasoning")


@router.post("/responses", dependencies=[RunSlot], responses=RESPONSES)
async def create_response(
    body: ResponseCreateRequest, request: Request, user: CurrentUser, svc: AppServices
) -> Response:
    """A response (OpenAI's Responses API) in a conversation of the caller: the one
    `conversation` or `previous_response_id` names, else chosen as for chat completions."""
    model = model_named(body.model)
    body.refuse_unsupported()
    messages = input_messages(body)
    named = _named_conversation(body) or conversation_id_for(
        request, body.metadata, user, first_user_text(messages, "input")
    )
    run = await start_run(svc, request, user, model, messages, named, "input", body.instructions)
    answer = Answer(run, body, Cutoff([], body.max_output_tokens))
    if body.stream:
        return streamed(run, answer.events())
    return answered(run, await answer.whole())


def input_messages(body: ResponseCreateRequest) -> list[ChatMessage]:
    """`input` as messages: a string is the user's message; earlier output items that are
    not messages (code calls) are skipped, as the service keeps its own record of them."""
    if isinstance(body.input, str):
        return [ChatMessage(role="user", content=body.input)]
    messages = []
    for index, item in enumerate(body.input):
        if item.get("type") in EARLIER_OUTPUT:
            continue
        if item.get("type", "message") != "message":
            raise OpenAIError(
                f"input items of type {item.get('type')!r} are not supported",
                param=f"input[{index}]",
                code="unsupported_parameter",
            )
        try:
            fields = {key: item[key] for key in ("role", "content") if key in item}
            messages.append(ChatMessage(**fields))
        except ValidationError as error:
            message = error.errors()[0]["msg"]
            raise OpenAIError(f"invalid input item: {message}", param=f"input[{index}]") from None
    if not messages:
        raise OpenAIError("input holds no message", param="input")
    return messages


def _named_conversation(body: ResponseCreateRequest) -> str | None:
    named, previous = body.conversation_id(), body.previous_response_id
    if previous is not None:
        if not previous.startswith(PREFIX) or len(previous) <= len(PREFIX) + NONCE_CHARS:
            raise OpenAIError(f"no response {previous!r}", param="previous_response_id", status=404)
        continued = previous[len(PREFIX) + NONCE_CHARS :]
        if named and named != continued:
            raise OpenAIError(
                "conversation and previous_response_id name different conversations",
                param="conversation",
            )
        return continued
    return named
