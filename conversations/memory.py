"""The model's memory of each conversation: the whole message list, tool calls and results
included, kept by a LangGraph checkpointer under the conversation's `thread_id`.

A turn loads the list once and saves its own messages once. The agent runs on the loaded
list and has no checkpointer of its own: the one save, in one place, then also keeps a turn
that was stopped or failed half-way (its unanswered tool calls answered as stopped), and a
direct answer lands in the same thread as the agent's turns. Every save writes a checkpoint
holding the whole list, so older checkpoints of the thread are pruned.
"""

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Sequence

from langchain_core.messages import BaseMessage, HumanMessage, RemoveMessage, trim_messages
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph

from conversations.databases import close_checkpointer
from conversations.locks import SaveLocks

SAVE_NODE = "turn"


class Memory:
    """Load, bound, append to and forget a conversation's message list."""

    def __init__(
        self,
        open_saver: Callable[[], Awaitable[BaseCheckpointSaver]],
        max_tokens: int,
        save_locks: SaveLocks,
    ) -> None:
        self._open_saver = open_saver
        self.max_tokens = max_tokens
        self._saver: BaseCheckpointSaver | None = None
        self._graph: CompiledStateGraph | None = None
        # One save at a time per thread: a save reads the latest checkpoint and writes the next.
        # The asyncio lock orders this process's saves, `save_locks` those of all workers.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._save_locks = save_locks

    async def start(self) -> None:
        """Open the checkpointer (in the serving event loop) and make or migrate its tables."""
        self._saver = await self._open_saver()
        # A graph whose only job is to apply the messages reducer to saved turns.
        graph = StateGraph(MessagesState)
        graph.add_node(SAVE_NODE, lambda _state: {})
        graph.add_edge(START, SAVE_NODE)
        self._graph = graph.compile(checkpointer=self._saver)

    async def close(self) -> None:
        if self._saver is not None:
            await close_checkpointer(self._saver)

    @property
    def saver(self) -> BaseCheckpointSaver:
        if self._saver is None:
            raise RuntimeError("the conversation memory is not open yet (Memory.start)")
        return self._saver

    async def load(self, thread_id: str) -> list[BaseMessage]:
        """The thread's whole message list, oldest first; empty for a new conversation."""
        snapshot = await self._compiled().aget_state(_config(thread_id))
        return list(snapshot.values.get("messages", []))

    def bounded(self, messages: Sequence[BaseMessage]) -> list[BaseMessage]:
        """The latest whole turns that fit in HISTORY_MAX_TOKENS (LangChain's approximate
        count: characters / 4, tool calls included); what the model is shown."""
        return trim_messages(
            messages,
            max_tokens=self.max_tokens,
            token_counter=count_tokens_approximately,
            strategy="last",
            start_on="human",
        )

    async def append(
        self, thread_id: str, messages: Sequence[BaseMessage], replace_from: int | None = None
    ) -> None:
        """Add a turn's messages to the thread (a message with an id already there replaces it).
        With `replace_from`, that turn (counted from 0) and every later one are removed in the
        same write: the turn is answered again, or its message edited."""
        lock = self._locks.get(thread_id)
        if lock is None:
            lock = self._locks[thread_id] = asyncio.Lock()
        async with lock, self._save_locks.hold(thread_id):
            removed: list[BaseMessage] = []
            if replace_from is not None:
                kept = await self.load(thread_id)
                replaced = kept[turn_start(kept, replace_from) :]
                removed = [RemoveMessage(id=message.id) for message in replaced if message.id]
            update = {"messages": [*removed, *messages]}
            await self._compiled().aupdate_state(_config(thread_id), update, as_node=SAVE_NODE)
            await self.saver.aprune([thread_id], strategy="keep_latest")

    async def forget(self, thread_id: str) -> None:
        await self.saver.adelete_thread(thread_id)

    def _compiled(self) -> CompiledStateGraph:
        self.saver  # noqa: B018  (says clearly when start() was not called)
        assert self._graph is not None
        return self._graph


def turn_start(messages: Sequence[BaseMessage], turn: int) -> int:
    """Where turn number `turn` (from 0) begins: its user message; the end when there are
    fewer turns."""
    starts = [i for i, message in enumerate(messages) if isinstance(message, HumanMessage)]
    return starts[turn] if turn < len(starts) else len(messages)


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}
