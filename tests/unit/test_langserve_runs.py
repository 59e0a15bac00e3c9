"""What LangServe's routes pass to the published runnable: the caller's handlers reach the
run; LangServe's own recorder of callback events (read only with `include_callback_events`,
which the service leaves off) does not, so that no streamed token schedules a task for it."""

from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.runnables import RunnableLambda
from langserve.callbacks import AsyncEventAggregatorCallback

from tests.support.aio import run_async


class Starts(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.names: list[str] = []

    async def on_chain_start(self, serialized, inputs, *, name=None, **kwargs) -> None:
        self.names.append(name)


def _published():
    from server import WithConversationId

    return WithConversationId(bound=RunnableLambda(lambda text: text.upper(), name="shout"))


def test_invoke_runs_without_langserves_event_recorder():
    recorder, starts = AsyncEventAggregatorCallback(), Starts()
    callbacks = [recorder, starts]

    output = run_async(_published().ainvoke("hi", {"callbacks": callbacks}))

    assert output == "HI"
    assert starts.names == ["shout"]
    assert recorder.callback_events == []
    assert callbacks == [recorder, starts]  # the caller's config is left as it was


def test_batch_runs_without_langserves_event_recorder():
    recorders, starts = [AsyncEventAggregatorCallback(), AsyncEventAggregatorCallback()], Starts()
    configs = [{"callbacks": [recorder, starts]} for recorder in recorders]

    outputs = run_async(_published().abatch(["a", "b"], configs))

    assert outputs == ["A", "B"]
    assert starts.names == ["shout", "shout"]
    assert [r.callback_events for r in recorders] == [[], []]
