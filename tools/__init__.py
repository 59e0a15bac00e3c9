"""Code sessions for conversations: the Python tool, the pool it talks to, and the files API."""

from tools.pool import RemoteSessionPool, SessionPool, build_session_pool
from tools.pool_client import PoolClient
from tools.python import PythonTool

__all__ = [
    "PoolClient",
    "RemoteSessionPool",
    "SessionPool",
    "PythonTool",
    "build_session_pool",
]
