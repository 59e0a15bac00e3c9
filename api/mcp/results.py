"""What the MCP tools return as structured content: the SDK publishes each model as the tool's
`outputSchema` and checks every result against it, and the same JSON goes to the model as text
(MCP's advice for clients that read only `content`)."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

IN_CONVERSATION = "The conversation (code session) it ran in: pass it back to keep working there."


class Execution(BaseModel):
    """run_python's result (any images follow as image content)."""

    # Open: a result may carry more of what the code showed than these fields.
    model_config = ConfigDict(extra="allow")

    status: str = Field(description='"Success", or "Failure" when the code raised or timed out.')
    result: Any = Field(
        default=None, description="The value of the last expression, if it had one."
    )
    stdout: str = Field(default="", description="What the code printed.")
    stderr: str = Field(default="", description="Warnings, and the traceback of an error.")
    text: list[str] = Field(
        default_factory=list,
        description="The text form of each image, then each HTML table, the code showed.",
    )
    conversation_id: str = Field(description=IN_CONVERSATION)


class StoredFile(BaseModel):
    """upload_file's result."""

    path: str = Field(description="Where code finds the file, e.g. /mnt/data/data.csv.")
    size: int = Field(description="Its size in bytes.")
    conversation_id: str = Field(description=IN_CONVERSATION)


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(description="The file name in /mnt/data.")
    size: int | None = Field(default=None, description="Its size in bytes.")
    last_modified: str | None = Field(default=None, description="When it last changed (ISO 8601).")
    kept: bool | None = Field(
        default=None,
        description="Whether the service keeps it beyond the code session (false: over the "
        "conversation's file quota, gone when the session ends).",
    )


class FileListing(BaseModel):
    """list_files' result."""

    files: list[FileEntry]
    conversation_id: str = Field(description=IN_CONVERSATION)


class DownloadedFile(BaseModel):
    """download_file's result (the file itself follows as text, image or resource content)."""

    name: str = Field(description="The file name in /mnt/data.")
    size: int = Field(description="Its size in bytes.")
    media_type: str = Field(description="Its media type.")
    url: str = Field(description="A link that downloads it, without credentials, for a person.")
    conversation_id: str = Field(description=IN_CONVERSATION)


class AgentAnswer(BaseModel):
    """ask_agent's result (plots follow as image content)."""

    answer: str = Field(description="The agent's answer, with each code step it ran.")
    steps: int = Field(description="How many Python steps the agent ran.")
    conversation_id: str = Field(description="The conversation: pass it back for follow-ups.")


def structured(model: BaseModel) -> dict[str, Any]:
    """The structured content of `model`, as the SDK would send it."""
    return model.model_dump(mode="json")
