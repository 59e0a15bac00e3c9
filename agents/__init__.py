"""The code agent: LangChain's tool-calling agent with the conversation's Python session."""

from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from agents.files import SessionFilesMiddleware
from agents.prompts import CODE_AGENT_PROMPT
from tools import PoolClient

# A model that keeps calling the tool is stopped after this many graph steps.
RECURSION_LIMIT = 16


def build_code_agent(llm: BaseChatModel, python_tool: BaseTool, pool_client: PoolClient):
    """`create_agent` with the Python tool; the system prompt also lists the session's files."""
    agent = create_agent(
        llm,
        [python_tool],
        system_prompt=CODE_AGENT_PROMPT,
        middleware=[SessionFilesMiddleware(pool_client)],
        name="code_agent",
    )
    return agent.with_config(recursion_limit=RECURSION_LIMIT)
