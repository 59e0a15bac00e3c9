"""The routing chain: decide, then answer directly or through the code agent, streaming both."""

import asyncio
from collections.abc import AsyncIterator

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import Runnable, RunnableConfig, RunnableGenerator

from chains.output import ChatChunk
from conversations import Conversation, Conversations
from errors import ServiceError
from llms import model_errors

STOPPED_NOTE = " (stopped)"
TURN_TIMEOUT_NOTE = (
    "\n\n[Stopped: this turn took longer than {seconds:g} s (TURN_TIMEOUT_SECONDS); "
    "any code still running was interrupted. Ask again to continue.]"
)


def build_chat_chain(
    decider: Runnable,
    direct: Runnable,
    agent: Runnable,
    conversations: Conversations,
    history_messages: int = 20,
    model_retries: int = 2,
    turn_timeout: float = 120.0,
) -> RunnableGenerator:
    """Input {"message": str}; streams ChatChunks that add up to the /chat output.

    A turn longer than `turn_timeout` seconds ends with a note saying so; the code still
    running is interrupted by the Python tool, whose call the deadline cancels.
    """

    async def answer(inputs: AsyncIterator, config: RunnableConfig) -> AsyncIterator[ChatChunk]:
        message = _message_of([item async for item in inputs][-1])
        conversation = Conversation.from_config(config)
        history = _as_messages(await conversations.load(conversation, history_messages))
        total = ChatChunk()
        deadline = asyncio.get_running_loop().time() + turn_timeout
        try:
            with model_errors(model_retries):
                route = await _decide(decider, history, message, config)
                parts = ChatChunk(route=route, conversation_id=conversation.id, output="", steps=[])
                stream = (
                    _agent_chunks(agent, [*history, HumanMessage(message)], config)
                    if route == "python"
                    else _direct_chunks(direct, history, message, config)
                )
                async for chunk in _until(deadline, _prepend(parts, stream)):
                    total = total + chunk
                    yield chunk
            if deadline <= asyncio.get_running_loop().time():
                note = ChatChunk(output=TURN_TIMEOUT_NOTE.format(seconds=turn_timeout))
                total = total + note
                yield note
        except ServiceError as error:
            # Streams have already started: say what went wrong before the generic error event.
            yield ChatChunk(error={"status_code": error.status_code, "message": error.message})
            raise
        except (asyncio.CancelledError, GeneratorExit):
            # The client stopped the answer: keep what was said, without awaiting (we are
            # being cancelled), so the conversation reads the same after a reload.
            if "route" in total:
                conversations.save_turn(conversation, message, _stopped(total))
            raise
        await conversations.save_turn(conversation, message, total)

    return RunnableGenerator(answer, name="chat")


async def _until(deadline: float, stream: AsyncIterator[ChatChunk]) -> AsyncIterator[ChatChunk]:
    """The stream's chunks until the loop's clock reaches `deadline`, then no more."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            chunk = await asyncio.wait_for(anext(stream), deadline - loop.time())
        except StopAsyncIteration:
            return
        except TimeoutError:
            # wait_for has already cancelled the pending step, which ended the stream.
            await stream.aclose()
            return
        yield chunk


def _stopped(total: ChatChunk) -> ChatChunk:
    steps = [
        {**s, "status": "stopped"} if s.get("status") == "running" else s for s in total["steps"]
    ]
    return ChatChunk(total, output=f"{total['output']}{STOPPED_NOTE}", steps=steps)


def _message_of(payload) -> str:
    return payload["message"] if isinstance(payload, dict) else payload.message


def _as_messages(history: list[dict]) -> list[BaseMessage]:
    kinds = {"user": HumanMessage, "assistant": AIMessage}
    return [kinds[item["role"]](content=item["content"]) for item in history]


async def _decide(decider: Runnable, history, message: str, config: RunnableConfig) -> str:
    try:
        decision = await decider.ainvoke({"history": history, "message": message}, config)
    except OutputParserException:
        # A model that cannot fill the schema can still answer in words.
        return "chat"
    return decision.route if decision else "chat"


async def _prepend(first: ChatChunk, rest: AsyncIterator[ChatChunk]) -> AsyncIterator[ChatChunk]:
    yield first
    async for chunk in rest:
        yield chunk


async def _direct_chunks(direct: Runnable, history, message: str, config) -> AsyncIterator:
    async for token in direct.astream({"history": history, "message": message}, config):
        if token:
            yield ChatChunk(output=token)


async def _agent_chunks(agent: Runnable, messages, config) -> AsyncIterator[ChatChunk]:
    """Answer tokens as the model writes them; each step when called and when it returns."""
    indexes: dict[str, int] = {}
    stream = agent.astream({"messages": messages}, config, stream_mode=["messages", "updates"])
    async for mode, data in stream:
        if mode == "messages":
            token, meta = data
            from_model = meta.get("langgraph_node") == "model"
            if from_model and isinstance(token, AIMessage) and token.text:
                yield ChatChunk(output=token.text)
            continue
        for node, update in data.items():
            for message in (update or {}).get("messages", []):
                if node != "model" and _is_answer(message):
                    # A middleware (the tool-call limit) ended the turn with its own words.
                    yield ChatChunk(output=message.text)
                steps = _step_updates(message, indexes)
                if steps:
                    yield ChatChunk(steps=steps)


def _is_answer(message: BaseMessage) -> bool:
    return isinstance(message, AIMessage) and bool(message.text) and not message.tool_calls


def _step_updates(message: BaseMessage, indexes: dict[str, int]) -> list[dict]:
    if isinstance(message, AIMessage):
        steps = []
        for call in message.tool_calls:
            indexes[call["id"]] = len(indexes)
            code = call["args"].get("python_code", "")
            steps.append({"index": indexes[call["id"]], "code": code, "status": "running"})
        return steps
    if isinstance(message, ToolMessage) and message.tool_call_id in indexes:
        index = indexes[message.tool_call_id]
        if isinstance(message.artifact, dict):
            return [{"index": index, **message.artifact}]
        # No artifact: the tool call itself was rejected (for example, malformed arguments).
        return [{"index": index, "status": "Failure", "stderr": message.text}]
    return []
