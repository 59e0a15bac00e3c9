"""Chat-completion requests sent as LangChain builds them, without the OpenAI SDK's transform,
and streamed answers read as plain JSON.

The SDK's `chat.completions.create` first walks the whole request against its TypedDicts
(`_async_transform_recursive`: runtime type introspection of every message, once per member of
the message union) to rename aliased keys and format dates and files. Chat-completion
parameters have neither, so the walk returns what it was given, at a cost that grows with the
history: 0.44 ms of CPU per model call with no history and 3.8-4.4 ms with 20 messages on the
2-core machine the README's figures come from, the largest single item of a turn. openai 3.57
(the latest release) still walks it uncached; the anthropic SDK caches the same walk.

A streamed answer's chunks come back as the JSON objects the server sent: the SDK would build a
`ChatCompletionChunk` model per chunk (`construct_type` over its nested types), which LangChain
turns straight back into a dict (`model_dump`) before reading it, about 2.5 ms of CPU per
streamed answer of a dozen chunks for the same LangChain message. A whole answer stays a
`ChatCompletion`: LangChain reads fields of the model (`refusal`) that the JSON may lack.
"""

from typing import Any, TypeVar

from langchain_openai.chat_models.base import BaseChatOpenAI
from openai import NOT_GIVEN, AsyncStream
from openai._base_client import make_request_options
from openai.resources.chat.completions import AsyncCompletions
from openai.types.chat import ChatCompletion

Model = TypeVar("Model", bound=BaseChatOpenAI)


class AsBuiltCompletions(AsyncCompletions):
    """The SDK's `chat.completions`, whose `create` posts the body as given: the same route,
    options, authentication, retries, timeouts and errors as the SDK's own; a whole answer is a
    `ChatCompletion`, a streamed one yields each chunk as a dict."""

    async def create(  # type: ignore[override]
        self,
        *,
        extra_headers: dict | None = None,
        extra_query: dict | None = None,
        extra_body: dict | None = None,
        timeout: Any = NOT_GIVEN,
        **body: Any,
    ) -> ChatCompletion | AsyncStream[object]:
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
            # `object`: the SDK passes each chunk on as parsed from JSON (what LangChain reads).
            stream_cls=AsyncStream[object],
        )


def send_as_built(model: Model) -> Model:
    """`model`, its async chat-completion calls made through `AsBuiltCompletions` (on the
    same client, so connections, keys and Entra ID tokens are shared)."""
    model.async_client = AsBuiltCompletions(model.root_async_client)
    return model
