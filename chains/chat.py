"""The routing chain: decide, then stream a direct answer or the code agent's, then save."""

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, message_chunk_to_message
from langchain_core.runnables import Runnable, RunnableConfig, RunnableGenerator

from chains.direct import direct_messages
from chains.output import ChatChunk
from chains.router import route_messages, route_of
from chains.turn import Turn
from conversations import Conversation, Conversations
from errors import ServiceError
from llms import model_errors

TURN_TIMEOUT_NOTE = (
    "\n\n[Stopped: this turn took longer than {seconds:g} s (TURN_TIMEOUT_SECONDS); "
    "any code still running was interrupted. Ask again to continue.]"
)


def build_chat_chain(
    decider: Runnable,
    llm: BaseChatModel,
    agent: Runnable,
    conversations: Conversations,
    model_retries: int = 2,
    turn_timeout: float = 120.0,
) -> RunnableGenerator:
    """Input {"message": str}; streams ChatChunks that add up to the /chat output.

    Per turn: one history load, one decision (`decider`, from `build_route_decider`), one
    stream (the direct answer from `llm`, or the agent's), one save. The save runs however
    the turn ends: done, failed, stopped by the client, or cut at `turn_timeout` seconds
    (the Python tool interrupts code whose call is cancelled). The models are called with
    their messages, not through prompt-template sequences: a sequence adds runs, callbacks
    and a task per streamed chunk to every turn.
    """

    async def chat(inputs: AsyncIterator[Any], config: RunnableConfig) -> AsyncIterator[ChatChunk]:
        turn = _turn_of([item async for item in inputs][-1])
        conversation = Conversation.from_config(config)
        history = await conversations.load(conversation, turn.replace_from)
        deadline = asyncio.get_running_loop().time() + turn_timeout
        try:
            with model_errors(model_retries):
                turn.route = route_of(
                    await decider.ainvoke(route_messages(history, turn.question), config)
                )
                yield ChatChunk(
                    route=turn.route, conversation_id=conversation.id, output="", steps=[]
                )
                if turn.route == "python":
                    stream = _agent_stream(agent, [*history, turn.question], config)
                else:
                    stream = _direct_stream(llm, direct_messages(history, turn.question), config)
                async with aclosing(turn.follow(_until(deadline, stream))) as chunks:
                    async for chunk in chunks:
                        yield chunk
            if deadline <= asyncio.get_running_loop().time():
                stopped = turn.unfinished_steps()
                if stopped:
                    yield stopped
                yield turn.say(TURN_TIMEOUT_NOTE.format(seconds=turn_timeout))
        except ServiceError as error:
            # The stream has started: say what went wrong before the generic error event.
            turn.error = {"status_code": error.status_code, "message": error.message}
            yield ChatChunk(error=turn.error)
            raise
        except (asyncio.CancelledError, GeneratorExit):
            turn.stopped = True  # the client went away: a stop button, a closed tab
            raise
        finally:
            await conversations.save(conversation, turn.messages(), turn.replace_from)

    # RunnableGenerator passes the config to a function that takes one (its stubs omit it).
    return RunnableGenerator(chat, name="chat")  # type: ignore[arg-type]


async def _until(deadline: float, stream: AsyncGenerator) -> AsyncGenerator:
    """The stream's items until the loop's clock reaches `deadline`, then no more.

    Each step runs in a task of its own (`wait_for`). Run in the request's own task under
    `asyncio.timeout_at`, it would save a task per chunk, but a dropped stream then left its
    code running (tests/service/test_conversations.py, the dropped stream).
    """
    loop = asyncio.get_running_loop()
    while True:
        try:
            item = await asyncio.wait_for(anext(stream), deadline - loop.time())
        except StopAsyncIteration:
            return
        except TimeoutError:
            # wait_for has cancelled the pending step (and its code); end the stream.
            await stream.aclose()
            return
        try:
            yield item
        except GeneratorExit:
            # Closed while the stream waits for us (never while its step is still running,
            # which a cancellation ends on its own).
            await stream.aclose()
            raise


def _turn_of(payload: Any) -> Turn:
    fields = payload if isinstance(payload, dict) else payload.model_dump()
    return Turn(fields["message"], fields.get("replace_turn"))


async def _direct_stream(
    llm: BaseChatModel, messages: list[BaseMessage], config: RunnableConfig
) -> AsyncGenerator[ChatChunk | BaseMessage, None]:
    """The answer's tokens, then the answer as one message."""
    chunks = []
    stream = cast(AsyncGenerator, llm.astream(messages, config))
    async with aclosing(stream):
        async for chunk in stream:
            chunks.append(chunk)
            if chunk.text:
                yield ChatChunk(output=chunk.text)
    if chunks:
        # Merged once at the end (a chunk plus a list of chunks), not into a new message per token.
        yield message_chunk_to_message(chunks[0] + chunks[1:])


def agent_chunks(
    agent: Runnable, messages: list[BaseMessage], config: RunnableConfig
) -> AsyncIterator[ChatChunk]:
    """The agent's turn on `messages` as ChatChunks, as the chain streams its python route
    (answer tokens, each step when called and when it returns), with no memory: /v1's
    `code-agent` model, whose client holds the conversation."""
    return Turn(messages[-1].text).follow(_agent_stream(agent, messages, config))


async def _agent_stream(
    agent: Runnable, messages: list[BaseMessage], config: RunnableConfig
) -> AsyncGenerator[ChatChunk | BaseMessage, None]:
    """The answer's tokens as the model writes them, and each message once it is finished."""
    modes = ["messages", "updates"]
    stream = cast(AsyncGenerator, agent.astream({"messages": messages}, config, stream_mode=modes))
    async with aclosing(stream):
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
                    yield message


def _is_answer(message: BaseMessage) -> bool:
    return isinstance(message, AIMessage) and bool(message.text) and not message.tool_calls
