"""The routing chain and its parts: the route decision and the direct answer."""

from chains.chat import agent_chunks, build_chat_chain
from chains.output import ChatChunk, ChatOutput, Step, chat_input_model
from chains.router import RouteDecision, build_route_decider

__all__ = [
    "ChatChunk",
    "ChatOutput",
    "RouteDecision",
    "agent_chunks",
    "Step",
    "build_chat_chain",
    "build_route_decider",
    "chat_input_model",
]
