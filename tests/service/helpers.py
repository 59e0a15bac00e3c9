"""Small helpers the service tests share: scripted turns and conversation ids."""

import uuid
from pathlib import Path

from tests.support.scripted_llm import ScriptedLLM, Text, ToolCall


def new_id() -> str:
    return str(uuid.uuid4())


def config(conversation_id: str) -> dict:
    return {"configurable": {"conversation_id": conversation_id}}


def script_code_turn(llm: ScriptedLLM, code: str, answer: str = "Done.") -> None:
    """One /chat turn on the python route that runs exactly `code`, then answers."""
    llm.script(
        ToolCall("RouteDecision", {"route": "python"}),
        ToolCall("Python_REPL", {"python_code": code}),
        Text(answer),
    )


def ask_chat(service, conversation_id: str, message: str) -> dict:
    """One /chat/invoke turn in the conversation; its output, after checking it succeeded."""
    with service.http() as http:
        body = {"input": {"message": message}, "config": config(conversation_id)}
        response = http.post("/chat/invoke", json=body)
    assert response.status_code == 200, response.text
    return response.json()["output"]


def agent_requests(llm: ScriptedLLM) -> list[dict]:
    """Requests the agent made (those offering the Python tool)."""
    return [
        r
        for r in llm.requests
        if any(t["function"]["name"] == "Python_REPL" for t in r["body"].get("tools") or [])
    ]


def pool_pid(service_pid: int) -> int:
    """The session pool the service started: its child running `-m sessionpool`."""
    for task in Path(f"/proc/{service_pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            if b"sessionpool" in cmdline:
                return int(child)
    raise AssertionError("the service runs no session pool")
