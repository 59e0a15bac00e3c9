"""The MCP server's tools: Python in a stateful code session, its files, and the whole agent.

Each tool works in a conversation of the caller (the same conversations, code sessions and
files as /chat, /v1 and the page): the one its `conversation_id` names, or else the MCP
session's own.
"""

import base64
import binascii
import contextlib
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from functools import wraps
from typing import Annotated, Any, Literal

from fastapi import HTTPException, Request
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import (
    BlobResourceContents,
    CallToolResult,
    ContentBlock,
    EmbeddedResource,
    ImageContent,
    TextContent,
    ToolAnnotations,
)
from pydantic import BaseModel, Field

from api.files import plain_file_name
from api.images import media_type
from api.mcp.results import (
    AgentAnswer,
    DownloadedFile,
    Execution,
    FileEntry,
    FileListing,
    StoredFile,
    structured,
)
from api.openai.content import Content
from conversations import Conversation
from conversations.outputs import client_step
from errors import ServiceError
from wiring import Services

SESSION_HEADER = "mcp-session-id"
# Hints for clients that ask before a tool runs: code changes the session's state but deletes
# nothing the caller made (a file is replaced only when uploaded again), and nothing reaches
# past the service (the sessions have no network).
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
RUNS_CODE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
STORES = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

ConversationId = Annotated[
    str | None,
    Field(
        description=(
            "The conversation (code session) to work in: 1-64 characters of A-Z a-z 0-9 _ -. "
            "Omit it to use this MCP session's own conversation; pass the conversation_id an "
            "earlier result returned to keep using that session's variables and files."
        )
    ),
]

RUN_PYTHON = """Run Python code in a stateful IPython session and return its result.

Use it for any calculation, data analysis, file processing or plot instead of guessing.
Variables, imports and files in /mnt/data persist between calls in the same conversation.
The value of the last expression is returned as `result`, with stdout and stderr; a
matplotlib figure shown with plt.show() comes back as an image. numpy, pandas, matplotlib
and scikit-learn are installed; there is no internet access. Every result names its
conversation_id."""

UPLOAD_FILE = """Put a file into /mnt/data of the conversation's code session, where code run
with run_python can open it (for example pandas.read_csv('/mnt/data/data.csv')). Send text
as it is (encoding "text") or binary data as base64 (encoding "base64"). An existing file of
the same name is replaced."""

LIST_FILES = """List the files in /mnt/data of the conversation's code session: name, size in
bytes, last modification time, and whether the service keeps it beyond the session (files
over the conversation's quota are not kept). Files written by code appear here too."""

DOWNLOAD_FILE = """Read a file from /mnt/data of the conversation's code session: text files
come back as text, images as images, other files as an embedded binary resource. The result
also gives a download link for a person to open."""

ASK_AGENT = """Ask the code-interpreter agent, which decides by itself whether to answer
directly or to write and run Python (in the same code session as run_python), and returns
its answer with each code step and any plots. It remembers the earlier turns of the
conversation, so follow-ups such as "and the square root of that?" work. Prefer run_python
when you already know the code to run."""

INSTRUCTIONS = """A Python code interpreter with a stateful session per conversation
(numpy, pandas, matplotlib, scikit-learn; no internet). Use run_python to compute, upload_file
/ list_files / download_file for the files in /mnt/data, and ask_agent to hand a whole
question to the service's own agent. Results name their conversation_id: pass it back to keep
working with the same variables and files."""


def add_tools(server: MCPServer) -> None:
    server.add_tool(run_python, "run_python", "Run Python", RUN_PYTHON, RUNS_CODE)
    server.add_tool(upload_file, "upload_file", "Upload a file", UPLOAD_FILE, STORES)
    server.add_tool(list_files, "list_files", "List files", LIST_FILES, READ_ONLY)
    server.add_tool(download_file, "download_file", "Download a file", DOWNLOAD_FILE, READ_ONLY)
    server.add_tool(ask_agent, "ask_agent", "Ask the code-interpreter agent", ASK_AGENT, RUNS_CODE)


