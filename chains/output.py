"""The /chat output and its stream chunks, which add up to the final output."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, WithJsonSchema, create_model

REPLACE_TURN = (
    "Omit to add a turn. To answer again (retry, regenerate) or edit: the number, from 0, of "
    "an earlier turn of this conversation that this message replaces; that turn and every "
    "later one are forgotten (the code session keeps what their code did)."
)


def chat_input_model(max_chars: int) -> type[BaseModel]:
    """The /chat input: one non-empty message of at most `max_chars` characters, and the turn
    it replaces, if any."""
    message = Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=max_chars),
    ]
    # An optional number, described as one (no `null` type or default): LangServe's
    # playground cannot draw `"type": "null"`, and would refuse to start with a null default.
    replace_turn = Annotated[
        int | None,
        WithJsonSchema({"type": "integer", "minimum": 0, "description": REPLACE_TURN}),
    ]
    return create_model(
        "ChatInput",
        message=(message, Field(description="The user's message.")),
        replace_turn=(
            replace_turn,
            Field(default=None, ge=0, le=2**31, json_schema_extra=_without_default),
        ),
    )


def _without_default(schema: dict) -> None:
    schema.pop("default", None)


class Step(BaseModel):
    """One run of code in the conversation's session."""

    index: int
    code: str
    status: str = Field(description='"running" while it runs, then "Success" or "Failure"')
    result: Any = None
    stdout: str = ""
    stderr: str = ""
    images: list[str] = Field(
        default_factory=list, description="every PNG the code showed, in order (base64)"
    )
    html: list[str] = Field(
        default_factory=list, description="every text/html output without an image (tables)"
    )
    text: list[str] = Field(
        default_factory=list, description="the text/plain form of each image, then each table"
    )


class ChatOutput(BaseModel):
    output: str
    route: Literal["python", "chat"]
    conversation_id: str
    steps: list[Step] = Field(default_factory=list)


class ChatChunk(dict):
    """A piece of the /chat output: `output` text is appended, `steps` merge by `index`.

    Streams send the route first, then each step when its code is known (status "running")
    and again with its result, then the answer token by token.
    """

    def __add__(self, other: dict) -> "ChatChunk":
        merged = ChatChunk(self)
        for key, value in other.items():
            if key == "output":
                merged["output"] = merged.get("output", "") + value
            elif key == "steps":
                merged["steps"] = _merge_steps(merged.get("steps", []), value)
            else:
                merged[key] = value
        return merged


def _merge_steps(steps: list[dict], updates: list[dict]) -> list[dict]:
    by_index = {step["index"]: dict(step) for step in steps}
    for update in updates:
        by_index[update["index"]] = {**by_index.get(update["index"], {}), **update}
    return [by_index[index] for index in sorted(by_index)]
