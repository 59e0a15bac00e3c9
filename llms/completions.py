"""Chat-completion requests sent as LangChain builds them, without the OpenAI SDK's transform.

The SDK's `chat.completions.create` first walks the whole request against its TypedDicts
(`_async_transform_recursive`: runtime type introspection of every message, once per member of
the message union) to rename aliased keys and format dates and files. Chat-completion
parameters have neither, so the walk returns what it was given, at a cost that grows with the
history: 0.44 ms of CPU per model call with no history and 3.8-4.4 ms with 20 messages on the
2-core machine the README's figures come from, the largest single item of a turn. openai 3.57
(the latest release) still walks it uncached; the anthropic SDK caches the same walk.
"""

from typing import Any, TypeVar

from langchain_openai.chat_models.base import BaseChatOpenAI
from openai import NOT_GIVEN, AsyncStream
from openai._base_client import make_request_options
from openai.resources.chat.completions import AsyncCompletions
from openai.types.chat import ChatCompletion, ChatCompletionChunk

Model = TypeVar("Model", bound=BaseChatOpenAI)


class AsBuiltCompletions(AsyncCompletions):
    """The SDK's `chat.completions`, whose `create` posts the body as given: the same route,
    options, authentication, retries, timeouts, errors and response types as the SDK's own."""

    async def create(  # type: ignore[override]
        self,
        *,
        extra_headers: dict | None = None,
        extra_query: dict | None = None,
        extra_body: dict | None = None,
        timeout: Any = NOT_GIVEN,
        **body: Any,
    ) -> ChatCompletion | AsyncStream[ChatCompletionChunk]:
        options = make_request_options(
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
            timeout=timeout,
            security={"bearer_auth": True},
        )
        return await self._post(
            "/chat/completions",
            body=body,
            options=options,
            cast_to=ChatCompletion,
            stream=bool(body.get("stream")),
            stream_cls=AsyncStream[ChatCompletionChunk],
        )


def send_as_built(model: Model) -> Model:
    """`model`, its async chat-completion calls made through `AsBuiltCompletions` (on the
    same client, so connections, keys and Entra ID tokens are shared)."""
    model.async_client = AsBuiltCompletions(model.root_async_client)
    return model
