"""The code agent: LangChain's tool-calling agent with the conversation's Python session."""

from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware, ToolCallLimitMiddleware
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from agents.files import SessionFilesMiddleware
from agents.prompts import CODE_AGENT_PROMPT
from conversations import ConversationFiles


def build_code_agent(
    llm: BaseChatModel, python_tool: BaseTool, files: ConversationFiles, max_tool_calls: int = 8
):
    """`create_agent` with the Python tool; the conversation's files are restored into a new
    session before each turn and kept after it, and the system prompt lists them.

    After `max_tool_calls` runs in one turn the agent stops with a message saying so.
    """
    middleware: list[AgentMiddleware[Any, Any]] = [
        SessionFilesMiddleware(files),
        ToolCallLimitMiddleware(run_limit=max_tool_calls, exit_behavior="end"),
    ]
    agent = create_agent(
        llm,
        [python_tool],
        system_prompt=CODE_AGENT_PROMPT,
        middleware=middleware,
        name="code_agent",
    )
    # A model step and a tool step per call, and room for the final answer: the tool-call
    # limit, which explains itself, always comes before the graph's bare recursion error.
    return agent.with_config(recursion_limit=2 * max_tool_calls + 4)
