"""The direct answer: the model with the conversation's history, streamed token by token."""

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from chains.prompts import DIRECT_PROMPT


def direct_messages(history: list[BaseMessage], question: HumanMessage) -> list[BaseMessage]:
    """The direct answer's prompt: its instructions, the conversation so far, the user's
    message (a plain list: a prompt template's run per turn would cost CPU and say nothing)."""
    return [SystemMessage(DIRECT_PROMPT), *history, question]
