"""The request of POST /v1/chat/completions as the OpenAI API reference defines it, and what
this service does with each parameter: apply it, accept it as changing nothing, or refuse it."""

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.openai.errors import OpenAIError

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class ChatMessage(BaseModel):
    """One message of the conversation as the client holds it."""

    model_config = ConfigDict(extra="allow")

    role: Role
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool | None = None


class OpenAIRequest(BaseModel):
    """A request body of the OpenAI API; parameters the API does not define are refused, and
    those in `NEUTRAL` are accepted only with a value that changes nothing."""

    model_config = ConfigDict(extra="forbid")
    NEUTRAL: ClassVar[dict[str, tuple]] = {}

    def refuse_unsupported(self) -> None:
        """OpenAIError for the first parameter set to a value this service cannot apply."""
        for name, neutral in self.NEUTRAL.items():
            value = getattr(self, name)
            if value is not None and value not in neutral:
                raise OpenAIError(_refusal(name), param=name, code="unsupported_parameter")


class ChatCompletionRequest(OpenAIRequest):
    """POST /v1/chat/completions."""

    model: str = Field(description="`code-interpreter` (the routing chain) or `code-agent`.")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    metadata: dict[str, str] | None = Field(
        default=None, description="`conversation_id` names the conversation (and code session)."
    )
    # Applied to the answer's content.
    stop: str | list[str] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    # Sampling and output options: the service's model decides them, so only values that
    # change nothing are accepted (see ChatCompletionRequest.NEUTRAL).
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    n: int | None = Field(default=None, ge=1)
    seed: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0)
    logit_bias: dict[str, float] | None = None
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: str | dict[str, Any] | None = None
    reasoning_effort: str | None = None
    verbosity: str | None = None
    modalities: list[str] | None = None
    audio: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    web_search_options: dict[str, Any] | None = None
    service_tier: str | None = None
    # Accepted: they identify the caller or the request and change nothing in the answer.
    parallel_tool_calls: bool | None = None
    store: bool | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None

    def stop_sequences(self) -> list[str]:
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(stops) > 4:
            raise OpenAIError("stop takes at most 4 sequences", param="stop")
        return [stop for stop in stops if stop]

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


# The values that ask for nothing beyond what the service does anyway (LibreChat, for one,
# sends temperature 1, top_p 1 and zero penalties by default).
ChatCompletionRequest.NEUTRAL = {
    "temperature": (1,),
    "top_p": (1,),
    "presence_penalty": (0,),
    "frequency_penalty": (0,),
    "n": (1,),
    "seed": (),
    "logprobs": (False,),
    "top_logprobs": (0,),
    "logit_bias": ({},),
    "response_format": ({"type": "text"},),
    "tools": ([],),
    "tool_choice": ("none", "auto"),
    "functions": ([],),
    "function_call": ("none", "auto"),
    "reasoning_effort": (),
    "verbosity": (),
    "modalities": (["text"],),
    "audio": (),
    "prediction": (),
    "web_search_options": (),
    "service_tier": ("auto", "default"),
}
SAMPLING = {"temperature", "top_p", "presence_penalty", "frequency_penalty", "seed", "logit_bias"}
TOOLS = {"tools", "tool_choice", "functions", "function_call", "max_tool_calls"}


def _refusal(name: str) -> str:
    if name in SAMPLING:
        return (
            f"{name} cannot be set per request: the agent uses its deployment's model settings. "
            f"Leave {name} out (or send its default)."
        )
    if name in TOOLS:
        return (
            f"{name} is not supported: this model runs Python in its own code session and "
            "calls no client-side tools. Leave it out; code runs on the service."
        )
    return f"{name} is not supported by this service; leave it out."


class ResponseCreateRequest(OpenAIRequest):
    """POST /v1/responses."""

    model: str = Field(description="`code-interpreter` (the routing chain) or `code-agent`.")
    input: str | list[dict[str, Any]] = Field(
        description="The user's message, or a list of messages (earlier output items too)."
    )
    instructions: str | None = Field(
        default=None, description="A system message for `code-agent`; not read by the chain."
    )
    stream: bool | None = False
    stream_options: dict[str, Any] | None = None
    previous_response_id: str | None = Field(
        default=None, description="Continue the conversation of that response."
    )
    conversation: str | dict[str, Any] | None = Field(
        default=None, description="The conversation (and code session) to continue: its id."
    )
    metadata: dict[str, str] | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    # Accepted: they identify the caller or ask for what every answer has anyway.
    include: list[str] | None = None
    store: bool | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    parallel_tool_calls: bool | None = None
    truncation: Literal["auto", "disabled"] | None = None
    # Refused unless they change nothing (see ResponseCreateRequest.NEUTRAL), tools included:
    # only the code interpreter, which is what this service runs anyway.
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_logprobs: int | None = Field(default=None, ge=0)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    max_tool_calls: int | None = None
    text: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    background: bool | None = None
    service_tier: str | None = None
    prompt: dict[str, Any] | None = None

    def refuse_unsupported(self) -> None:
        super().refuse_unsupported()
        for index, tool in enumerate(self.tools or []):
            if tool.get("type") != "code_interpreter":
                raise OpenAIError(
                    _refusal("tools"), param=f"tools[{index}]", code="unsupported_parameter"
                )

    def conversation_id(self) -> str | None:
        named = self.conversation
        return named.get("id") if isinstance(named, dict) else named


ResponseCreateRequest.NEUTRAL = {
    "temperature": (1,),
    "top_p": (1,),
    "top_logprobs": (0,),
    "tool_choice": ("auto",),
    "max_tool_calls": (),
    "text": ({"format": {"type": "text"}},),
    "reasoning": (),
    "background": (False,),
    "service_tier": ("auto", "default"),
    "prompt": (),
}
