"""The route decision: the model calls the RouteDecision function, choosing "python" or "chat"."""

from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable
from pydantic import BaseModel, Field, ValidationError

from chains.prompts import ROUTER_PROMPT


class RouteDecision(BaseModel):
    """How to answer the user's latest message."""

    route: Literal["python", "chat"] = Field(
        description='"python" when it needs code or computation, "chat" otherwise'
    )


def build_route_decider(llm: BaseChatModel) -> Runnable[list[BaseMessage], AIMessage]:
    """The model, bound to call RouteDecision: input `route_messages(...)`, output an AI
    message whose tool call `route_of` reads.

    The request is the one `with_structured_output(RouteDecision, method="function_calling")`
    sends (function calling works on every OpenAI-compatible server that supports tools), but
    the call LangChain has already parsed is read here: its output parser would parse it again
    on a worker thread, a hop that costs about 1 ms of CPU per turn.
    """
    return llm.bind_tools(
        [RouteDecision], tool_choice=RouteDecision.__name__, parallel_tool_calls=False
    )


def route_messages(history: list[BaseMessage], question: HumanMessage) -> list[BaseMessage]:
    """The decider's prompt: its instructions, the conversation so far, the user's message."""
    return [SystemMessage(ROUTER_PROMPT), *history, question]


def route_of(message: AIMessage) -> str:
    """The route the model chose; "chat" when it did not fill the schema (it can still answer
    in words)."""
    for call in message.tool_calls:
        if call["name"] == RouteDecision.__name__:
            try:
                return RouteDecision.model_validate(call["args"]).route
            except ValidationError:
                break
    return "chat"
