"""The request of POST /v1/chat/completions as the OpenAI API reference defines it, and what
this service does with each parameter: apply it, accept it as changing nothing, or refuse it."""

from typing import Any, Literal

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


class ChatCompletionRequest(BaseModel):
    """POST /v1/chat/completions. Parameters the OpenAI API does not define are refused."""

    model_config = ConfigDict(extra="forbid")

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
    # change nothing are accepted (see NEUTRAL).
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

    def refuse_unsupported(self) -> None:
        """OpenAIError for the first parameter set to a value this service cannot apply."""
        for name, neutral in NEUTRAL.items():
            value = getattr(self, name)
            if value is not None and value not in neutral:
                raise OpenAIError(_refusal(name), param=name, code="unsupported_parameter")


# The values that ask for nothing beyond what the service does anyway (LibreChat, for one,
# sends temperature 1, top_p 1 and zero penalties by default).
NEUTRAL: dict[str, tuple] = {
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
TOOLS = {"tools", "tool_choice", "functions", "function_call"}


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
