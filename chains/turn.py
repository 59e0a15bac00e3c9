"""One turn as it happens: the chunks sent to the client, and the messages kept afterwards."""

from collections.abc import AsyncGenerator
from contextlib import aclosing

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from chains.output import ChatChunk
from conversations.transcript import answer, mark_answer, step_updates, stopped_result

STOPPED_NOTE = " (stopped)"


class Turn:
    """Follows a route's stream (answer chunks and finished messages) and says, at any moment
    (done, stopped, failed, out of time), which messages the turn leaves in the memory."""

    def __init__(self, message: str, replace_from: int | None = None) -> None:
        self.question = HumanMessage(message)
        self.replace_from = replace_from  # the earlier turn this one replaces, if any
        self.route: str | None = None
        self.stopped = False
        self.error: dict | None = None
        self._messages: list[BaseMessage] = []
        self._unsaid = ""  # answer text sent since the last finished AI message
        self._steps: dict[str, int] = {}  # tool call id -> step index

    async def follow(
        self, stream: AsyncGenerator[ChatChunk | BaseMessage, None]
    ) -> AsyncGenerator[ChatChunk, None]:
        """The client's chunks: the stream's own, and the steps its messages start or end."""
        async with aclosing(stream):
            async for item in stream:
                if isinstance(item, BaseMessage):
                    self._messages.append(item)
                    if isinstance(item, AIMessage):
                        self._unsaid = ""
                    steps = step_updates(item, self._steps)
                    if steps:
                        yield ChatChunk(steps=steps)
                else:
                    self._unsaid += item.get("output", "")
                    yield item

    def say(self, text: str) -> ChatChunk:
        """A note of the service's own, sent and kept as part of the answer."""
        self._unsaid += text
        return ChatChunk(output=text)

    def unfinished_steps(self) -> ChatChunk | None:
        """The steps still running, now marked stopped (their code is interrupted)."""
        stopped = [{"index": self._steps[i], "status": "stopped"} for i in self._unanswered()]
        return ChatChunk(steps=stopped) if stopped else None

    def messages(self) -> list[BaseMessage]:
        """The turn to keep: the question, what the route finished, a stopped result for each
        call left unanswered, and the answer marked with the route (and error, if any)."""
        closing = [stopped_result(call_id) for call_id in self._unanswered()]
        kept = [self.question, *self._messages, *closing]
        text = self._unsaid + (STOPPED_NOTE if self.stopped else "")
        last = kept[-1]
        if text or closing or self.error or not isinstance(last, AIMessage):
            return [*kept, answer(text, self.route, self.error)]
        return [*kept[:-1], mark_answer(last, self.route)]

    def _unanswered(self) -> list[str]:
        answered = {m.tool_call_id for m in self._messages if isinstance(m, ToolMessage)}
        return [call_id for call_id in self._steps if call_id not in answered]
