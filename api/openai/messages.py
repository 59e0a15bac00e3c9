"""The client's messages, read as text: the question, the first user message, and the whole
conversation as LangChain messages for the agent. A file part reads as a note of where the
file is in the code session; the files of the user's new message go there
(api/openai/attachments.py)."""

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from agents.schemas import encodable
from api.openai.attachments import ATTACHED_PARTS, Attachment, attachment, file_name
from api.openai.errors import OpenAIError
from api.openai.schemas import ChatMessage

TEXT_PARTS = ("text", "input_text", "output_text")
AS_LANGCHAIN = {"system": SystemMessage, "developer": SystemMessage, "user": HumanMessage}


def text_of(message: ChatMessage, index: int, field: str = "messages") -> str:
    """The message's text: its content, or the text of its content parts. `field` names the
    request's list of messages in errors (`messages`, or `input` for /v1/responses)."""
    content = message.content or ""
    if isinstance(content, list):
        texts = []
        for number, part in enumerate(content):
            param = f"{field}[{index}].content[{number}]"
            text = part.get("text")
            if part.get("type") in ATTACHED_PARTS:
                text = f"[attached file: /mnt/data/{file_name(part, param)}]"
            elif part.get("type") not in TEXT_PARTS or not isinstance(text, str):
                raise OpenAIError(
                    f"content parts of type {part.get('type')!r} are not supported: this "
                    "service reads text, and files and images into /mnt/data",
                    param=param,
                    code="unsupported_content",
                )
            texts.append(text)
        content = "\n".join(texts)
    try:
        return encodable(content)
    except ValueError as error:
        raise OpenAIError(str(error), param=f"{field}[{index}].content") from None


def question(messages: list[ChatMessage], max_chars: int, field: str = "messages") -> str:
    """The user's new message: the last one, which must be theirs and hold text."""
    index = len(messages) - 1
    if messages[index].role != "user":
        raise OpenAIError(
            f"the last message must be the user's (it is a {messages[index].role} message)",
            param=f"{field}[{index}].role",
        )
    text = text_of(messages[index], index, field).strip()
    if not text:
        raise OpenAIError("the user's message is empty", param=f"{field}[{index}].content")
    if len(text) > max_chars:
        raise OpenAIError(
            f"the user's message is longer than the limit of {max_chars} characters",
            param=f"{field}[{index}].content",
            code="string_above_max_length",
        )
    return text


def attachments(messages: list[ChatMessage], max_bytes: int, field: str) -> list[Attachment]:
    """The files attached to the user's new message (the last one)."""
    index = len(messages) - 1
    content = messages[index].content
    parts = enumerate(content if isinstance(content, list) else [])
    return [
        attachment(part, f"{field}[{index}].content[{number}]", max_bytes)
        for number, part in parts
        if part.get("type") in ATTACHED_PARTS
    ]


def first_user_text(messages: list[ChatMessage], field: str = "messages") -> str:
    """The text of the first user message ("" without one, which `question` refuses)."""
    users = [(i, m) for i, m in enumerate(messages) if m.role == "user"]
    return text_of(users[0][1], users[0][0], field) if users else ""


def as_langchain(messages: list[ChatMessage], field: str = "messages") -> list[BaseMessage]:
    """The conversation for the agent; a client's own tool calls and results are refused (the
    agent runs its own tool, and keeps its calls in the answer's text)."""
    converted: list[BaseMessage] = []
    for index, message in enumerate(messages):
        if message.role in ("tool", "function") or message.tool_calls:
            raise OpenAIError(
                "tool calls and tool results are not supported: this model runs Python itself",
                param=f"{field}[{index}]",
                code="unsupported_parameter",
            )
        kind = AS_LANGCHAIN.get(message.role, AIMessage)
        converted.append(kind(content=text_of(message, index, field)))
    return converted
