"""The agent's Python tool: runs code in the session of the run's conversation.

It speaks the dynamic-sessions HTTP contract that the official `SessionsPythonREPLTool`
speaks (`POST code/execute`, api-version 2024-02-02-preview, the same body and answer) through
the service's one keep-alive `httpx` client (`tools.pool_client`), rather than calling that
tool: the official tool is synchronous `requests` without a timeout, opens a new connection
for every call and keeps one instance per session, so each running call would hold a thread
and a fresh TCP (and TLS) connection, and a cancelled call could not be stopped. The model
sees the same tool: its name, its `python_code` argument, and JSON with `result`, `stdout`
and `stderr`. The local pool is still tested with the official tool itself
(`tests/sessionpool/test_official_client.py`).
"""

from typing import Any, Literal, NoReturn

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field

from conversations import Conversation
from conversations.transcript import PYTHON_TOOL, tool_content
from tools.pool_client import PoolClient

TOOL_DESCRIPTION = (
    "A stateful Python session (IPython) for this conversation. Use it for every calculation, "
    "data analysis or plot instead of guessing. Variables, imports and files in /mnt/data "
    "persist between calls. The value of the last expression is returned as `result`, "
    "together with stdout and stderr. Every figure shown (plt.show()) and every table "
    "displayed (display(df), or a DataFrame as the last expression) is shown to the user; you "
    "get a short text form of each under `outputs`. numpy, pandas, matplotlib and "
    "scikit-learn are installed; there is no internet access."
)


class PythonCode(BaseModel):
    python_code: str = Field(description="Python code to run; end with an expression to see it.")


class PythonTool(BaseTool):
    """Content for the model (long output shortened), the step as an artifact for clients."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str = PYTHON_TOOL
    description: str = TOOL_DESCRIPTION
    args_schema: type[BaseModel] = PythonCode
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    pool_client: PoolClient
    result_max_chars: int = 8000

    def _run(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError("the Python tool is asynchronous: call ainvoke")

    async def _arun(
        self, python_code: str, config: RunnableConfig, **kwargs: Any
    ) -> tuple[str, dict]:
        session = Conversation.from_config(config).session_id
        execution = await self.pool_client.execute(session, python_code)
        step = execution.step
        return tool_content(step, self.result_max_chars, execution.note), step
