"""The route decision: the model's structured output chooses "python" or "chat"."""

from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from pydantic import BaseModel, Field

from chains.prompts import ROUTER_PROMPT


class RouteDecision(BaseModel):
    """How to answer the user's latest message."""

    route: Literal["python", "chat"] = Field(
        description='"python" when it needs code or computation, "chat" otherwise'
    )


def build_route_decider(llm: BaseChatModel):
    """Input: {"history": [messages], "message": str}; output: a RouteDecision."""
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", ROUTER_PROMPT),
            MessagesPlaceholder("history"),
            ("human", "{message}"),
        ]
    )
    # Function calling works on every OpenAI-compatible server that supports tools.
    return prompt | llm.with_structured_output(RouteDecision, method="function_calling")
