"""A scripted chat-completions server on 127.0.0.1 speaking the OpenAI and Azure OpenAI protocols.

Tests decide each answer: queue replies with `script(...)`, or set `brain` to a function of
the request body. Replies are text, tool calls or HTTP failures, sent whole or as SSE
streams (tool-call deltas included), so the real `ChatOpenAI` and `AzureChatOpenAI` clients
are exercised end to end.
"""

import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from llms.arithmetic import mentions_previous_result, to_python_expression


@dataclass
class Text:
    content: str
    delay: float = 0.0


@dataclass
class ToolCall:
    name: str
    args: dict
    delay: float = 0.0
    id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:12]}")


@dataclass
class Failure:
    status: int
    message: str = "scripted failure"
    delay: float = 0.0


Reply = Text | ToolCall | Failure


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog is 5: 64 clients connecting at once would lose SYNs and
    # wait a second for their retransmission, which benchmarks would blame on the service.
    request_queue_size = 1024
    daemon_threads = True


class ScriptedLLM:
    """The server; `requests` records every body, path and header it received."""

    def __init__(self, brain: Callable[[dict], Reply] | None = None) -> None:
        self.brain = brain
        self.requests: list[dict] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def reset(self, brain: Callable[[dict], Reply] | None = None) -> None:
        """Forget queued replies and recorded requests; answer with `brain` from now on."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.brain = brain

    def next_reply(self, body: dict) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self.brain(body) if self.brain else Text("(nothing scripted)")

    def __enter__(self) -> "ScriptedLLM":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler_for(llm: ScriptedLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY, as a real server streams: with Nagle, each small chunk after the first
        # waited for the client's delayed ACK (~40 ms), which the benches charged to the turn.
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            llm.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            if not self.path.split("?")[0].endswith("/chat/completions"):
                return self._send_json(404, {"error": {"message": "unknown route"}})
            reply = llm.next_reply(body)
            time.sleep(reply.delay)
            if isinstance(reply, Failure):
                error = {"error": {"message": reply.message, "type": "scripted", "code": None}}
                return self._send_json(reply.status, error, {"retry-after-ms": "10"})
            if body.get("stream"):
                return self._send_stream(body, reply)
            return self._send_json(200, _completion(body, reply))

        def _send_json(self, status: int, payload: dict, headers: dict | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in {"content-type": "application/json", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _send_stream(self, body: dict, reply: Reply) -> None:
            # Chunked, so the connection stays open for the next call, as a real server's does.
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            events = [f"data: {json.dumps(chunk)}\n\n" for chunk in _stream_chunks(body, reply)]
            try:
                for event in [*events, "data: [DONE]\n\n"]:
                    data = event.encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                # A client that stops reading early (a stop button, a benchmark) is not an error.
                self.close_connection = True

    return Handler


def _envelope(body: dict, obj: str) -> dict:
    return {
        "id": "chatcmpl-scripted",
        "object": obj,
        "created": int(time.time()),
        "model": body.get("model") or "scripted",
    }


def _usage() -> dict:
    return {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def _completion(body: dict, reply: Reply) -> dict:
    message: dict = {"role": "assistant", "content": None}
    if isinstance(reply, Text):
        message["content"] = reply.content
    else:
        message["tool_calls"] = [_tool_call_json(reply)]
    finish = "stop" if isinstance(reply, Text) else "tool_calls"
    choice = {"index": 0, "message": message, "finish_reason": finish}
    return {**_envelope(body, "chat.completion"), "choices": [choice], "usage": _usage()}


def _tool_call_json(call: ToolCall) -> dict:
    arguments = json.dumps(call.args)
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    }


def _stream_chunks(body: dict, reply: Reply):
    envelope = _envelope(body, "chat.completion.chunk")

    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {**envelope, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    yield chunk({"role": "assistant", "content": ""})
    if isinstance(reply, Text):
        for token in re.findall(r"\S+\s*|\s+", reply.content):
            yield chunk({"content": token})
        yield chunk({}, "stop")
    else:
        call = _tool_call_json(reply)
        head = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
        yield chunk({"tool_calls": [{"index": 0, **head}]})
        arguments = call["function"]["arguments"]
        for start in range(0, len(arguments), 8):
            piece = {"index": 0, "function": {"arguments": arguments[start : start + 8]}}
            yield chunk({"tool_calls": [piece]})
        yield chunk({}, "tool_calls")
    if (body.get("stream_options") or {}).get("include_usage"):
        yield {**envelope, "choices": [], "usage": _usage()}


# --- a small scripted "brain" that behaves like a sensible model for arithmetic --------------


def tool_names(body: dict) -> set[str]:
    return {tool["function"]["name"] for tool in body.get("tools") or []}


def last_user_text(body: dict) -> str:
    users = [m for m in body["messages"] if m["role"] == "user"]
    content = users[-1]["content"] if users else ""
    return content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)


def previous_number(body: dict) -> str | None:
    """The last number in an assistant answer or tool result before the last user message."""
    messages = body["messages"]
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    for message in reversed(messages[:last_user]):
        if message["role"] in ("assistant", "tool") and message.get("content"):
            numbers = re.findall(r"-?\d+(?:\.\d+)?", str(message["content"]))
            if numbers:
                return numbers[-1]
    return None


def arithmetic_brain(body: dict) -> Reply:
    """Routes arithmetic to Python, writes the code, then reports the tool's result."""
    text = last_user_text(body)
    previous = previous_number(body) if mentions_previous_result(text) else None
    expression = to_python_expression(text, previous)
    if "RouteDecision" in tool_names(body):
        return ToolCall("RouteDecision", {"route": "python" if expression else "chat"})
    if body["messages"][-1]["role"] == "tool":
        result = json.loads(body["messages"][-1]["content"]).get("result")
        return Text(f"The result is {result}.")
    if "Python_REPL" in tool_names(body) and expression:
        code = f"import math\nresult = {expression}\nresult"
        return ToolCall("Python_REPL", {"python_code": code})
    return Text("Hello from the scripted model: a plain answer without code.")