def _client_errors(tool: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """The service's errors (another user's conversation, a full pool, a limit) as tool errors
    with their message, for the model to read."""

    @wraps(tool)
    async def reporting(*args: Any, **kwargs: Any) -> Any:
        try:
            return await tool(*args, **kwargs)
        except ServiceError as error:
            raise ToolError(error.message) from None
        except HTTPException as error:
            raise ToolError(str(error.detail)) from None

    return reporting


class _Call:
    """What a tool call needs from its HTTP request: the caller, the services, the slot."""

    def __init__(self, ctx: Context) -> None:
        self.request: Request = ctx.request_context.request  # type: ignore[assignment]
        self.user: str = self.request.state.user
        self.services: Services = self.request.app.state.services

    async def conversation(self, conversation_id: str | None) -> Conversation:
        """The named conversation, or this MCP session's own (the caller's default one on
        the sessionless 2026 protocol); another user's is refused."""
        if not conversation_id:
            session = self.request.headers.get(SESSION_HEADER) or "default"
            seed = f"{self.user}\0{session}".encode()
            conversation_id = f"mcp-{hashlib.sha256(seed).hexdigest()[:40]}"
        return await self.services.conversations.claim(self.user, conversation_id)

    def run_slot(self):
        """One of the caller's concurrent runs, as /chat and /v1 take."""
        return self.request.app.state.guards.runs.slot(self.user)


@_client_errors
async def run_python(
    code: Annotated[str, Field(description="The Python code to run.")],
    ctx: Context,
    conversation_id: ConversationId = None,
) -> Annotated[CallToolResult, Execution]:
    call = _Call(ctx)
    conversation = await call.conversation(conversation_id)
    tool, files = call.services.python_tool, call.services.files
    tool_call = {"type": "tool_call", "id": uuid.uuid4().hex, "name": tool.name}
    async with call.run_slot():
        await files.sync(conversation)  # a new session gets the conversation's files back
        message = await tool.ainvoke(
            {**tool_call, "args": {"python_code": code}},
            {"configurable": conversation.configurable()},
        )
        with contextlib.suppress(ServiceError):  # kept at the next call instead
            await files.sync(conversation)
    step = client_step(message.artifact) if isinstance(message.artifact, dict) else {}
    summary = Execution(
        status=step.get("status", "Failure"),
        result=step.get("result"),
        stdout=step.get("stdout") or "",
        stderr=step.get("stderr") or ("" if step else message.text),
        # The text form of each image and HTML table the code showed (the images follow).
        text=step.get("text") or [],
        conversation_id=conversation.id,
    )
    images = [_image(data) for data in step.get("images") or []]
    return _result(summary, *images, is_error=summary.status != "Success")


@_client_errors
async def upload_file(
    name: Annotated[str, Field(description="The file name in /mnt/data, without directories.")],
    content: Annotated[str, Field(description="The file's content, as `encoding` says.")],
    ctx: Context,
    encoding: Annotated[
        Literal["text", "base64"], Field(description='"text" (UTF-8) or "base64" for binary.')
    ] = "text",
    conversation_id: ConversationId = None,
) -> StoredFile:
    call = _Call(ctx)
    conversation = await call.conversation(conversation_id)
    data = content.encode() if encoding == "text" else _decoded(content)
    limit = call.services.settings.max_upload_bytes
    if len(data) > limit:
        raise ToolError(f"the file is larger than the limit of {limit} bytes")
    entry = await call.services.files.upload(conversation, plain_file_name(name), data)
    return StoredFile(
        path=f"/mnt/data/{entry['name']}", size=entry["size"], conversation_id=conversation.id
    )


@_client_errors
async def list_files(ctx: Context, conversation_id: ConversationId = None) -> FileListing:
    call = _Call(ctx)
    conversation = await call.conversation(conversation_id)
    files = await call.services.files.current(conversation)
    entries = [FileEntry.model_validate(entry) for entry in files]
    return FileListing(files=entries, conversation_id=conversation.id)


@_client_errors
async def download_file(
    name: Annotated[str, Field(description="The file name in /mnt/data.")],
    ctx: Context,
    conversation_id: ConversationId = None,
) -> Annotated[CallToolResult, DownloadedFile]:
    call = _Call(ctx)
    conversation = await call.conversation(conversation_id)
    name = plain_file_name(name)
    chunks, kind = await call.services.files.open(conversation, name)
    data = b"".join([chunk async for chunk in chunks])
    link = call.services.links.url(call.request, conversation, "files", name)
    about = DownloadedFile(
        name=name, size=len(data), media_type=kind, url=link, conversation_id=conversation.id
    )
    return _result(about, _file_content(data, kind, link))


@_client_errors
async def ask_agent(
    message: Annotated[str, Field(description="The question or task, in plain words.")],
    ctx: Context,
    conversation_id: ConversationId = None,
) -> Annotated[CallToolResult, AgentAnswer]:
    call = _Call(ctx)
    limit = call.services.settings.max_message_chars
    if not message.strip() or len(message) > limit:
        raise ToolError(f"the message must hold 1 to {limit} characters")
    conversation = await call.conversation(conversation_id)
    content = Content()
    steps = 0
    async with call.run_slot():
        chunks = call.services.chat.astream(
            {"message": message}, {"configurable": conversation.configurable()}
        )
        async with aclosing(chunks):  # type: ignore[type-var]  # astream is a generator
            async for chunk in chunks:
                content.add(chunk)
                finished = [s for s in chunk.get("steps") or [] if s.get("status") != "running"]
                for _step in finished:
                    steps += 1
                    await ctx.report_progress(steps, message=f"Python step {steps} ran")
    answer = AgentAnswer(answer=content.text.strip(), steps=steps, conversation_id=conversation.id)
    return _result(answer, *(_image(data) for data in content.images))


def _result(summary: BaseModel, *more: ContentBlock, is_error: bool = False) -> CallToolResult:
    """`summary` as structured content and, first, as JSON text (for clients that read only
    `content`), then `more`."""
    text = TextContent(text=summary.model_dump_json(indent=2))
    content = [text, *more]
    return CallToolResult(
        content=content, structured_content=structured(summary), is_error=is_error
    )


def _image(data: str) -> ImageContent:
    return ImageContent(data=data, mime_type=media_type(base64.b64decode(data)) or "image/png")


def _decoded(content: str) -> bytes:
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise ToolError("content is not valid base64") from None


def _file_content(
    data: bytes, kind: str, link: str
) -> TextContent | ImageContent | EmbeddedResource:
    """An image as an image, UTF-8 text as text, anything else as a binary resource."""
    encoded = base64.b64encode(data).decode()
    if media_type(data):
        return ImageContent(data=encoded, mime_type=media_type(data))
    try:
        return TextContent(text=data.decode())
    except UnicodeDecodeError:
        return EmbeddedResource(
            resource=BlobResourceContents(uri=link, mime_type=kind, blob=encoded)
        )
